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

crash_args 5 "$@"

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

# The kill loop (crash_kills in scripts/loadgen-lib.sh) on the one verifier.
crash_victim_keys() { crash_keys; }
crash_alive() {
  kill -0 "$LG_PID" 2>/dev/null || { tail -20 "$WORK/verifier.log"; die "the verifier died before kill $1"; }
}
crash_kill() { lg_stop KILL; }
crash_restart() {
  lg_start "$WORK" "$LISTEN"
  CRASH_PID=$LG_PID
}
crash_kills "" "no key was received"
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

crash_check_bites "crash test"
say "crash test passed ($KILLS kills with restart, one without)"
