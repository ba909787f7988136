FROM busybox
RUN echo hello # this stays in the command
ENV A=b#c
