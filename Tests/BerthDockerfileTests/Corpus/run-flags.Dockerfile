FROM busybox
RUN --mount=type=cache,target=/root/.cache,sharing=locked --mount=type=secret,id=token --network=none pip install .
RUN --security=insecure --mount=type=bind,from=build,source=/out,target=/in ls /in
