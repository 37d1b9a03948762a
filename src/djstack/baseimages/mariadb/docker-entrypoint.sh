#!/bin/bash
# docker-entrypoint.sh - djstack's MariaDB image, behaving like the official mysql image's entrypoint.
#
# Environment (each also as NAME_FILE: the value is read from that file, e.g. a Docker secret):
#   MYSQL_ROOT_PASSWORD  required on first start: password of root@localhost and root@MYSQL_ROOT_HOST
#   MYSQL_ROOT_HOST      optional: the host root may also connect from: '%' (anywhere) by default,
#                          as in the official images; `localhost` leaves only root@localhost
#   MYSQL_DATABASE       optional: database created (utf8mb4) on first start
#   MYSQL_USER           optional: user created on first start, with ALL PRIVILEGES on
#   MYSQL_PASSWORD         MYSQL_DATABASE only (both required together)
#   MYSQL_INITDB_SKIP_TZINFO  optional: non-empty skips loading the time zone tables
#
# First start (datadir without a `mysql` system schema): initialise it, start a temporary server
# that listens only on its socket (--skip-networking, so a TCP health check cannot pass yet), set
# the accounts up, run /docker-entrypoint-initdb.d/*.sql, *.sql.gz and *.sh in sorted order
# (.sql.xz/.zst/.bz2 are refused: no such decompressor in the image), stop the temporary server.
# Every start then `exec`s the real server as the mysql user, as PID 1: SIGTERM from
# `docker stop` shuts it down cleanly. A first start that fails half-way leaves a marker file, and
# later starts refuse that datadir instead of running on a half-initialised one.
set -Eeo pipefail
shopt -s nullglob

# ---------------------------------------------------------------------------------- logging
mysql_log() {
    local type=$1; shift
    # Same shape as the official image's lines: "<time> 0 [Note] [Entrypoint]: ..."
    printf '%s 0 [%s] [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" "$type" "$*"
}
mysql_note() { mysql_log Note "$@"; }
mysql_warn() { mysql_log Warn "$@" >&2; }
mysql_error() { mysql_log ERROR "$@" >&2; exit 1; }

# file_env VAR [DEFAULT]: VAR from $VAR or from the file named by $VAR_FILE (not both).
file_env() {
    local var=$1 fileVar="${1}_FILE" def=${2:-}
    if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
        mysql_error "Both $var and $fileVar are set (but they are exclusive)"
    fi
    local val=$def
    if [ "${!var:-}" ]; then
        val=${!var}
    elif [ "${!fileVar:-}" ]; then
        [ -r "${!fileVar}" ] || mysql_error "$fileVar=${!fileVar}: file not found or not readable"
        val=$(< "${!fileVar}")   # trailing newlines are dropped, as in the official image
    fi
    export "$var"="$val"
    unset "$fileVar"
}

# ---------------------------------------------------------------------------------- helpers
# The server's effective value of a setting, given this command line (reads all config files).
mysql_get_config() {
    local conf=$1; shift
    "$@" --verbose --help 2>/dev/null | awk -v conf="$conf" '$1 == conf && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }'
}

