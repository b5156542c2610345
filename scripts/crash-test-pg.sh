#!/usr/bin/env bash
# The crash test on PostgreSQL: two verifier replicas on one database,
# simulated SEV-SNP agents (sealbuild-loadgen --replicas 2 --record) spread
# over both and receiving keys, while replica A is killed with SIGKILL at
# random moments and restarted (same configuration and port); replica B
# runs throughout; the last kill of A is not followed by a restart. Then:
#   * `sealbuild-verifier audit verify` passes with replica A's and with
#     replica B's configuration (the one chain in the database);
#   * every key an agent received has its release entry in the audit log
#     (sealbuild-loadgen check --database-url reads it from PostgreSQL
#     through the verifier's store code), no key was released twice for
#     one nonce, in the audit log or in the record;
#   * after every restart, agents of replica A received keys again before
#     the next kill;
#   * and the check fails on the same audit log with one release entry
#     removed and on the record with one key received twice.
#
#   scripts/crash-test-pg.sh [--kills N] [--agents N] [--duration SECS]
#
# Uses the PostgreSQL of $SEALBUILD_TEST_PG (scripts/test.sh starts one)
# or starts a throwaway one (scripts/pg-test-cluster.sh), and a database of
# its own in it, dropped at the end.
# Environment: SEALBUILD_CRASH_PROFILE (debug|release, default debug),
# SEALBUILD_CRASH_TARGET_DIR (default $CARGO_TARGET_DIR, else target).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
source scripts/loadgen-lib.sh

crash_args 4 "$@"
((AGENTS >= 2)) || die "--agents must be at least 2 (spread over two replicas)"
command -v psql >/dev/null || die "psql is missing: the PostgreSQL crash test needs the Debian package postgresql-client"

ensure_rust
lg_build "${SEALBUILD_CRASH_PROFILE:-debug}" "${SEALBUILD_CRASH_TARGET_DIR:-}"
WORK=$(mktemp -d)
LOADGEN_PID='' OWN_PG=0 DB='' PID_A='' PID_B=''
if [[ -z ${SEALBUILD_TEST_PG:-} ]]; then
  pg_test_start
  OWN_PG=1
fi
cleanup() {
  if [[ -n $LOADGEN_PID ]]; then kill "$LOADGEN_PID" 2>/dev/null || true; fi
  lg_kill "$PID_A" KILL
  lg_kill "$PID_B" KILL
  if [[ -n $DB ]]; then
    psql -q "$SEALBUILD_TEST_PG/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if ((OWN_PG)); then pg_test_stop; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

DB=sealbuild_crash_$$
psql -q -v ON_ERROR_STOP=1 "$SEALBUILD_TEST_PG/postgres" -c "CREATE DATABASE $DB" >/dev/null \
  || die "could not create the database $DB"
# The key, policy and (on the first start) schema go to PostgreSQL; the
# master key, result key and TLS certificate stay in the state directory,
# which replica B receives a copy of (replicas share them).
export SEALBUILD_DATABASE_URL="$SEALBUILD_TEST_PG/$DB"
lg_setup "$WORK"
echo "database_url = \"$SEALBUILD_DATABASE_URL\"" >>"$WORK/verifier.toml"

# Replica NAME (a or b) runs with WORK/NAME.toml (lg_start DIR LISTEN NAME).
sed "s#^state_dir = .*#state_dir = \"$WORK/state\"#" "$WORK/verifier.toml" >"$WORK/a.toml"
lg_start "$WORK" 127.0.0.1:0 a "replica a"
PID_A=$LG_PID ADDR_A=$LG_ADDR
cp -a "$WORK/state" "$WORK/state-b"
sed "s#^state_dir = .*#state_dir = \"$WORK/state-b\"#" "$WORK/verifier.toml" >"$WORK/b.toml"
lg_start "$WORK" 127.0.0.1:0 b "replica b"
PID_B=$LG_PID ADDR_B=$LG_ADDR
echo "    replica a on $ADDR_A (killed), replica b on $ADDR_B, one PostgreSQL database"

"$LG_LOADGEN" run --url "https://$ADDR_A" --url "https://$ADDR_B" --replicas 2 \
  --ca "$WORK/state/tls/ca.pem" --agents "$AGENTS" \
  --duration "$DURATION" --retry-when-down --record "$WORK/record.jsonl" \
  --appraisal-secs 0 --probe-hz 0 --settle-secs 0 --drain-secs 30 >"$WORK/loadgen.txt" 2>&1 &
LOADGEN_PID=$!

# The kill loop (crash_kills in scripts/loadgen-lib.sh) on replica a; the
# keys that count are those of its agents (even agent numbers).
crash_victim_keys() {
  local n
  n=$(grep -c '"agent_id":"snp:load-[0-9]*[02468]"' "$WORK/record.jsonl" 2>/dev/null) || true
  echo "${n:-0}"
}
crash_alive() {
  kill -0 "$PID_A" 2>/dev/null || { tail -20 "$WORK/a.log"; die "replica a died before kill $1"; }
  kill -0 "$PID_B" 2>/dev/null || { tail -20 "$WORK/b.log"; die "replica b died"; }
}
crash_kill() {
  lg_kill "$PID_A" KILL
  PID_A=
}
crash_restart() {
  lg_start "$WORK" "$ADDR_A" a "replica a"
  PID_A=$LG_PID CRASH_PID=$LG_PID
}
crash_kills " of replica a" "no agent of replica a received a key"
rc=0
wait "$LOADGEN_PID" || rc=$?
LOADGEN_PID=
sed 's/^/    /' "$WORK/loadgen.txt"
((rc == 0)) || die "sealbuild-loadgen failed (exit $rc)"
kill -0 "$PID_B" 2>/dev/null || { tail -20 "$WORK/b.log"; die "replica b died"; }
lg_kill "$PID_B" TERM
PID_B=

say "PostgreSQL crash test: audit log and record after the kills"
for r in a b; do
  "$LG_VERIFIER" --config "$WORK/$r.toml" audit verify | sed "s/^/    replica $r: /" \
    || die "audit verify with replica $r's configuration failed after the kills"
done
# The check reads the audit log from PostgreSQL itself (through the
# verifier's store code); the copy from `audit list` is tampered with below.
"$LG_LOADGEN" check --record "$WORK/record.jsonl" --database-url "$SEALBUILD_DATABASE_URL" \
  --expect-after "$LAST_RESTART" | sed 's/^/    /' \
  || die "the crash check failed"
"$LG_VERIFIER" --config "$WORK/b.toml" audit list --limit 4294967295 >"$WORK/audit.jsonl"

crash_check_bites "PostgreSQL crash test"
say "PostgreSQL crash test passed ($KILLS kills of replica a with restart, one without; replica b throughout)"
