FROM busybox
RUN apt-get update && \
# install curl
    apt-get install -y curl && \
  # and tidy up
    rm -rf /var/lib/apt/lists/*
