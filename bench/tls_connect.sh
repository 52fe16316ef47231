#!/usr/bin/env bash
# What TLS adds to the cost of opening a connection: runs
# examples/tls_connect_cost.rs (pgpool's Connection::connect, until ReadyForQuery) against
# the harness's TLS server and prints a Markdown table: median and p90 per connection
# kind, and the median's difference from plain text (`sslmode=disable`).
#
#   bench/tls_connect.sh [--csv] [N]
#
#   N       connects per row (default 200; the rows take turns, after 5 warm-up rounds)
#   --csv   print `connection,median_ms,p90_ms,delta_ms` lines instead of the table
#
# Needs the TLS server of scripts/test-env: run from anywhere, it starts one (and its
# plain-text sibling, for the "server answers 'N'" row) for the run; already inside
# scripts/test-env (PGPOOL_TEST_TLS_URL set) it uses that one. A DATABASE_URL of your own
# is ignored here (it has no harness TLS server), so the numbers always compare like with
# like. Builds the example in the release profile (a no-op when current).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

csv=
n=200
for a in "$@"; do
    case $a in
        --csv) csv=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        ''|*[!0-9]*) echo "tls_connect.sh: unknown argument '$a' (see --help)" >&2; exit 2 ;;
        *) n=$a ;;
    esac
done

if [ -z "${PGPOOL_TEST_TLS_URL:-}" ] || [ -z "${PGPOOL_TEST_TLS_DIR:-}" ]; then
    # Not under the harness yet: run this script again under it, with its own servers.
    exec env -u DATABASE_URL -u PGBOUNCER_URL PGPOOL_TEST_TLS=1 \
        "$ROOT/scripts/test-env" "$0" "$@"
fi

cargo build --release --quiet --example tls_connect_cost
out=$("$ROOT/target/release/examples/tls_connect_cost" "$n")

# Lines: "<label padded to 52>median  X.XX ms   p90  Y.YY ms"; the first row is the
# plain-text baseline.
printf '%s\n' "$out" | awk -v csv="$csv" -v n="$n" '
    /median .* ms +p90 .* ms$/ {
        line = $0
        label = substr(line, 1, 52); sub(/ +$/, "", label)
        rest = substr(line, 53)
        split(rest, f, " +")
        # f: "median" X "ms" "p90" Y "ms" (leading spaces give an empty f[1])
        j = 0
        for (i = 1; i <= length(f); i++) if (f[i] != "") g[++j] = f[i]
        med = g[2] + 0; p90 = g[5] + 0
        rows++
        lab[rows] = label; m[rows] = med; p[rows] = p90
    }
    END {
        if (rows == 0) { print "tls_connect.sh: no rows in the output of tls_connect_cost" > "/dev/stderr"; exit 1 }
        base = m[1]
        if (csv) {
            print "connection,median_ms,p90_ms,delta_ms"
            for (r = 1; r <= rows; r++)
                printf "\"%s\",%.2f,%.2f,%.2f\n", lab[r], m[r], p[r], m[r] - base
            exit 0
        }
        printf "Connect cost, pgpool (Connection::connect until ReadyForQuery), %d connects per row, loopback:\n\n", n
        print "| connection | median | p90 | vs. plain text |"
        print "|---|---:|---:|---:|"
        for (r = 1; r <= rows; r++) {
            d = (r == 1) ? "—" : sprintf("%+.2f ms", m[r] - base)
            printf "| %s | %.2f ms | %.2f ms | %s |\n", lab[r], m[r], p[r], d
        }
    }'
