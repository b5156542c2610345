#!/usr/bin/env bash
# The load benchmark: a release verifier (built with the INSECURE
# insecure-snp-sim feature, configured to trust the simulator's test chain,
# per-source limits raised) on 127.0.0.1, loaded by sealbuild-loadgen with
# 1,000 simulated SEV-SNP agents and a few hostile clients for a bounded
# time. Prints the figures and the issue's targets (reported, not asserted).
#
#   scripts/bench-load.sh [--agents N] [--hostile N] [--duration SECS] [--json]
#   scripts/bench-load.sh --stores [--agents N] [--duration SECS]
#
# --stores measures, in one run and with the same load (no hostile clients),
# one replica on SQLite, one on PostgreSQL and two on PostgreSQL (agents
# spread over both, sealbuild-loadgen --replicas 2); replica i is pinned to
# core i with taskset (the SQLite and single PostgreSQL replica to core 0),
# PostgreSQL and the load generator are not pinned. PostgreSQL is the one
# of $SEALBUILD_TEST_PG or a throwaway one (scripts/pg-test-cluster.sh),
# each configuration in a database of its own. Prints attestations with
# release per second, p99 latency and errors per configuration, the ratio
# PostgreSQL/SQLite (target 0.8) and the scaling 2/1 replicas.
#
# Environment: SEALBUILD_BENCH_TARGET_DIR (default target/insecure-snp-sim),
# SEALBUILD_BENCH_PROFILE (release|debug, default release).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
source scripts/loadgen-lib.sh

AGENTS=1000 HOSTILE=4 DURATION=40 JSON=() STORES=0
while (($#)); do
  case $1 in
    --agents) AGENTS=$2; shift 2 ;;
    --hostile) HOSTILE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --json) JSON=(--json); shift ;;
    --stores) STORES=1; shift ;;
    *) die "unknown argument $1 (see the header of $0)" ;;
  esac
done

ensure_rust
PROFILE=${SEALBUILD_BENCH_PROFILE:-release}
say "building $PROFILE sealbuild-verifier and sealbuild-loadgen (INSECURE simulator features)"
lg_build "$PROFILE" "${SEALBUILD_BENCH_TARGET_DIR:-target/insecure-snp-sim}"

WORK=$(mktemp -d)
cleanup() { lg_stop TERM; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Each agent holds a connection, and so does the verifier for it.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if ((STORES)); then
  source scripts/bench-stores-lib.sh
  bench_stores
  exit 0
fi
say "verifier state, policy and configuration in $WORK"
lg_setup "$WORK"
lg_start "$WORK"
say "verifier pid $LG_PID on $LG_URL; load: $AGENTS agents, $HOSTILE hostile clients, $DURATION s"
"$LG_LOADGEN" run --url "$LG_URL" --ca "$WORK/state/tls/ca.pem" --agents "$AGENTS" \
  --hostile "$HOSTILE" --duration "$DURATION" --verifier-pid "$LG_PID" "${JSON[@]}"
kill -0 "$LG_PID" 2>/dev/null || die "the verifier died during the run (see above)"
