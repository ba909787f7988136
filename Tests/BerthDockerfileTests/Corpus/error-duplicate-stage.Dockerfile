FROM busybox AS build
FROM alpine AS Build
