FROM busybox
CMD ["sleep", 10]
