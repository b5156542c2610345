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

say "running the test suite"
cargo test --workspace --locked -- --test-threads=2

if [[ "${SEALBUILD_SKIP_FUZZ:-0}" != 1 ]]; then
  say "bounded fuzz run (scripts/fuzz.sh)"
  scripts/fuzz.sh "${SEALBUILD_FUZZ_SECONDS:-15}"
fi
say "all tests passed"
