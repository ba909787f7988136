FROM busybox
RUN --chown=1 echo
