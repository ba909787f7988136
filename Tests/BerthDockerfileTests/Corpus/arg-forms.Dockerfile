ARG BASE=alpine
ARG TAG
FROM ${BASE}:${TAG:-latest}
ARG BASE
ARG A B=2 C="x y"
