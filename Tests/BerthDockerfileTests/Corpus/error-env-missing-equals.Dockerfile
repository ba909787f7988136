FROM busybox
ENV A=b c
