FROM busybox AS one
COPY --from=two /a /a
FROM busybox AS two
COPY --from=one /b /b
