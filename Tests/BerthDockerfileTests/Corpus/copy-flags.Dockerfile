FROM busybox
COPY --from=build --chown=1000:1000 --chmod=644 --link /src/a /src/b /dest/
COPY --parents --exclude=*.tmp --exclude=*.log ./x/ /y/
COPY --link=false ["with space.txt", "/dst/"]
