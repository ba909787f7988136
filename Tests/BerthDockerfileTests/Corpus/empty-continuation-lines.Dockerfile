FROM busybox
RUN echo one \

    two \
	
    three
