ARG
FROM busybox
