#!/usr/bin/env bash
# Entrypoint for the pgdock test images of PostgreSQL. It follows the contract of the official
# `postgres` image so that what passes against these images works against `postgres:<major>`:
# POSTGRES_PASSWORD(_FILE), POSTGRES_USER(_FILE), POSTGRES_DB(_FILE), POSTGRES_INITDB_ARGS(_FILE)
# (shell-evaluated), POSTGRES_INITDB_WALDIR, POSTGRES_HOST_AUTH_METHOD, /docker-entrypoint-initdb.d
# (*.sh run or sourced, *.sql, *.sql.gz, *.sql.xz, *.sql.zst), initdb only when PGDATA has no
# PG_VERSION, the server's options also given to the temporary init server, the 18+ data layout
# check, `postgres --help/-V` without initializing, then `exec postgres "$@"` as postgres.
# Deliberate idioms shared with the official entrypoint: `VAR= cmd` clears a variable for one
# command (SC1007, SC2097, SC2098); waldir is used inside eval and psql by sourced init scripts
# (SC2034); init scripts are sourced by name (SC1090); "$BASH_SOURCE" is this script (SC2128).
# shellcheck disable=SC1007,SC2034,SC2097,SC2098,SC1090,SC2128
set -Eeo pipefail

# file_env VAR [DEFAULT]: VAR from $VAR or from the file named by $VAR_FILE (never both)
file_env() {
	local var="$1" fileVar="${1}_FILE" def="${2:-}"
	if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
		printf >&2 'error: both %s and %s are set (but are exclusive)\n' "$var" "$fileVar"
		exit 1
	fi
	local val="$def"
	if [ "${!var:-}" ]; then
		val="${!var}"
	elif [ "${!fileVar:-}" ]; then
		val="$(< "${!fileVar}")"
	fi
	export "$var"="$val"
	unset "$fileVar"
}

# true when the server options only ask for help or the version (nothing to set up)
wants_help() {
	local arg
	for arg; do
		case "$arg" in
			-'?' | --help | --describe-config | -V | --version) return 0 ;;
		esac
	done
	return 1
}

# Settings from the environment. Called first as root (when started as root), so that *_FILE
# secrets readable by root only work, as with the official image; the values reach the
# unprivileged re-execution through the exported variables.
setup_env() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=}"
	DATABASE_EXISTS=
	if [ -s "$PGDATA/PG_VERSION" ]; then
		DATABASE_EXISTS=yes
	fi
}

setup_dirs() {
	mkdir -p "$PGDATA"
	chmod 00700 "$PGDATA" || :
	mkdir -p /var/run/postgresql || :
	chmod 03775 /var/run/postgresql || :
	if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
		mkdir -p "$POSTGRES_INITDB_WALDIR"
		[ "$(id -u)" != 0 ] || find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres '{}' +
		chmod 700 "$POSTGRES_INITDB_WALDIR"
	fi
	if [ "$(id -u)" = 0 ]; then
		find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
		find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
	fi
}

require_password() {
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		cat >&2 <<-'EOM'
			Error: Database is uninitialized and superuser password is not specified.
			       Set POSTGRES_PASSWORD (better: POSTGRES_PASSWORD_FILE) to a non-empty value,
			       or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a password.
		EOM
		exit 1
	fi
	if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
		echo >&2 'WARNING: POSTGRES_HOST_AUTH_METHOD=trust: anyone who reaches the port gets in without a password.'
	fi
}

is_mountpoint() {
	local _ mnt
	while read -r _ _ _ _ mnt _; do
		[ "$mnt" != "$1" ] || return 0
	done < /proc/self/mountinfo
	return 1
}

