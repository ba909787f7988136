FROM busybox
ENV FOO
