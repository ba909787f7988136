FROM busybox
RUN --mount=type=volume,target=/x true
