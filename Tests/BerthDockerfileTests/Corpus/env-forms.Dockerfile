FROM busybox
ENV A=1 B="two words" C=three\ words
ENV LEGACY value with spaces
ENV EMPTY=""
ENV Q='single $quoted'
