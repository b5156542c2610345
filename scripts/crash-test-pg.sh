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

KILLS=4 AGENTS=20 DURATION=30
while (($#)); do
  case $1 in
    --kills) KILLS=$2; shift 2 ;;
    --agents) AGENTS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    *) die "unknown argument $1 (see the header of $0)" ;;
  esac
done
((DURATION >= 3 * (KILLS + 1) + 4)) || die "--duration must leave at least 3 s per kill and 4 s at the end"
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
stop_pid() { # stop_pid PID SIGNAL
  [[ -n $1 ]] || return 0
  kill "-$2" "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  if [[ -n $LOADGEN_PID ]]; then kill "$LOADGEN_PID" 2>/dev/null || true; fi
  stop_pid "$PID_A" KILL
  stop_pid "$PID_B" KILL
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

# rep_start NAME [LISTEN]: starts replica NAME (a or b) with WORK/NAME.toml;
# sets REP_PID and REP_ADDR.
rep_start() {
  local name=$1 listen=${2:-127.0.0.1:0}
  rm -f "$WORK/$name.addr"
  SEALBUILD_LOG=${SEALBUILD_LOG:-warn} "$LG_VERIFIER" --config "$WORK/$name.toml" serve \
    --listen "$listen" --address-file "$WORK/$name.addr" >>"$WORK/$name.log" 2>&1 &
  REP_PID=$!
  for _ in $(seq 300); do
    [[ -s $WORK/$name.addr ]] && break
    kill -0 "$REP_PID" 2>/dev/null || break
    sleep 0.05
  done
  [[ -s $WORK/$name.addr ]] || { tail -20 "$WORK/$name.log" >&2; die "replica $name did not start"; }
  REP_ADDR=$(cat "$WORK/$name.addr")
}
sed "s#^state_dir = .*#state_dir = \"$WORK/state\"#" "$WORK/verifier.toml" >"$WORK/a.toml"
rep_start a
PID_A=$REP_PID ADDR_A=$REP_ADDR
cp -a "$WORK/state" "$WORK/state-b"
sed "s#^state_dir = .*#state_dir = \"$WORK/state-b\"#" "$WORK/verifier.toml" >"$WORK/b.toml"
rep_start b
PID_B=$REP_PID ADDR_B=$REP_ADDR
echo "    replica a on $ADDR_A (killed), replica b on $ADDR_B, one PostgreSQL database"

"$LG_LOADGEN" run --url "https://$ADDR_A" --url "https://$ADDR_B" --replicas 2 \
  --ca "$WORK/state/tls/ca.pem" --agents "$AGENTS" \
  --duration "$DURATION" --retry-when-down --record "$WORK/record.jsonl" \
  --appraisal-secs 0 --probe-hz 0 --settle-secs 0 --drain-secs 30 >"$WORK/loadgen.txt" 2>&1 &
LOADGEN_PID=$!

ms_sleep() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
now_ms() { date +%s%3N; }
# Keys received by the agents of replica a (even agent numbers).
keys_a() {
  local n
  n=$(grep -c '"agent_id":"snp:load-[0-9]*[02468]"' "$WORK/record.jsonl" 2>/dev/null) || true
  echo "${n:-0}"
}
keys() { wc -l <"$WORK/record.jsonl" 2>/dev/null || echo 0; }
T0=$(now_ms)
SLOT=$(((DURATION - 4) * 1000 / (KILLS + 1)))
LAST_RESTART=0
at_restart=-1
for i in $(seq 1 $((KILLS + 1))); do
  at=$((2000 + (i - 1) * SLOT + RANDOM % SLOT))
  wait_ms=$((T0 + at - $(now_ms)))
  ((wait_ms > 0)) && ms_sleep "$wait_ms"
  for _ in $(seq 200); do (($(keys_a) > at_restart)) && break; sleep 0.1; done
  (($(keys_a) > at_restart)) || die "no agent of replica a received a key within 20 s after restart $((i - 1))"
  at=$(($(now_ms) - T0))
  received=$(keys)
  kill -0 "$PID_A" 2>/dev/null || { tail -20 "$WORK/a.log"; die "replica a died before kill $i"; }
  kill -0 "$PID_B" 2>/dev/null || { tail -20 "$WORK/b.log"; die "replica b died"; }
  stop_pid "$PID_A" KILL
  PID_A=
  if ((i <= KILLS)); then
    ms_sleep $((RANDOM % 300))
    rep_start a "$ADDR_A"
    PID_A=$REP_PID
    LAST_RESTART=$(date +%s.%N)
    at_restart=$(keys_a)
    echo "    kill $i of replica a at $((at / 1000)).$((at % 1000 / 100)) s ($received keys received so far); restarted as pid $PID_A"
  else
    echo "    kill $i of replica a at $((at / 1000)).$((at % 1000 / 100)) s ($received keys received so far); not restarted"
  fi
done
rc=0
wait "$LOADGEN_PID" || rc=$?
LOADGEN_PID=
sed 's/^/    /' "$WORK/loadgen.txt"
((rc == 0)) || die "sealbuild-loadgen failed (exit $rc)"
kill -0 "$PID_B" 2>/dev/null || { tail -20 "$WORK/b.log"; die "replica b died"; }
stop_pid "$PID_B" TERM
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

say "PostgreSQL crash test: the check catches a missing release entry and a key received twice"
first=$(head -1 "$WORK/record.jsonl")
rd=$(grep -o '"result_digest":"[0-9a-f]*"' <<<"$first" | head -1 | cut -d'"' -f4)
[[ -n $rd ]] || die "no key was received"
grep -v "\"kind\":\"release\".*$rd" "$WORK/audit.jsonl" >"$WORK/audit-cut.jsonl"
(($(wc -l <"$WORK/audit-cut.jsonl") == $(wc -l <"$WORK/audit.jsonl") - 1)) \
  || die "the release entry of EAR $rd is not one line of the audit log"
if out=$("$LG_LOADGEN" check --record "$WORK/record.jsonl" --audit "$WORK/audit-cut.jsonl"); then
  die "the check passed with the release entry of EAR $rd removed"
fi
grep -q "has no release entry" <<<"$out" || { echo "$out"; die "the check failed for another reason"; }
echo "    release entry removed: $(grep -m1 'has no release entry' <<<"$out")"
{ cat "$WORK/record.jsonl"; echo "$first"; } >"$WORK/record-twice.jsonl"
if out=$("$LG_LOADGEN" check --record "$WORK/record-twice.jsonl" --audit "$WORK/audit.jsonl"); then
  die "the check passed with a key recorded twice for one nonce"
fi
grep -q "received 2 times" <<<"$out" || { echo "$out"; die "the check failed for another reason"; }
echo "    key recorded twice: $(grep -m1 'received 2 times' <<<"$out")"
say "PostgreSQL crash test passed ($KILLS kills of replica a with restart, one without; replica b throughout)"
