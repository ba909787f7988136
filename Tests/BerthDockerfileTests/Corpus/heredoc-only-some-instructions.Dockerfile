FROM busybox
LABEL text=<<EOF
ENV NOT=<<EOF
RUN ["cat", "<<EOF"]
CMD cat <<EOF
