#!/usr/bin/env bash
# Runs sealbuild's whole test suite: unit, property, real-vector, swtpm
# end-to-end and tpm2-tools interoperability tests, then a bounded fuzz run.
# Installs what is missing (Debian, as root) or says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust
ensure_debian_packages

say "building"
cargo build --workspace --all-targets --locked

say "a default build refuses the insecure SEV-SNP test chain"
# Only this package is selected, so no test's features leak in: this is the
# verifier operators build. It must refuse to start when configured with the
# simulated backend's chain.
tmp=$(mktemp -d)
printf 'state_dir = "%s"\nsnp_insecure_test_chain = "%s"\n' "$tmp" \
  "$PWD/insecure/snp-sim/test-chain/cert_chain_vcek.pem" >"$tmp/verifier.toml"
if out=$(cargo run -q --locked -p sealbuild-verifier -- --config "$tmp/verifier.toml" \
  serve --listen 127.0.0.1:0 2>&1); then
  die "a default sealbuild-verifier started with an insecure SEV-SNP test chain"
fi
grep -q "compiled without the insecure-snp-sim feature" <<<"$out" \
  || { echo "$out"; die "a default sealbuild-verifier failed for another reason than the insecure chain"; }
echo "    refused: $(grep -o 'this build of sealbuild-verifier was compiled without[^;]*' <<<"$out" | head -1)"
rm -rf "$tmp"

say "running the test suite"
cargo test --workspace --locked -- --test-threads=2

if [[ "${SEALBUILD_SKIP_FUZZ:-0}" != 1 ]]; then
  say "bounded fuzz run (scripts/fuzz.sh)"
  scripts/fuzz.sh "${SEALBUILD_FUZZ_SECONDS:-15}"
fi
say "all tests passed"
