FROM busybox
COPY -- --not-a-flag /dest
