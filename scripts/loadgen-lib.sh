# shellcheck shell=bash
# Helpers of the load benchmark, the short load step and the crash test
# (scripts/bench-load.sh, scripts/test.sh, scripts/crash-test.sh). Source it
# after scripts/lib.sh; do not run it.
#
# They build the verifier with the INSECURE insecure-snp-sim feature and the
# load generator, lay out a verifier state that accepts the simulated
# SEV-SNP agents, and start and stop that verifier on 127.0.0.1.

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

# lg_start DIR [LISTEN]: starts the verifier of DIR on LISTEN (default
# 127.0.0.1:0) in the background, logging to DIR/verifier.log; sets LG_PID,
# LG_ADDR and LG_URL once it listens.
lg_start() {
  local dir=$1 listen=${2:-127.0.0.1:0}
  rm -f "$dir/verifier.addr"
  SEALBUILD_LOG=${SEALBUILD_LOG:-warn} "$LG_VERIFIER" --config "$dir/verifier.toml" serve \
    --listen "$listen" --address-file "$dir/verifier.addr" >>"$dir/verifier.log" 2>&1 &
  LG_PID=$!
  for _ in $(seq 300); do
    [[ -s $dir/verifier.addr ]] && break
    kill -0 "$LG_PID" 2>/dev/null || break
    sleep 0.05
  done
  [[ -s $dir/verifier.addr ]] || { tail -20 "$dir/verifier.log" >&2; die "the verifier did not start"; }
  LG_ADDR=$(cat "$dir/verifier.addr")
  # shellcheck disable=SC2034 # read by the scripts that source this file
  LG_URL="https://$LG_ADDR"
}

# lg_stop [SIGNAL]: stops the verifier started last (SIGTERM by default) and
# waits for it.
lg_stop() {
  [[ -n ${LG_PID:-} ]] || return 0
  kill "-${1:-TERM}" "$LG_PID" 2>/dev/null || true
  wait "$LG_PID" 2>/dev/null || true
  LG_PID=
}
