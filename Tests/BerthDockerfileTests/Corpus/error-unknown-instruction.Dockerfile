FROM busybox
FOO bar