# 18+ keeps data in /var/lib/postgresql/MAJOR/docker under one volume at /var/lib/postgresql.
# Before a new cluster is created there (default PGDATA only), refuse when a cluster of another
# layout or major is present, or when something is mounted at the pre-18 path, as the official
# image does: it would otherwise be silently ignored.
refuse_old_layout() {
	[ "$PGDATA" = "/var/lib/postgresql/$PG_MAJOR/docker" ] || return 0
	local found=() dir
	for dir in /var/lib/postgresql /var/lib/postgresql/data /var/lib/postgresql/*/docker; do
		if [ -s "$dir/PG_VERSION" ]; then
			found+=("$dir")
		fi
	done
	if [ ${#found[@]} -eq 0 ] && [ "$PG_MAJOR" -ge 18 ] && is_mountpoint /var/lib/postgresql/data; then
		found+=("/var/lib/postgresql/data (unused mount/volume)")
	fi
	[ ${#found[@]} -gt 0 ] || return 0
	{
		echo "Error: in 18+, these images store the data in /var/lib/postgresql/$PG_MAJOR/docker"
		echo "       (PGDATA) and expect a single volume at /var/lib/postgresql. Counter to that,"
		echo "       there appears to be PostgreSQL data in:"
		printf '         %s\n' "${found[@]}"
		echo "       This usually comes from a newer image on a volume of an older one: upgrade"
		echo "       the data with pg_upgrade into a volume at /var/lib/postgresql, or keep the"
		echo "       pre-18 layout by setting PGDATA=/var/lib/postgresql/data explicitly."
	} >&2
	exit 1
}

# initdb with POSTGRES_INITDB_ARGS evaluated by the shell (quoted values work, as in the official
# image); the password goes through a pipe, never through argv or initdb's environment
init_cluster() {
	local waldir=()
	if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
		waldir=(--waldir "$POSTGRES_INITDB_WALDIR")
	fi
	eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") "${waldir[@]}" '"$POSTGRES_INITDB_ARGS"
}

# host connections from anywhere: POSTGRES_HOST_AUTH_METHOD, or the server's password_encryption
setup_hba() {
	local method="$POSTGRES_HOST_AUTH_METHOD"
	if [ -z "$method" ]; then
		method="$(postgres -C password_encryption "$@")"
	fi
	printf '\nhost all all all %s\n' "$method" >> "$PGDATA/pg_hba.conf"
}

# the temporary server: the container's server options, but on the Unix socket only
temp_server_start() {
	NOTIFY_SOCKET= PGUSER="${PGUSER:-$POSTGRES_USER}" \
		pg_ctl -D "$PGDATA" -w start \
		-o "$(printf '%q ' "$@" -c listen_addresses= -p "${PGPORT:-5432}")"
}

temp_server_stop() {
	PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -m fast -w stop
}

# docker_process_sql [psql options]: SQL (from -f, -c or stdin) as POSTGRES_USER in POSTGRES_DB.
# Same name as in the official entrypoint: sourced init scripts may call it.
docker_process_sql() {
	local cmd=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
	if [ -n "$POSTGRES_DB" ]; then
		cmd+=(--dbname "$POSTGRES_DB")
	fi
	PGHOST= PGHOSTADDR= "${cmd[@]}" "$@"
}

create_database() {
	local exists
	exists="$(POSTGRES_DB= docker_process_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only \
		<<< "SELECT 1 FROM pg_database WHERE datname = :'db' ;")"
	if [ -z "$exists" ]; then
		POSTGRES_DB= docker_process_sql --dbname postgres --set db="$POSTGRES_DB" \
			<<< 'CREATE DATABASE :"db" ;'
	fi
}

run_init_files() {
	# for older sourced scripts that use "${psql[@]}"
	psql=(docker_process_sql)
	local f
	for f; do
		[ -e "$f" ] || continue
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					echo "$0: running $f"; "$f"
				else
					echo "$0: sourcing $f"; . "$f"
				fi ;;
			*.sql) echo "$0: running $f"; docker_process_sql -f "$f" ;;
			*.sql.gz) echo "$0: running $f"; gunzip -c "$f" | docker_process_sql ;;
			*.sql.xz) echo "$0: running $f"; xzcat "$f" | docker_process_sql ;;
			*.sql.zst) echo "$0: running $f"; zstd -dc "$f" | docker_process_sql ;;
			*) echo "$0: ignoring $f" ;;
		esac
	done
}

# init_database SERVER-OPTIONS...
init_database() {
	init_cluster
	setup_hba "$@"
	export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
	temp_server_start "$@"
	create_database
	run_init_files /docker-entrypoint-initdb.d/*
	temp_server_stop
	unset PGPASSWORD
	echo
	echo 'PostgreSQL init process complete; ready for start up.'
	echo
}

main() {
	if [ "${1:0:1}" = '-' ]; then
		set -- postgres "$@"
	fi
	if [ "$1" = postgres ] && ! wants_help "$@"; then
		setup_env
		setup_dirs
		if [ "$(id -u)" = 0 ]; then
			exec gosu postgres "$BASH_SOURCE" "$@"
		fi
		if [ -z "$DATABASE_EXISTS" ]; then
			require_password
			refuse_old_layout
			# unreadable init scripts fail here, before a half-initialized cluster exists
			ls /docker-entrypoint-initdb.d/ > /dev/null
			init_database "${@:2}"
		else
			echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
		fi
		unset POSTGRES_PASSWORD
	fi
	exec "$@"
}

main "$@"
