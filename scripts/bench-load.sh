#!/usr/bin/env bash
# The load benchmark: a release verifier (built with the INSECURE
# insecure-snp-sim feature, configured to trust the simulator's test chain,
# per-source limits raised) on 127.0.0.1, loaded by sealbuild-loadgen with
# 1,000 simulated SEV-SNP agents and a few hostile clients for a bounded
# time. Prints the figures and the issue's targets (reported, not asserted).
#
#   scripts/bench-load.sh [--agents N] [--hostile N] [--duration SECS] [--json]
#                         [--rounds N] [--compare-free-memory] [--pin]
#   scripts/bench-load.sh --stores [--agents N] [--duration SECS]
#
# --rounds N runs the load N times against one verifier process and prints
# its RSS after each round next to its RSS at idle before the first, so
# memory kept across runs shows. --compare-free-memory does all of that
# twice, each time on a new verifier: first with return_free_memory = false
# (memory stays with the allocator), then with the default true, and
# prints both series.
#
# --pin runs the verifier on CPU 0 and the load generator on CPU 1
# (taskset), so that the verifier's throughput is not limited by sharing
# its cores with the load; the appraisal ratio then counts the verifier's
# one core.
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

AGENTS=1000 HOSTILE=4 DURATION=40 JSON=() STORES=0 ROUNDS=1 COMPARE=0 PIN=()
while (($#)); do
  case $1 in
    --agents) AGENTS=$2; shift 2 ;;
    --hostile) HOSTILE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --json) JSON=(--json); shift ;;
    --stores) STORES=1; shift ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --compare-free-memory) COMPARE=1; shift ;;
    --pin) PIN=(taskset -c 1); shift ;;
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
# rss_mib PID: the process's resident set in MiB, and its anonymous part
# (heap and stacks, not the binary's pages) in parentheses.
rss_mib() {
  awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 } END { printf "%.1f (%.1f)", r / 1024, a / 1024 }' \
    "/proc/$1/status"
}

# measure FREE_MEMORY: a new verifier (return_free_memory = FREE_MEMORY)
# loaded ROUNDS times; appends its RSS series to $WORK/memory.txt.
measure() {
  local dir=$WORK/free-memory-$1 idle after series=""
  say "verifier state, policy and configuration in $dir"
  lg_setup "$dir"
  echo "return_free_memory = $1" >>"$dir/verifier.toml"
  lg_start "$dir"
  if ((${#PIN[@]})); then
    command -v taskset >/dev/null || die "taskset is missing (Debian package util-linux)"
    taskset -a -p -c 0 "$LG_PID" >/dev/null
  fi
  sleep 1
  idle=$(rss_mib "$LG_PID")
  for r in $(seq "$ROUNDS"); do
    say "verifier pid $LG_PID on $LG_URL (return_free_memory = $1); round $r of $ROUNDS:" \
      "$AGENTS agents, $HOSTILE hostile clients, $DURATION s"
    "${PIN[@]}" "$LG_LOADGEN" run --url "$LG_URL" --ca "$dir/state/tls/ca.pem" --agents "$AGENTS" \
      --hostile "$HOSTILE" --duration "$DURATION" --verifier-pid "$LG_PID" "${JSON[@]}"
    kill -0 "$LG_PID" 2>/dev/null || die "the verifier died during the run (see above)"
    after=$(rss_mib "$LG_PID")
    series+=", $after"
  done
  lg_stop TERM
  printf 'return_free_memory = %-5s  idle %s MiB; after each round%s MiB\n' \
    "$1" "$idle" "$series" >>"$WORK/memory.txt"
}

if ((COMPARE)); then
  measure false
  measure true
else
  measure true
fi
if ((COMPARE || ROUNDS > 1)); then
  say "verifier RSS (anonymous part) at idle and after each round (target: within 20 % of idle)"
  cat "$WORK/memory.txt"
fi
