FROM busybox AS app
COPY --from=app /a /b
