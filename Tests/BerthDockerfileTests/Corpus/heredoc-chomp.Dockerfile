FROM busybox
RUN <<-EOT
	echo one
		echo two
	EOT
