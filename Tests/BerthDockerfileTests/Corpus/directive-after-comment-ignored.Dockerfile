# a plain comment first
# escape=`
FROM busybox
RUN echo one \
    two