# Escapes for SQL string literals ('...') and identifiers (`...`).
sql_escape_string() { local s=${1//\\/\\\\}; printf '%s' "${s//\'/\\\'}"; }
sql_escape_ident() { printf '%s' "${1//\`/\`\`}"; }

# Client option file with the root password, so it never appears on a command line or in an
# environment. A private temporary file: MariaDB's client refuses a pipe (`<(...)`) here. Option
# files unescape backslashes inside double quotes; quotes inside stay as they are.
mysql_passfile_create() {
    PASSFILE=$(mktemp)
    chmod 600 "$PASSFILE"
    printf '[client]\npassword="%s"\n' "${MYSQL_ROOT_PASSWORD//\\/\\\\}" > "$PASSFILE"
}

# docker_process_sql [--dont-use-mysql-root-password] [--database=NAME] [mariadb args...] < SQL
# (same name and use as in the official image, for *.sh init scripts that call it)
docker_process_sql() {
    local passfileArgs=()
    if [ "${1:-}" = '--dont-use-mysql-root-password' ]; then
        shift
    else
        passfileArgs=(--defaults-extra-file="$PASSFILE")
    fi
    # Default database: MYSQL_DATABASE, unless the caller names one (--database=...).
    if [[ "${1:-}" != --database=* ]] && [ -n "${MYSQL_DATABASE:-}" ]; then
        set -- --database="$MYSQL_DATABASE" "$@"
    fi
    mariadb "${passfileArgs[@]}" --protocol=socket --socket="$SOCKET" -uroot -hlocalhost \
        --comments --batch --skip-column-names "$@"
}

docker_temp_server_start() {
    # No networking: only this script, through the socket, can reach the server during setup.
    "$@" --skip-networking --socket="$SOCKET" --default-time-zone=SYSTEM \
        --skip-log-bin --expire-logs-days=0 --skip-slave-start --loose-wsrep-on=OFF \
        --loose-innodb-buffer-pool-load-at-startup=0 --loose-innodb-buffer-pool-dump-at-shutdown=0 &
    MYSQL_TEMP_PID=$!
    mysql_note "Waiting for the temporary server (pid $MYSQL_TEMP_PID)"
    local i
    for i in {60..0}; do
        if docker_process_sql --dont-use-mysql-root-password --database=mysql <<< 'SELECT 1' &> /dev/null; then
            break
        fi
        kill -0 "$MYSQL_TEMP_PID" 2>/dev/null || mysql_error "The temporary server failed to start (see above)"
        sleep 1
    done
    [ "$i" -gt 0 ] || mysql_error "The temporary server did not accept connections within 60 s"
}

docker_temp_server_stop() {
    # SIGTERM is a normal, clean shutdown; wait until the server has exited.
    kill -TERM "$MYSQL_TEMP_PID"
    wait "$MYSQL_TEMP_PID" || mysql_error "The temporary server did not shut down cleanly"
}

# ---------------------------------------------------------------------------------- first start
docker_verify_env() {
    if [ -z "$MYSQL_ROOT_PASSWORD" ]; then
        mysql_error $'Database is uninitialized and MYSQL_ROOT_PASSWORD is not set.\n\tSet MYSQL_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD_FILE) to the password for the root account.'
    fi
    if [ "$MYSQL_USER" = root ]; then
        mysql_error 'MYSQL_USER="root": MYSQL_USER and MYSQL_PASSWORD create a regular user; the root password is MYSQL_ROOT_PASSWORD.'
    fi
    if [ -n "$MYSQL_USER" ] && [ -z "$MYSQL_PASSWORD" ]; then
        mysql_error 'MYSQL_USER is set but MYSQL_PASSWORD is not: set both, or neither.'
    fi
    if [ -z "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
        mysql_warn 'MYSQL_PASSWORD is set but MYSQL_USER is not: no user is created.'
    fi
    if [ -n "$MYSQL_USER" ] && [ -z "$MYSQL_DATABASE" ]; then
        mysql_warn "MYSQL_USER is set without MYSQL_DATABASE: '$MYSQL_USER' gets no privileges."
    fi
}

docker_init_database_dir() {
    mysql_note "Initializing database files in $DATADIR"
    # --auth-root-authentication-method=normal: root authenticates by password (set below), not by
    # unix socket; no test database (other accounts are dropped in docker_setup_db). Its output
    # (advice for interactive installs) is shown only if it fails.
    local out
    if ! out=$(mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
        --skip-test-db --skip-name-resolve \
        --default-time-zone=SYSTEM --skip-log-bin --expire-logs-days=0 \
        --loose-innodb-buffer-pool-load-at-startup=0 --loose-innodb-buffer-pool-dump-at-shutdown=0 \
        "${@:2}" 2>&1); then
        printf '%s\n' "$out" >&2
        mysql_error "mariadb-install-db failed"
    fi
    mysql_note "Database files initialized"
}

docker_setup_db() {
    # Time zone tables, as the official image loads them (Django's date functions with time zones
    # need them). Warnings about files that are not zones are expected and dropped.
    if [ -z "${MYSQL_INITDB_SKIP_TZINFO:-}" ] && [ -d /usr/share/zoneinfo ]; then
        mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo 2>/dev/null \
            | docker_process_sql --dont-use-mysql-root-password --database=mysql
    fi

    local rootPass rootHost userPass db dbGrant user
    rootPass=$(sql_escape_string "$MYSQL_ROOT_PASSWORD")

    # Only root@localhost and the system account stay: drop whatever else install-db created
    # (root@127.0.0.1, root@::1, root@<hostname>, the unix-socket account of the OS user...).
    local drops
    drops=$(docker_process_sql --dont-use-mysql-root-password --database=mysql <<-'EOSQL'
		SELECT CONCAT('DROP USER ', QUOTE(User), '@', QUOTE(Host), ';') FROM mysql.user
		WHERE NOT (User = 'root' AND Host = 'localhost') AND User NOT IN ('mariadb.sys', 'mysql.sys');
	EOSQL
    )

    local createRoot='' createDb='' createUser=''
    # A second root account for the network, unless MYSQL_ROOT_HOST says none (as the official images do).
    if [ -n "$MYSQL_ROOT_HOST" ] && [ "$MYSQL_ROOT_HOST" != localhost ]; then
        rootHost=$(sql_escape_string "$MYSQL_ROOT_HOST")
        mysql_note "Creating user root@$MYSQL_ROOT_HOST"
        createRoot="CREATE USER 'root'@'$rootHost' IDENTIFIED BY '$rootPass';"
        createRoot+=" GRANT ALL ON *.* TO 'root'@'$rootHost' WITH GRANT OPTION;"
        createRoot+=" GRANT PROXY ON ''@'%' TO 'root'@'$rootHost' WITH GRANT OPTION;"
    fi
    if [ -n "$MYSQL_DATABASE" ]; then
        db=$(sql_escape_ident "$MYSQL_DATABASE")
        mysql_note "Creating database $MYSQL_DATABASE"
        createDb="CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4;"
    fi
    if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
        user=$(sql_escape_string "$MYSQL_USER")
        userPass=$(sql_escape_string "$MYSQL_PASSWORD")
        mysql_note "Creating user $MYSQL_USER"
        createUser="CREATE USER '$user'@'%' IDENTIFIED BY '$userPass';"
        if [ -n "$MYSQL_DATABASE" ]; then
            # In GRANT, _ and % in a database name are wildcards: escape them, or a grant on
            # my_db would also cover myXdb (the official image does the same).
            dbGrant=${db//_/\\_}; dbGrant=${dbGrant//%/\\%}
            mysql_note "Giving user $MYSQL_USER access to schema $MYSQL_DATABASE"
            createUser+=" GRANT ALL PRIVILEGES ON \`$dbGrant\`.* TO '$user'@'%';"
        fi
    fi

    # Account changes are not replicated; backslash escapes in literals must be on.
    docker_process_sql --dont-use-mysql-root-password --database=mysql <<-EOSQL
		SET @@SESSION.SQL_LOG_BIN = 0;
		SET @@SESSION.SQL_MODE = REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');
		${drops}
		ALTER USER 'root'@'localhost' IDENTIFIED BY '${rootPass}';
		${createRoot}
		${createDb}
		${createUser}
	EOSQL
}

# Run the files in /docker-entrypoint-initdb.d, in sorted order (the glob sorts).
docker_process_init_files() {
    local f
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh)
                # Executable: run it; otherwise source it (it can use docker_process_sql).
                if [ -x "$f" ]; then
                    mysql_note "$0: running $f"; "$f"
                else
                    mysql_note "$0: sourcing $f"
                    # shellcheck source=/dev/null
                    . "$f"
                fi ;;
            *.sql)     mysql_note "$0: running $f"; docker_process_sql < "$f" ;;
            *.sql.gz)  mysql_note "$0: running $f"; gunzip -c "$f" | docker_process_sql ;;
            *.sql.xz|*.sql.zst|*.sql.bz2)
                # The image carries gzip only (slim): fail rather than skip someone's data.
                mysql_error "$f: only .sql, .sql.gz and .sh init files are supported by this image" ;;
            *)         mysql_warn "$0: ignoring $f" ;;
        esac
    done
}

