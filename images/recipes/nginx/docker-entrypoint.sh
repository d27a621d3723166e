#!/bin/sh
# The nginx image's entrypoint: before nginx starts, run the executable *.sh scripts found in
# /docker-entrypoint.d (a ConfigMap mounted there, say), in name order, as Docker Hub's image
# does; then become the command.
set -e
if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
    for script in /docker-entrypoint.d/*.sh; do
        if [ -x "$script" ]; then
            echo "$0: running $script"
            "$script"
        fi
    done
fi
exec "$@"
