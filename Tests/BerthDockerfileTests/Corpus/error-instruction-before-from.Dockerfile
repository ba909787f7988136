ARG OK=1
RUN echo too early
FROM busybox
