FROM busybox
RUN echo trailing \
