FROM busybox
ONBUILD RUN echo child build
ONBUILD COPY --from=builder /a /b
ONBUILD RUN <<EOF
echo heredoc trigger
EOF
