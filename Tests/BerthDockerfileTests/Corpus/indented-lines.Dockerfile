    FROM busybox
	# an indented comment
  RUN echo indented
   ENV X=1
