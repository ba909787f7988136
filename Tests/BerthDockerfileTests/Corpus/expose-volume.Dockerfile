FROM busybox
EXPOSE 80 443/tcp 53/udp
EXPOSE 8000-8010
VOLUME ["/data", "/logs"]
VOLUME /var/lib/a /var/lib/b
