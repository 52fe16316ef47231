#!/usr/bin/env bash
# PgBouncer's admin views side by side with pgpool's own figures (seed 004's
# scripts/monitor-pgbouncer.sh, same options).
#
#   monitor-pgbouncer.sh [--summary | --pools | --stats | --clients | --servers | --watch [SECONDS]]
#                        [--admin URL] [--pgpool-metrics URL] [--max-wait SECONDS]
#
#   --summary         (default) one line per PgBouncer pool (clients active/waiting,
#                     servers active/idle, maxwait) and, with --pgpool-metrics, one line
#                     per pgpool pool of the application (size, in use, waiting, oldest
#                     wait, transactions, mean hold time); alerts when a side waits
#   --pools           SHOW POOLS
#   --stats           SHOW STATS
#   --clients         SHOW CLIENTS
#   --servers         SHOW SERVERS
#   --watch [N]       the summary every N seconds (default 2) until Ctrl-C
#   --admin URL       PgBouncer's admin console (default: $PGBOUNCER_ADMIN_URL, else
#                     postgresql://$PGBOUNCER_ADMIN_USER@$PGBOUNCER_HOST:$PGBOUNCER_PORT/pgbouncer
#                     with postgres, localhost and 6432 as defaults)
#   --pgpool-metrics URL
#                     an application's Prometheus endpoint serving pool.prometheus()
#                     (default: $PGPOOL_METRICS_URL; none: PgBouncer only)
#   --max-wait S      alert threshold for PgBouncer's maxwait and pgpool's oldest wait
#                     (default 5 s: the rule in README.md)
#
# Exit status (for cron and health probes): 0 fine, 1 PgBouncer or the metrics endpoint
# unreachable, 2 an alert (clients waiting longer than --max-wait on either side).
set -uo pipefail

view=summary
interval=2
max_wait=5
admin="${PGBOUNCER_ADMIN_URL:-postgresql://${PGBOUNCER_ADMIN_USER:-postgres}@${PGBOUNCER_HOST:-localhost}:${PGBOUNCER_PORT:-6432}/pgbouncer}"
metrics="${PGPOOL_METRICS_URL:-}"

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --summary) view=summary ;;
        --pools) view=pools ;;
        --stats) view=stats ;;
        --clients) view=clients ;;
        --servers) view=servers ;;
        --watch)
            view=watch
            if [ $# -gt 1 ] && [[ "$2" =~ ^[0-9]+([.][0-9]+)?$ ]]; then interval="$2"; shift; fi
            ;;
        --admin) admin="${2:?--admin needs a URL}"; shift ;;
        --pgpool-metrics) metrics="${2:?--pgpool-metrics needs a URL}"; shift ;;
        --max-wait) max_wait="${2:?--max-wait needs seconds}"; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "monitor-pgbouncer: unknown argument '$1' (--help)" >&2; exit 64 ;;
    esac
    shift
done

# An admin console command, aligned for people.
show() {
    psql -X -q -P pager=off "$admin" -c "SHOW $1" || {
        echo "monitor-pgbouncer: cannot reach PgBouncer's admin console ($1)" >&2
        return 1
    }
}

# The same, unaligned with a header row: '|'-separated, for the summary.
show_raw() {
    psql -X -q -A -F '|' -P footer=off "$admin" -c "SHOW $1" 2>/dev/null
}

summary() {
    local pools status=0 text
    if ! pools="$(show_raw POOLS)"; then
        echo "monitor-pgbouncer: cannot reach PgBouncer's admin console at ${admin%%\?*}" >&2
        return 1
    fi
    echo "PgBouncer (SHOW POOLS):"
    # Columns by name: their set and order change between PgBouncer versions.
    if ! awk -F '|' -v max="$max_wait" '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["database"] == "pgbouncer" { next }
        {
            wait = $col["maxwait"] + (("maxwait_us" in col) ? $col["maxwait_us"] / 1e6 : 0)
            printf "  %-20s %-12s clients active %4d waiting %4d | servers active %4d idle %4d | maxwait %.3f s\n",
                $col["database"], $col["user"], $col["cl_active"], $col["cl_waiting"],
                $col["sv_active"], $col["sv_idle"], wait
            if (wait > max + 0) {
                printf "  ALERT pgbouncer %s/%s: maxwait %.3f s > %s s: raise default_pool_size or max_db_connections\n",
                    $col["database"], $col["user"], wait, max
                alert = 1
            }
        }
        END { exit alert ? 2 : 0 }' <<<"$pools"; then
        status=2
    fi
    [ -n "$metrics" ] || return "$status"
    if ! text="$(curl -fsS --max-time 5 "$metrics")"; then
        echo "monitor-pgbouncer: cannot read pgpool's metrics at $metrics" >&2
        return 1
    fi
    echo "pgpool ($metrics):"
    # Prometheus text: `name{pool="x"} value`; one line per pool.
    if ! awk -v max="$max_wait" '
        /^#/ { next }
        match($0, /pool="[^"]*"/) {
            name = $0; sub(/\{.*/, "", name)
            pool = substr($0, RSTART + 6, RLENGTH - 7)
            if (!(pool in seen)) { seen[pool] = 1; order[++n] = pool }
            if ($0 ~ /le="/) next
            v[pool, name] = $NF
        }
        END {
            for (i = 1; i <= n; i++) {
                p = order[i]
                holds = v[p, "pgpool_hold_seconds_count"]
                mean = holds > 0 ? v[p, "pgpool_hold_seconds_sum"] / holds * 1000 : 0
                printf "  %-20s size %4d in use %4d | waiting %4d oldest %.3f s | xacts committed %d rolled back %d | hold mean %.1f ms\n",
                    p, v[p, "pgpool_pool_size"], v[p, "pgpool_pool_in_use"],
                    v[p, "pgpool_requests_waiting"], v[p, "pgpool_oldest_wait_seconds"],
                    v[p, "pgpool_xact_committed_total"], v[p, "pgpool_xact_rolled_back_total"], mean
                if (v[p, "pgpool_oldest_wait_seconds"] > max + 0) {
                    printf "  ALERT pgpool %s: a client has waited %.3f s > %s s: raise its max_size (or PgBouncer'\''s pool, if PgBouncer waits too)\n",
                        p, v[p, "pgpool_oldest_wait_seconds"], max
                    alert = 1
                }
            }
            if (n == 0) print "  (no pgpool_* samples)"
            exit alert ? 2 : 0
        }' <<<"$text"; then
        status=2
    fi
    return "$status"
}

case "$view" in
    summary) summary; exit $? ;;
    pools) show POOLS ;;
    stats) show STATS ;;
    clients) show CLIENTS ;;
    servers) show SERVERS ;;
    watch)
        trap 'exit 0' INT TERM
        while true; do
            clear 2>/dev/null || true
            date
            summary
            sleep "$interval"
        done
        ;;
esac
