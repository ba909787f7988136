FROM busybox
COPY <<FILE1 <<FILE2 /dest/
first file
FILE1
second file
FILE2
RUN <<A cat && <<B cat
from a
A
from b
B
