FROM busybox
CMD ["a", 'b']
ENTRYPOINT [ "a" ] trailing
RUN [not json
CMD ["unterminated"
