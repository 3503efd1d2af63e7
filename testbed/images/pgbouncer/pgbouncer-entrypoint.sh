#!/usr/bin/env bash
# Entrypoint for the pgdock PgBouncer test image: runs pgbouncer as the unprivileged postgres user
# (pgbouncer refuses to run as root) with the config file given as argument.
set -Eeo pipefail
if [ "${1:0:1}" = '-' ] || [ "${1%.ini}" != "$1" ]; then
	set -- pgbouncer "$@"
fi
if [ "$1" = pgbouncer ] && [ "$(id -u)" = 0 ]; then
	mkdir -p /var/run/pgbouncer /var/log/pgbouncer
	chown postgres:postgres /var/run/pgbouncer /var/log/pgbouncer
	exec gosu postgres "$@"
fi
exec "$@"
