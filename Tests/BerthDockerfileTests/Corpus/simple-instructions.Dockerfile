FROM busybox
MAINTAINER Jane Doe <jane@example.com>
USER app:app
WORKDIR /home/app dir
STOPSIGNAL SIGTERM
