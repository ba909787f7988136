# syntax=docker/dockerfile:1.7
# check=skip=JSONArgsRecommended,StageNameCasing;error=true
FROM alpine
CMD echo hi
