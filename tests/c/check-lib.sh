#!/bin/sh
# Checks libpgpool.so as built: its SONAME, that it exports exactly the functions
# include/pgpool.h declares (all pgpool_*, nothing else), and that it does not link
# libpython (the Python bindings are a separate crate).
#
#   tests/c/check-lib.sh LIB HEADER SONAME
set -eu
lib=$1 header=$2 want_soname=$3

fail() { echo "check-lib: $*" >&2; exit 1; }

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "$want_soname" ] || fail "SONAME is '$soname', want $want_soname"

exported=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort -u)
other=$(printf '%s\n' "$exported" | grep -v '^pgpool_' || true)
[ -z "$other" ] || fail "exports symbols other than pgpool_*: $(echo $other)"

# Function declarations of the header (not its static inline helpers).
declared=$(grep -v '^static' "$header" |
    sed -n 's/^[a-z0-9_ ]*[ *]\(pgpool_[a-z0-9_]*\)(.*/\1/p' | sort -u)
[ -n "$declared" ] || fail "no declarations found in $header"
if [ "$declared" != "$exported" ]; then
    tmp=$(mktemp -d)
    printf '%s\n' "$declared" >"$tmp/declared-in-pgpool.h"
    printf '%s\n' "$exported" >"$tmp/exported-by-libpgpool.so"
    (cd "$tmp" && diff declared-in-pgpool.h exported-by-libpgpool.so >&2) || true
    rm -rf "$tmp"
    fail "the header and the library disagree"
fi

if ldd "$lib" | grep -i python >&2; then
    fail "links libpython"
fi

echo "check-lib: SONAME $soname; $(printf '%s\n' "$exported" | wc -l) symbols exported, all declared in pgpool.h, all pgpool_*; no libpython"