# ---------------------------------------------------------------------------------- main
_main() {
    # `docker run IMAGE --some-option`: options for the server.
    if [ "${1:0:1}" = '-' ]; then
        set -- mariadbd "$@"
    fi
    if [ "$1" != mariadbd ] && [ "$1" != mysqld ]; then
        exec "$@"   # anything else (bash, mysqldump ...) runs as given
    fi
    local arg
    for arg; do
        case "$arg" in
            -'?'|--help|--print-defaults|-V|--version) exec "$@" ;;  # no server: no setup either
        esac
    done

    # Refuse a broken configuration before doing anything with the datadir.
    local help
    if ! help=$("$@" --verbose --help 2>&1 >/dev/null); then
        mysql_error $'mariadbd failed while checking the configuration:\n'"$help"
    fi
    DATADIR=$(mysql_get_config datadir "$@")
    DATADIR=${DATADIR%/}
    SOCKET=$(mysql_get_config socket "$@")

    if [ "$(id -u)" = 0 ]; then
        # Root: make the datadir and socket directory the mysql user's, then run this script
        # again as mysql (setpriv execs: no extra process stays behind).
        mkdir -p "$DATADIR" "$(dirname "$SOCKET")"
        find "$DATADIR" "$(dirname "$SOCKET")" \! -user mysql -exec chown mysql:mysql '{}' +
        exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
    fi

    # Present only while a first-start initialisation runs: if it is there now, one failed half-way
    # (bad init script, container killed) and the datadir must not be taken for a usable one.
    local marker="$DATADIR/.djstack-init-incomplete"
    if [ -e "$marker" ]; then
        mysql_error $'A previous first-start initialisation of '"$DATADIR"$' did not finish (see that container\'s log).\n\tRemove the volume (e.g. `docker compose down -v`) and start again.'
    fi

    if [ ! -d "$DATADIR/mysql" ]; then
        file_env MYSQL_ROOT_PASSWORD
        file_env MYSQL_ROOT_HOST '%'
        file_env MYSQL_DATABASE
        file_env MYSQL_USER
        file_env MYSQL_PASSWORD
        docker_verify_env
        touch "$marker"
        mysql_passfile_create
        docker_init_database_dir "$@"
        docker_temp_server_start "$@"
        docker_setup_db
        docker_process_init_files
        docker_temp_server_stop
        rm -f "$PASSFILE" "$marker"
        mysql_note "Init process done. Ready for start up."
    else
        mysql_note "Database directory $DATADIR already initialized: skipping initialization"
    fi
    # The passwords are no longer needed: keep them out of the server's environment.
    unset MYSQL_ROOT_PASSWORD MYSQL_PASSWORD
    exec "$@"
}

_main "$@"
