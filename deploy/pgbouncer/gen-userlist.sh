#!/usr/bin/env bash
# Generate PgBouncer auth_file (userlist.txt) lines on stdout.
#
# From a running PostgreSQL (needs a superuser: reads pg_shadow). The lines carry the
# stored SCRAM verifiers / md5 hashes, never plain passwords:
#
#   gen-userlist.sh [--users alice,bob] [PSQL-CONNECTION-ARGS...] > userlist.txt
#   e.g. gen-userlist.sh -h db.internal -U postgres -d postgres > /etc/pgbouncer/userlist.txt
#        gen-userlist.sh "postgresql://postgres@127.0.0.1:5432/postgres"
#
# From the environment (no server needed: e.g. in a container entrypoint), one line for
# POSTGRES_USER / POSTGRES_PASSWORD:
#
#   POSTGRES_USER=app POSTGRES_PASSWORD=secret gen-userlist.sh --from-env [--scram|--md5]
#
#   (default) the password itself: PgBouncer can then authenticate clients with SCRAM or
#             md5 AND log in to a PostgreSQL that requires SCRAM or md5. Use this unless
#             you read the verifiers from the server (first form).
#   --scram   a freshly salted SCRAM-SHA-256 verifier: enough to authenticate clients,
#             but PgBouncer can then log in to PostgreSQL only if PostgreSQL does not
#             ask it for the password (trust/cert for PgBouncer's host): a SCRAM login
#             needs the server's own verifier (same salt), which only the first form has.
#   --md5     "md5" || md5(password || user): for auth_type = md5 and servers storing md5.
#
# Keep the file readable only by the PgBouncer user (chmod 600). With auth_type =
# scram-sha-256 every line must hold a SCRAM verifier or a plain password (an md5 hash
# from pg_shadow only works with auth_type = md5): store passwords as SCRAM in
# PostgreSQL (password_encryption = scram-sha-256, the default since PostgreSQL 14).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2; }

mode=server
hash=plain
users=
while [ $# -gt 0 ]; do
    case $1 in
        --from-env) mode="env"; shift ;;
        --md5) hash=md5; shift ;;
        --scram) hash=scram; shift ;;
        --plain) hash=plain; shift ;;
        --users) users=${2:?--users needs a comma-separated list}; shift 2 ;;
        --users=*) users=${1#--users=}; shift ;;
        --help) usage ;;
        *) break ;;   # the rest goes to psql (-h is psql's host)
    esac
done

if [ "$mode" = env ]; then
    : "${POSTGRES_USER:?set POSTGRES_USER}"
    : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
    exec python3 - "$hash" <<'EOF'
import base64, hashlib, hmac, os, sys

user = os.environ["POSTGRES_USER"]
password = os.environ["POSTGRES_PASSWORD"]

if sys.argv[1] == "plain":
    secret = password
elif sys.argv[1] == "md5":
    secret = "md5" + hashlib.md5((password + user).encode()).hexdigest()
else:
    # The verifier PostgreSQL itself stores (RFC 5802/7677; SASLprep is skipped, as
    # PostgreSQL does for passwords that are not valid UTF-8 / need no mapping).
    iterations = 4096
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode()
    secret = f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"

q = lambda s: '"' + s.replace('"', '""') + '"'
print(q(user), q(secret))
EOF
fi

# From pg_shadow. Quote as the auth_file format wants: "name" "secret", with any double
# quote inside doubled.
sql="SELECT '\"' || replace(usename, '\"', '\"\"') || '\" \"' || replace(passwd, '\"', '\"\"') || '\"'
       FROM pg_catalog.pg_shadow
      WHERE passwd IS NOT NULL"
if [ -n "$users" ]; then
    list=$(printf '%s' "$users" | sed "s/'/''/g; s/,/','/g")
    sql="$sql AND usename IN ('$list')"
fi
sql="$sql ORDER BY usename"

psql -X -A -t -q -v ON_ERROR_STOP=1 "$@" -c "$sql"
