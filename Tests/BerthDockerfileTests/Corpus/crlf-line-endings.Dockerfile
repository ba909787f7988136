FROM busybox
RUN echo one \
    two
CMD ["x"]
