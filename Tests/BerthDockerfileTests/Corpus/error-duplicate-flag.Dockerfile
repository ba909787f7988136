FROM busybox
COPY --chown=a --chown=b x y
