FROM busybox
RUN 3<<EOF cat /dev/fd/3
via fd three
EOF
