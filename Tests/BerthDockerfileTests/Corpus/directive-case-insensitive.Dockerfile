#  ESCAPE = `
#Syntax=example/frontend
FROM busybox
RUN echo a `
    b
