FROM busybox
COPY a <<EOF
body
EOF
