#!/bin/sh
# The malexer/twemproxy entrypoint: unless /etc/nutcracker.conf exists already (an image built
# on this one, or a file mounted there), write it from the environment, then run the command.
#
# REDIS_SERVERS lists `host:port:weight` servers separated by commas, as the original reads it;
# blanks separate them too, because the seed's ambassador example writes
# `redis-st-0...:6379:1 redis-st-1...:6379:1`. A word without a colon is the name of the server
# before it (nutcracker's `host:port:weight name`).
set -ef
CONFIG=/etc/nutcracker.conf

servers() {
    server=""
    for word in $(echo "$REDIS_SERVERS" | tr ',' ' '); do
        case "$word" in
            *:*)
                if [ -n "$server" ]; then echo "    - $server"; fi
                server=$word
                ;;
            *) server="$server $word" ;;
        esac
    done
    if [ -n "$server" ]; then echo "    - $server"; fi
}

write_config() {
    cat > "$CONFIG" <<CONF
pool:
  listen: 0.0.0.0:${LISTEN_PORT}
  hash: fnv1a_64
  distribution: ketama
  redis: true
  auto_eject_hosts: ${AUTO_EJECT_HOSTS}
  timeout: ${TIMEOUT}
  server_retry_timeout: ${SERVER_RETRY_TIMEOUT}
  server_failure_limit: ${SERVER_FAILURE_LIMIT}
  server_connections: ${SERVER_CONNECTIONS}
  preconnect: ${PRECONNECT}
  servers:
$(servers)
CONF
}

if [ ! -e "$CONFIG" ]; then
    write_config
fi
exec "$@"
