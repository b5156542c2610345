# shellcheck shell=bash
# Helpers of the load benchmark, the short load step and the crash tests
# (scripts/bench-load.sh, scripts/test.sh, scripts/crash-test.sh,
# scripts/crash-test-pg.sh). Source it after scripts/lib.sh; do not run it.
#
# They build the verifier with the INSECURE insecure-snp-sim feature and the
# load generator, lay out a verifier state that accepts the simulated
# SEV-SNP agents, and start and stop that verifier on 127.0.0.1; the crash
# tests' arguments, kill loop and tamper checks are here too (crash_*).

# lg_build PROFILE [TARGET_DIR]: builds sealbuild-verifier and
# sealbuild-loadgen (debug or release) with the simulator features into
# TARGET_DIR (default: $CARGO_TARGET_DIR, else target); sets LG_VERIFIER and
# LG_LOADGEN.
lg_build() {
  local profile=$1 dir=${2:-${CARGO_TARGET_DIR:-target}} flags=()
  [[ $profile == release ]] && flags+=(--release)
  cargo build --locked -q "${flags[@]}" --target-dir "$dir" \
    -p sealbuild-verifier -p sealbuild-loadgen \
    --features sealbuild-verifier/insecure-snp-sim,sealbuild-loadgen/insecure-snp-sim
  LG_VERIFIER="$dir/$profile/sealbuild-verifier"
  LG_LOADGEN="$dir/$profile/sealbuild-loadgen"
}

# lg_setup DIR: a verifier state in DIR/state with the key "loadgen", the
# policy granting it to the simulated agents, and DIR/verifier.toml: the
# INSECURE test chain trusted, and the per-source limits raised, since a
# load test sends every request from one address (127.0.0.1).
lg_setup() {
  local dir=$1
  mkdir -p "$dir/state"
  "$LG_VERIFIER" --state-dir "$dir/state" keys generate --algorithm ed25519 --id loadgen >/dev/null
  "$LG_LOADGEN" policy --key loadgen >"$dir/policy.toml"
  "$LG_VERIFIER" --state-dir "$dir/state" policy set "$dir/policy.toml" >/dev/null
  cat >"$dir/verifier.toml" <<TOML
state_dir = "$dir/state"
# INSECURE: the simulated SEV-SNP backend's published test chain.
snp_insecure_test_chain = "$PWD/insecure/snp-sim/test-chain/cert_chain_vcek.pem"
snp_insecure_test_product = "genoa"
# All load comes from 127.0.0.1: the per-source rate and connection limits
# (defaults 20/s, burst 60, 64 connections) would refuse most of it.
rate_limit_per_source = 1000000.0
rate_limit_burst = 1000000.0
http_max_connections = 8192
http_max_connections_per_source = 8192
TOML
}

# lg_start DIR [LISTEN [NAME [WHAT]]]: starts the verifier configured by
# DIR/NAME.toml (NAME: default verifier) on LISTEN (default 127.0.0.1:0) in
# the background, logging to DIR/NAME.log; sets LG_PID, LG_ADDR and LG_URL
# once it listens. WHAT names it when it does not start (default "the
# verifier").
lg_start() {
  local dir=$1 listen=${2:-127.0.0.1:0} name=${3:-verifier} what=${4:-the verifier}
  rm -f "$dir/$name.addr"
  SEALBUILD_LOG=${SEALBUILD_LOG:-warn} "$LG_VERIFIER" --config "$dir/$name.toml" serve \
    --listen "$listen" --address-file "$dir/$name.addr" >>"$dir/$name.log" 2>&1 &
  LG_PID=$!
  for _ in $(seq 300); do
    [[ -s $dir/$name.addr ]] && break
    kill -0 "$LG_PID" 2>/dev/null || break
    sleep 0.05
  done
  [[ -s $dir/$name.addr ]] || { tail -20 "$dir/$name.log" >&2; die "$what did not start"; }
  LG_ADDR=$(cat "$dir/$name.addr")
  # shellcheck disable=SC2034 # read by the scripts that source this file
  LG_URL="https://$LG_ADDR"
}

