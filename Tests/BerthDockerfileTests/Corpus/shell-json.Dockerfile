FROM busybox
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN echo uses bash
