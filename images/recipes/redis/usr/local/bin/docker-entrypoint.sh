#!/bin/sh
# The redis image's entrypoint, as Docker Hub's behaves:
# - options alone (`--port 7000`, `/etc/redis.conf`) mean redis-server with those options;
# - protected mode is off unless asked for (the original compiles it off), so that other pods
#   reach redis without a password, as the seed's ambassador example needs;
# - started as root, redis-server runs as user redis, owning its working directory (/data).
set -e
case "$1" in
    -* | *.conf) set -- redis-server "$@" ;;
esac
if [ "$1" = redis-server ]; then
    case " $* " in
        *" --protected-mode "*) ;;
        *) set -- "$@" --protected-mode no ;;
    esac
    if [ "$(id -u)" = 0 ]; then
        find . ! -user redis -exec chown redis '{}' +
        umask 0077
        # busybox su: the words after `--` are $0 and $@ of the -c command.
        exec su -p -s /bin/sh redis -c 'exec "$0" "$@"' -- "$@"
    fi
fi
exec "$@"
