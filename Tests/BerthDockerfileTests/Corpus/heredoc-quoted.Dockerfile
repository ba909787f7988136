FROM busybox
RUN <<"EOF"
echo $NOT_EXPANDED
EOF
RUN <<'END'
echo $ALSO_LITERAL
END
RUN <<E"O"F
partly quoted
EOF