# lg_kill PID SIGNAL: sends SIGNAL to PID (nothing when PID is empty) and
# waits for it.
lg_kill() {
  [[ -n $1 ]] || return 0
  kill "-$2" "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# lg_stop [SIGNAL]: stops the verifier started last (SIGTERM by default) and
# waits for it.
lg_stop() {
  lg_kill "${LG_PID:-}" "${1:-TERM}"
  LG_PID=
}

# crash_args DEFAULT_KILLS ARGS...: the crash tests' arguments
# [--kills N] [--agents N] [--duration SECS]; sets KILLS (default
# DEFAULT_KILLS), AGENTS (20) and DURATION (30 s, at least 3 s per kill and
# 4 s at the end).
# shellcheck disable=SC2034 # AGENTS is read by the scripts that source this file
crash_args() {
  KILLS=$1 AGENTS=20 DURATION=30
  shift
  while (($#)); do
    case $1 in
      --kills) KILLS=$2; shift 2 ;;
      --agents) AGENTS=$2; shift 2 ;;
      --duration) DURATION=$2; shift 2 ;;
      *) die "unknown argument $1 (see the header of $0)" ;;
    esac
  done
  ((DURATION >= 3 * (KILLS + 1) + 4)) || die "--duration must leave at least 3 s per kill and 4 s at the end"
}

ms_sleep() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
now_ms() { date +%s%3N; }
# crash_keys: keys received so far (lines of $WORK/record.jsonl).
crash_keys() { wc -l <"$WORK/record.jsonl" 2>/dev/null || echo 0; }

# crash_kills VICTIM NO_KEY: the kill loop of the crash tests, with KILLS
# and DURATION of crash_args. Kill i (1..KILLS+1) falls at a random moment
# of the i-th of KILLS+1 equal slots between 2 s and DURATION-2 s, but not
# before the victim's agents received a key after restart i-1 (which must
# happen within 20 s, else it dies saying "NO_KEY within 20 s after restart
# i-1"); each kill but the last is followed by a restart after 0-300 ms.
# VICTIM follows "kill i" in the lines it prints (e.g. " of replica a").
# Calls the caller's functions crash_victim_keys (the keys that count),
# crash_alive I (dies when a process died before kill I), crash_kill and
# crash_restart (which sets CRASH_PID); sets LAST_RESTART (0 when there was
# none).
crash_kills() {
  local victim=$1 no_key=$2 t0 slot at_restart=-1 i at wait_ms received
  t0=$(now_ms)
  slot=$(((DURATION - 4) * 1000 / (KILLS + 1)))
  # shellcheck disable=SC2034 # read by the scripts that source this file
  LAST_RESTART=0
  for i in $(seq 1 $((KILLS + 1))); do
    at=$((2000 + (i - 1) * slot + RANDOM % slot))
    wait_ms=$((t0 + at - $(now_ms)))
    ((wait_ms > 0)) && ms_sleep "$wait_ms"
    for _ in $(seq 200); do (($(crash_victim_keys) > at_restart)) && break; sleep 0.1; done
    (($(crash_victim_keys) > at_restart)) || die "$no_key within 20 s after restart $((i - 1))"
    at=$(($(now_ms) - t0))
    received=$(crash_keys)
    crash_alive "$i"
    crash_kill
    if ((i <= KILLS)); then
      ms_sleep $((RANDOM % 300))
      crash_restart
      # shellcheck disable=SC2034 # read by the scripts that source this file
      LAST_RESTART=$(date +%s.%N)
      at_restart=$(crash_victim_keys)
      echo "    kill $i$victim at $((at / 1000)).$((at % 1000 / 100)) s ($received keys received so far); restarted as pid $CRASH_PID"
    else
      echo "    kill $i$victim at $((at / 1000)).$((at % 1000 / 100)) s ($received keys received so far); not restarted"
    fi
  done
}

# crash_check_bites TITLE: shows that the crash check bites, on
# $WORK/audit.jsonl and $WORK/record.jsonl: it must fail with the release
# entry of the first key received removed from the audit log, and with that
# key recorded twice.
crash_check_bites() {
  local first rd out
  say "$1: the check catches a missing release entry and a key received twice"
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
}
