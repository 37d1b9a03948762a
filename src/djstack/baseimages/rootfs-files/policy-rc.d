#!/bin/sh
# djstack: no daemons are started by package scripts inside container images.
# invoke-rc.d consults /usr/sbin/policy-rc.d: exit 101 means "action forbidden", so postinst
# scripts (mariadb, nginx, redis) do not try to start their daemon during `docker build`. The
# official Debian images ship the same file.
exit 101
