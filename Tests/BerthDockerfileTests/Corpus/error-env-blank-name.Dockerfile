FROM busybox
ENV A=1 =2
