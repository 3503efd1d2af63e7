#!/usr/bin/env bash
# Entrypoint for the pgdock test images of PostgreSQL. It follows the contract of the official
# `postgres` image so that what passes against these images works against `postgres:<major>`:
# POSTGRES_PASSWORD(_FILE), POSTGRES_USER(_FILE), POSTGRES_DB(_FILE), POSTGRES_INITDB_ARGS,
# POSTGRES_INITDB_WALDIR, POSTGRES_HOST_AUTH_METHOD, /docker-entrypoint-initdb.d (*.sh, *.sql,
# *.sql.gz), initdb only when PGDATA has no PG_VERSION, then `exec postgres "$@"` as postgres.
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

# the official 18+ images keep data in /var/lib/postgresql/MAJOR/docker; refuse an old-layout mount
check_layout() {
	if [ "$PG_MAJOR" -ge 18 ] && [ "$PGDATA" != /var/lib/postgresql/data ] \
		&& [ -s /var/lib/postgresql/data/PG_VERSION ]; then
		cat >&2 <<-EOM
			Error: in 18+, these images store data in /var/lib/postgresql/$PG_MAJOR/docker
			       (PGDATA=$PGDATA) and expect the volume at /var/lib/postgresql;
			       there is PostgreSQL data in /var/lib/postgresql/data (an old-layout mount).
			       Mount the volume at /var/lib/postgresql and upgrade with pg_upgrade, or keep
			       the old layout by setting PGDATA=/var/lib/postgresql/data explicitly.
		EOM
		exit 1
	fi
}

setup_dirs() {
	mkdir -p "$PGDATA"
	chmod 00700 "$PGDATA" || :
	mkdir -p /var/run/postgresql
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

init_database() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=}"
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		cat >&2 <<-'EOM'
			Error: Database is uninitialized and superuser password is not specified.
			       Set POSTGRES_PASSWORD (better: POSTGRES_PASSWORD_FILE) to a non-empty value,
			       or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a password.
		EOM
		exit 1
	fi
	if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
		set -- --waldir "$POSTGRES_INITDB_WALDIR" "$@"
	fi
	# the password goes through a pipe, never through argv or the environment of initdb
	# shellcheck disable=SC2086
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
		$POSTGRES_INITDB_ARGS "$@"

	local auth="$POSTGRES_HOST_AUTH_METHOD"
	if [ -z "$auth" ]; then
		auth="$(postgres -C password_encryption -D "$PGDATA" 2>/dev/null || echo scram-sha-256)"
	fi
	printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"

	# temporary server on the socket only, for POSTGRES_DB and the init scripts
	PGUSER="$POSTGRES_USER" PGPASSWORD="$POSTGRES_PASSWORD" \
		pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
	export PGPASSWORD="$POSTGRES_PASSWORD"
	local psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
	if [ "$POSTGRES_DB" != postgres ]; then
		"${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
	fi
	psql+=(--dbname "$POSTGRES_DB")
	local f
	for f in /docker-entrypoint-initdb.d/*; do
		[ -e "$f" ] || continue
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then echo "$0: running $f"; "$f"
				else echo "$0: sourcing $f"; . "$f"; fi ;;
			*.sql) echo "$0: running $f"; "${psql[@]}" -f "$f" ;;
			*.sql.gz) echo "$0: running $f"; gunzip -c "$f" | "${psql[@]}" ;;
			*) echo "$0: ignoring $f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop
	unset PGPASSWORD
	echo
	echo 'PostgreSQL init process complete; ready for start up.'
	echo
}

main() {
	if [ "${1:0:1}" = '-' ]; then
		set -- postgres "$@"
	fi
	if [ "$1" = postgres ]; then
		check_layout
		setup_dirs
		if [ "$(id -u)" = 0 ]; then
			exec gosu postgres "$BASH_SOURCE" "$@"
		fi
		if [ ! -s "$PGDATA/PG_VERSION" ]; then
			init_database
		else
			echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
		fi
		unset POSTGRES_PASSWORD
	fi
	exec "$@"
}

main "$@"
