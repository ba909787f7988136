FROM busybox
COPY <<EOF /etc/motd
Welcome
EOF
ADD --chmod=0755 <<EOF /usr/local/bin/hello
#!/bin/sh
echo hello
EOF
RUN python3 <<EOF > /out.txt
print("hi")
EOF
