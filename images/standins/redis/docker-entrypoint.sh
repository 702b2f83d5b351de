#!/bin/sh
# Entry point of the redis stand-in, after the official image's:
# - `docker run redis --appendonly yes` (or a .conf file first) means `redis-server ...`;
# - started as root, redis-server runs as the redis user and /data is handed to redis first.
# Protected mode is off by default through /usr/local/bin/redis-server, as in the official image.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = "redis-server" ] && [ "$(id -u)" = "0" ]; then
  find . \! -user redis -exec chown redis '{}' + 2>/dev/null || true
  exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"
