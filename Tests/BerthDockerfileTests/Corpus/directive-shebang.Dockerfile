#!/usr/bin/env buildctl-daemonless.sh
# syntax=docker/dockerfile:1
FROM busybox
