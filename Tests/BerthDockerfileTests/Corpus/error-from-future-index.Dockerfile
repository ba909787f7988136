FROM busybox
COPY --from=1 /a /a
FROM busybox
