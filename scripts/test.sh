#!/usr/bin/env bash
# Runs sealbuild's whole test suite: unit, property, real-vector, swtpm
# end-to-end and tpm2-tools interoperability tests, the QEMU build VM
# (qemu/test.sh: a real measured boot under TCG, about 2-3 minutes;
# SEALBUILD_SKIP_VM=1 skips it, saying so), a short load on a debug
# verifier (sealbuild-loadgen), the SIGKILL crash tests (one verifier on
# SQLite; one of two replicas on PostgreSQL), then a bounded fuzz run.
# Installs what is missing (Debian, as root) or says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust
ensure_debian_packages

say "building"
cargo build --workspace --all-targets --locked

say "a default build refuses the insecure SEV-SNP test chain and TDX test root"
# Only this package is selected, so no test's features leak in: this is the
# verifier operators build. It must refuse to start when configured with a
# simulated backend's test chain or root.
tmp=$(mktemp -d)
# refuses_insecure SETTING PATH FEATURE: a default verifier configured with
# SETTING = PATH must refuse to start, naming FEATURE.
refuses_insecure() {
  local out
  printf 'state_dir = "%s"\n%s = "%s"\n' "$tmp" "$1" "$PWD/$2" >"$tmp/verifier.toml"
  if out=$(cargo run -q --locked -p sealbuild-verifier -- --config "$tmp/verifier.toml" \
    serve --listen 127.0.0.1:0 2>&1); then
    die "a default sealbuild-verifier started with $1"
  fi
  grep -q "compiled without the $3 feature" <<<"$out" \
    || { echo "$out"; die "a default sealbuild-verifier failed for another reason than $1"; }
  echo "    refused: $(grep -o 'this build of sealbuild-verifier was compiled without[^;]*' <<<"$out" | head -1)"
}
refuses_insecure snp_insecure_test_chain insecure/snp-sim/test-chain/cert_chain_vcek.pem insecure-snp-sim
refuses_insecure tdx_insecure_test_root insecure/tdx-sim/test-chain/root.der insecure-tdx-sim
rm -rf "$tmp"

say "starting a throwaway PostgreSQL for the store and replica tests"
pg_test_start
trap pg_test_stop EXIT
echo "    ${SEALBUILD_TEST_PG%%:*}://…@${SEALBUILD_TEST_PG##*@}"

say "running the test suite"
cargo test --workspace --locked -- --test-threads=2

say "PostgreSQL crash test: SIGKILLs of one of two replicas while agents receive keys (scripts/crash-test-pg.sh)"
scripts/crash-test-pg.sh
pg_test_stop
trap - EXIT

if [[ "${SEALBUILD_SKIP_VM:-0}" == 1 ]]; then
  say "SKIPPED (SEALBUILD_SKIP_VM=1): the QEMU build VM tests (qemu/test.sh)"
else
  say "the QEMU build VM: accepted sealed build, refusals, predicted PCRs (qemu/test.sh)"
  qemu/test.sh
fi

say "short load: 50 simulated SEV-SNP agents and 4 hostile clients for 10 s on a debug verifier"
# The benchmark's bounded form (scripts/bench-load.sh is the long one): any
# failed legitimate attestation or probe, any hostile request answered with a
# 5xx, an accepted verdict or a key, or a verifier that dies fails the run.
source scripts/loadgen-lib.sh
lg_build debug
load=$(mktemp -d)
trap 'lg_stop KILL; rm -rf "$load"' EXIT
lg_setup "$load"
lg_start "$load"
if ! "$LG_LOADGEN" run --url "$LG_URL" --ca "$load/state/tls/ca.pem" --agents 50 --hostile 4 \
  --duration 10 --verifier-pid "$LG_PID" --appraisal-secs 0.5 --settle-secs 1 --strict; then
  tail -20 "$load/verifier.log"
  die "the short load saw errors (above)"
fi
kill -0 "$LG_PID" 2>/dev/null || { tail -20 "$load/verifier.log"; die "the verifier died under the short load"; }
lg_stop TERM
rm -rf "$load"
trap - EXIT

say "crash test: SIGKILLs of the verifier while agents receive keys (scripts/crash-test.sh)"
scripts/crash-test.sh

if [[ "${SEALBUILD_SKIP_FUZZ:-0}" != 1 ]]; then
  say "bounded fuzz run (scripts/fuzz.sh)"
  scripts/fuzz.sh "${SEALBUILD_FUZZ_SECONDS:-15}"
fi
say "all tests passed"
