#!/usr/bin/env bash
# PgBouncer's health check (seed 004's /usr/local/bin/health-check.sh): for a container's
# HEALTHCHECK, a Kubernetes probe or a load balancer's script check.
#
#   health-check.sh [-q]
#
# Checks, in order, and stops at the first that fails:
#   1. the PgBouncer process runs: the pid in $PGBOUNCER_PIDFILE, if set, else a process
#      named pgbouncer (pgrep); skipped when neither can tell (no pidfile, no pgrep)
#   2. the admin console answers SHOW VERSION
#      ($PGBOUNCER_ADMIN_USER, default postgres, on database pgbouncer)
#   3. a query goes through PgBouncer to PostgreSQL: SELECT 1 on $PGBOUNCER_DATABASE
#      (default postgres) as $PGBOUNCER_USER (default: the admin user)
# at $PGBOUNCER_HOST:$PGBOUNCER_PORT (default localhost:6432), within
# $PGBOUNCER_CHECK_TIMEOUT seconds each (default 3). Passwords: PGPASSWORD or ~/.pgpass,
# as for psql.
#
# Exit status 0: healthy; 1: a check failed (named on stderr). -q: no output when healthy.
set -uo pipefail

quiet=0
[ "${1:-}" = "-q" ] && quiet=1
host="${PGBOUNCER_HOST:-localhost}"
port="${PGBOUNCER_PORT:-6432}"
admin_user="${PGBOUNCER_ADMIN_USER:-postgres}"
user="${PGBOUNCER_USER:-$admin_user}"
db="${PGBOUNCER_DATABASE:-postgres}"
export PGCONNECT_TIMEOUT="${PGBOUNCER_CHECK_TIMEOUT:-3}"

ok() { [ "$quiet" = 1 ] || echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; exit 1; }

# 1. the process
if [ -n "${PGBOUNCER_PIDFILE:-}" ]; then
    pid="$(cat "$PGBOUNCER_PIDFILE" 2>/dev/null)" || fail "process: cannot read $PGBOUNCER_PIDFILE"
    kill -0 "$pid" 2>/dev/null || [ -d "/proc/$pid" ] || fail "process: pid $pid (from $PGBOUNCER_PIDFILE) is not running"
    ok "process: pgbouncer runs (pid $pid)"
elif command -v pgrep >/dev/null 2>&1; then
    pid="$(pgrep -x pgbouncer | head -n 1)"
    [ -n "$pid" ] || fail "process: no process named pgbouncer"
    ok "process: pgbouncer runs (pid $pid)"
fi

# 2. the admin console
version="$(psql -X -q -A -t -h "$host" -p "$port" -U "$admin_user" -d pgbouncer -c 'SHOW VERSION' 2>&1)" ||
    fail "admin console: $host:$port as $admin_user: ${version//$'\n'/ }"
ok "admin console: ${version//$'\n'/ }"

# 3. a query through to PostgreSQL
one="$(psql -X -q -A -t -h "$host" -p "$port" -U "$user" -d "$db" -c 'SELECT 1' 2>&1)" ||
    fail "query: SELECT 1 on $db as $user through $host:$port: ${one//$'\n'/ }"
[ "$one" = "1" ] || fail "query: SELECT 1 on $db returned '$one'"
ok "query: SELECT 1 on $db through PgBouncer"
