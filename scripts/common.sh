# shellcheck shell=bash
# Helpers shared by scripts/bootstrap and scripts/test-env. Sourced, not executed.

# Print a message on stderr, prefixed with the calling script's name.
log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# The directory holding PostgreSQL's server binaries (initdb, pg_ctl, postgres), or
# nothing. Prefers what is on PATH, then the newest /usr/lib/postgresql/<major>/bin.
pg_bindir() {
    local p d
    if p=$(command -v initdb 2>/dev/null); then
        dirname "$(readlink -f "$p")"
        return 0
    fi
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5 -n -r); do
        if [ -x "$d/initdb" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

# Run a command as root: directly when we are root, through passwordless sudo when that
# works, otherwise fail.
as_root() {
    if is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        return 1
    fi
}

can_be_root() {
    is_root || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}

_APT_UPDATED=
# apt_install PKG...: install Debian packages, running `apt-get update` once per process
# first. Waits for the dpkg/apt locks (another apt may be running) instead of failing.
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: $*"
    can_be_root || die "not root: install by hand (as root): apt-get install -y $*"
    local opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3) try
    if [ -z "$_APT_UPDATED" ]; then
        log "apt-get update"
        for try in 1 2 3 4 5 6; do
            if as_root env DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" -qq update; then
                break
            fi
            [ "$try" = 6 ] && die "apt-get update failed"
            log "apt-get update failed (lock held?); retrying in 10 s"
            sleep 10
        done
        _APT_UPDATED=1
    fi
    log "apt-get install $*"
    for try in 1 2 3 4 5 6; do
        if as_root env DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" -y -qq \
            --no-install-recommends install "$@"; then
            return 0
        fi
        [ "$try" = 6 ] && die "apt-get install $* failed"
        log "apt-get install failed (lock held?); retrying in 10 s"
        sleep 10
    done
}

# Is this Debian package installed?
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
