#!/usr/bin/env bash
# The crash test: simulated SEV-SNP agents (sealbuild-loadgen --record)
# receive keys while the verifier is killed with SIGKILL at random moments
# and restarted on the same state directory and port; the last kill is not
# followed by a restart. Then, on the state the kills left:
#   * `sealbuild-verifier audit verify` passes;
#   * every key an agent received has its release entry in the audit log
#     (matched by EAR digest, for the same agent and evidence, so the same
#     nonce), no key was released twice for one nonce (in the audit log and
#     in the record) (sealbuild-loadgen check);
#   * after every restart, agents received keys again before the next kill;
#   * SQLite's `PRAGMA integrity_check` answers ok;
#   * and, so that these checks are known to bite, the check fails on the
#     same audit log with one release entry removed and on the record with
#     one key received twice.
#
#   scripts/crash-test.sh [--kills N] [--agents N] [--duration SECS]
#
# Environment: SEALBUILD_CRASH_PROFILE (debug|release, default debug),
# SEALBUILD_CRASH_TARGET_DIR (default $CARGO_TARGET_DIR, else target).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
source scripts/loadgen-lib.sh

KILLS=5 AGENTS=20 DURATION=30
while (($#)); do
  case $1 in
    --kills) KILLS=$2; shift 2 ;;
    --agents) AGENTS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    *) die "unknown argument $1 (see the header of $0)" ;;
  esac
done
((DURATION >= 3 * (KILLS + 1) + 4)) || die "--duration must leave at least 3 s per kill and 4 s at the end"

ensure_rust
lg_build "${SEALBUILD_CRASH_PROFILE:-debug}" "${SEALBUILD_CRASH_TARGET_DIR:-}"
WORK=$(mktemp -d)
LOADGEN_PID=
cleanup() {
  if [[ -n $LOADGEN_PID ]]; then kill "$LOADGEN_PID" 2>/dev/null || true; fi
  lg_stop KILL
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lg_setup "$WORK"
lg_start "$WORK"
LISTEN=$LG_ADDR
"$LG_LOADGEN" run --url "$LG_URL" --ca "$WORK/state/tls/ca.pem" --agents "$AGENTS" \
  --duration "$DURATION" --retry-when-down --record "$WORK/record.jsonl" \
  --appraisal-secs 0 --probe-hz 0 --settle-secs 0 --drain-secs 30 >"$WORK/loadgen.txt" 2>&1 &
LOADGEN_PID=$!

# Kill i (1..KILLS+1) falls at a random moment of the i-th of KILLS+1 equal
# slots between 2 s and DURATION-2 s, but not before an agent received a key
# from the verifier restarted after kill i-1 (which must happen within 20 s);
# each kill but the last is followed by a restart after 0-300 ms.
ms_sleep() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
now_ms() { date +%s%3N; }
keys() { wc -l <"$WORK/record.jsonl" 2>/dev/null || echo 0; }
T0=$(now_ms)
SLOT=$(((DURATION - 4) * 1000 / (KILLS + 1)))
LAST_RESTART=0
at_restart=-1
for i in $(seq 1 $((KILLS + 1))); do
  at=$((2000 + (i - 1) * SLOT + RANDOM % SLOT))
  wait_ms=$((T0 + at - $(now_ms)))
  ((wait_ms > 0)) && ms_sleep "$wait_ms"
  for _ in $(seq 200); do (($(keys) > at_restart)) && break; sleep 0.1; done
  (($(keys) > at_restart)) || die "no key was received within 20 s after restart $((i - 1))"
  at=$(($(now_ms) - T0))
  received=$(keys)
  kill -0 "$LG_PID" 2>/dev/null || { tail -20 "$WORK/verifier.log"; die "the verifier died before kill $i"; }
  lg_stop KILL
  if ((i <= KILLS)); then
    ms_sleep $((RANDOM % 300))
    lg_start "$WORK" "$LISTEN"
    LAST_RESTART=$(date +%s.%N)
    at_restart=$(keys)
    echo "    kill $i at $((at / 1000)).$((at % 1000 / 100)) s ($received keys received so far); restarted as pid $LG_PID"
  else
    echo "    kill $i at $((at / 1000)).$((at % 1000 / 100)) s ($received keys received so far); not restarted"
  fi
done
rc=0
wait "$LOADGEN_PID" || rc=$?
LOADGEN_PID=
sed 's/^/    /' "$WORK/loadgen.txt"
((rc == 0)) || die "sealbuild-loadgen failed (exit $rc)"

say "crash test: audit log, record and database after the kills"
V=("$LG_VERIFIER" --config "$WORK/verifier.toml")
"${V[@]}" audit verify | sed 's/^/    /' || die "audit verify failed after the kills"
"${V[@]}" audit list --limit 4294967295 >"$WORK/audit.jsonl"
"$LG_LOADGEN" check --record "$WORK/record.jsonl" --audit "$WORK/audit.jsonl" \
  --db "$WORK/state/verifier.db" --expect-after "$LAST_RESTART" | sed 's/^/    /' \
  || die "the crash check failed"

say "crash test: the check catches a missing release entry and a key received twice"
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
say "crash test passed ($KILLS kills with restart, one without)"
