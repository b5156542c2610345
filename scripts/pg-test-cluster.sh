#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests (Debian's postgresql package):
# initdb in a new temporary directory (as the unprivileged user `postgres`
# when run as root, since PostgreSQL refuses to run as root), the server on
# 127.0.0.1 at a free port with its Unix socket in that directory, password
# (SCRAM) authentication for the superuser `sealbuild`.
#
#   scripts/pg-test-cluster.sh
#
# Runs in the foreground: prints one line
#   SEALBUILD_TEST_PG=postgres://sealbuild:PASSWORD@127.0.0.1:PORT
# (a URL without database; append /DBNAME) once the server accepts
# connections, then waits until its standard input closes (or SIGTERM/INT),
# stops the server and removes the directory. The Rust test harness
# (verifier/server/tests/store_support/pg.rs) and scripts/test.sh start it
# with a pipe as standard input, so the cluster ends with them.
# Fails (exit 2) with a message naming the package when PostgreSQL is not
# installed.
# With SEALBUILD_PG_TLS_DIR=DIR (holding server.pem, the certificate chain,
# and server.key): ssl=on with that certificate, and pg_hba.conf accepts TCP
# connections only over TLS (hostssl), so a plain connection is refused.
set -euo pipefail

die() { printf 'error: %s\n' "$*" >&2; exit 2; }

bindir=
for d in /usr/lib/postgresql/*/bin; do
  [[ -x $d/initdb && -x $d/pg_ctl ]] && bindir=$d
done
if [[ -z $bindir ]] && command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
  bindir=$(dirname "$(command -v initdb)")
fi
[[ -n $bindir ]] || die "PostgreSQL is not installed: the PostgreSQL tests need the Debian package postgresql (scripts/test.sh installs it; or: apt-get install postgresql)"

as_owner=()
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || die "running as root, but there is no user 'postgres' to run PostgreSQL as (the Debian package postgresql creates it)"
  as_owner=(runuser -u postgres --)
fi

dir=$(mktemp -d -t sealbuild-pg.XXXXXX)
chmod 700 "$dir"
[[ ${#as_owner[@]} -eq 0 ]] || chown postgres: "$dir"
pgctl() { "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" "$@"; }
cleanup() {
  if [[ -f $dir/data/postmaster.pid ]]; then
    pgctl stop -m fast -w >/dev/null 2>&1 || pgctl stop -m immediate -w >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" >"$dir/pwfile"
[[ ${#as_owner[@]} -eq 0 ]] || chown postgres: "$dir/pwfile"
"${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U sealbuild --pwfile="$dir/pwfile" \
  --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
  >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
rm -f "$dir/pwfile"

tls_opts=
if [[ -n ${SEALBUILD_PG_TLS_DIR:-} ]]; then
  cp "$SEALBUILD_PG_TLS_DIR/server.pem" "$dir/server.crt"
  cp "$SEALBUILD_PG_TLS_DIR/server.key" "$dir/server.key"
  chmod 600 "$dir/server.key"
  [[ ${#as_owner[@]} -eq 0 ]] || chown postgres: "$dir/server.crt" "$dir/server.key"
  tls_opts="-c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key"
  sed -i 's/^host /hostssl /' "$dir/data/pg_hba.conf"
fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000))
}
started=
for _ in 1 2 3 4 5; do
  port=$(free_port)
  # fsync stays on: the tests check what commits, on a real server.
  if pgctl start -w -t 30 -l "$dir/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c shared_buffers=32MB $tls_opts" \
    >/dev/null 2>&1; then
    started=1
    break
  fi
done
[[ -n $started ]] || { tail -20 "$dir/server.log" >&2 || true; die "PostgreSQL did not start"; }

echo "SEALBUILD_TEST_PG=postgres://sealbuild:$password@127.0.0.1:$port"
# Until standard input closes (read is interrupted by the traps above).
while read -r _; do :; done
