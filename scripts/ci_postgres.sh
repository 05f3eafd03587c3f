#!/usr/bin/env bash
# A throwaway PostgreSQL for vvae's production-profile tests, idempotently:
#   eval "$(scripts/ci_postgres.sh)"        # then: pytest tests/production
#
# - installs Debian's postgresql with apt-get when no server binaries are found;
# - initdb's a cluster in $VVAE_PG_DIR (default /tmp/vvae-pg-<port>) owned by a non-root user
#   (PostgreSQL refuses to run as root: the Debian `postgres` user, else a `vvae-pg` system user);
# - starts it listening on 127.0.0.1 only (port $VVAE_PG_PORT, default 55432, so it never collides
#   with a system cluster on 5432), password auth (scram-sha-256) over TCP;
# - creates the database $VVAE_PG_DB (default vvae).
# Re-running it with the cluster up only re-prints the variables. Progress goes to stderr; stdout
# carries nothing but the `export` lines. The password is random per cluster, kept in
# $VVAE_PG_DIR/password (mode 0600) and meant for this loopback-only test cluster.
# Stop it: scripts/ci_postgres.sh stop
set -euo pipefail

PORT=${VVAE_PG_PORT:-55432}
DIR=${VVAE_PG_DIR:-${TMPDIR:-/tmp}/vvae-pg-$PORT}
DB=${VVAE_PG_DB:-vvae}
PGUSER_NAME=vvae
log() { echo "[ci_postgres] $*" >&2; }

find_bin() {  # Debian keeps server binaries off PATH, under /usr/lib/postgresql/<major>/bin
    local name=$1 cand
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
    for cand in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$cand/$name" ] && { echo "$cand/$name"; return 0; }
    done
    return 1
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

if ! find_bin initdb >/dev/null || ! find_bin pg_ctl >/dev/null; then
    log "installing Debian's postgresql (apt-get; ~30-60 s)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postgresql postgresql-client >&2
fi
INITDB=$(find_bin initdb)
PG_CTL=$(find_bin pg_ctl)
PSQL=$(find_bin psql)
PG_ISREADY=$(find_bin pg_isready)

# The server's OS user: ourselves unless we are root.
RUN_AS=()
if [ "$(id -u)" = 0 ]; then
    OSUSER=postgres
    if ! id "$OSUSER" >/dev/null 2>&1; then
        OSUSER=vvae-pg
        id "$OSUSER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$OSUSER"
    fi
    RUN_AS=(runuser -u "$OSUSER" --)
fi

if [ "${1:-}" = stop ]; then
    if [ -f "$DIR/data/postmaster.pid" ]; then
        "${RUN_AS[@]}" "$PG_CTL" -D "$DIR/data" -m fast -w stop >&2
    else
        log "no cluster running in $DIR"
    fi
    exit 0
fi

mkdir -p "$DIR"
if [ ${#RUN_AS[@]} -gt 0 ]; then chown "$OSUSER" "$DIR"; fi
chmod 700 "$DIR"

if [ ! -f "$DIR/data/PG_VERSION" ]; then
    log "initdb in $DIR/data"
    # 24 random bytes as hex: no characters that need quoting in a URL or a shell.
    "${RUN_AS[@]}" sh -c "umask 077; od -An -tx1 -N24 /dev/urandom | tr -d ' \n' > '$DIR/password'"
    "${RUN_AS[@]}" "$INITDB" -D "$DIR/data" -U "$PGUSER_NAME" --pwfile="$DIR/password" -E UTF8 \
        --auth-local=trust --auth-host=scram-sha-256 --no-instructions >&2
fi
PASSWORD=$(cat "$DIR/password")

if ! "$PG_ISREADY" -q -h 127.0.0.1 -p "$PORT"; then
    log "starting PostgreSQL on 127.0.0.1:$PORT"
    # The unix socket goes into $DIR too: /var/run/postgresql may not exist or be writable.
    "${RUN_AS[@]}" "$PG_CTL" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR" start >&2
fi

export PGPASSWORD=$PASSWORD
exists=$("$PSQL" -h 127.0.0.1 -p "$PORT" -U "$PGUSER_NAME" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB'")
if [ "$exists" != 1 ]; then
    log "creating database $DB"
    "$PSQL" -q -h 127.0.0.1 -p "$PORT" -U "$PGUSER_NAME" -d postgres -c "CREATE DATABASE \"$DB\"" >&2
fi
log "ready: postgresql://$PGUSER_NAME@127.0.0.1:$PORT/$DB (password in $DIR/password)"

cat <<EOF
export DAGSTER_PG_HOST=127.0.0.1
export DAGSTER_PG_PORT=$PORT
export DAGSTER_PG_USERNAME=$PGUSER_NAME
export DAGSTER_PG_PASSWORD=$PASSWORD
export DAGSTER_PG_DB=$DB
EOF
