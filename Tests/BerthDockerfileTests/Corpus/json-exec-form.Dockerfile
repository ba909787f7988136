FROM busybox
RUN ["/bin/sh", "-c", "echo hi"]
CMD ["/app", "--port", "8080"]
ENTRYPOINT  [ "tini", "--" ]
CMD []
