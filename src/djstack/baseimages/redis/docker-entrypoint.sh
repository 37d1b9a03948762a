#!/bin/sh
# docker-entrypoint.sh - djstack's Redis image, behaving like the official redis image's entrypoint:
# `docker run IMAGE --option` runs redis-server with that option, and redis-server started as
# root runs as the redis user instead (after taking ownership of its data in /data).
set -e

# First argument an option, or a config file: the arguments are redis-server's.
case "$1" in
    -*|*.conf) set -- redis-server "$@" ;;
esac

# Data files readable by their owner only, unless a umask was chosen (official image's default).
if [ "$(umask)" = 0022 ]; then
    umask 0077
fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis:redis '{}' +
    # setpriv execs: redis-server stays PID 1 and receives docker stop's SIGTERM itself.
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

exec "$@"
