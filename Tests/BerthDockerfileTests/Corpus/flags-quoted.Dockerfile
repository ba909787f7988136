FROM busybox
COPY --chown="app user" a b
COPY --chmod='0755' \
     --from=stage\ one c d
