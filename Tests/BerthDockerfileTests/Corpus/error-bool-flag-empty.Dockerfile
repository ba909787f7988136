FROM busybox
COPY --link= a b
