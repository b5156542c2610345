#!/usr/bin/env bash
# Builds every fuzz target with cargo-fuzz (installing it if missing) and runs
# each for SECONDS (default 15). Uses RUSTC_BOOTSTRAP=1 when no nightly
# toolchain is present. Any crash fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
secs=${1:-15}
ensure_rust
if ! cargo fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
cd fuzz
targets=$(cargo fuzz list)
[[ -n $targets ]] || die "no fuzz targets found"
for t in $targets; do
  say "fuzz $t for ${secs}s"
  mkdir -p "corpus/$t"
  # Seeds: the real vectors of tests/data for each parser.
  case "$t" in
    eventlog) seeds=(../tests/data/tpm/go-tpm-tools/eventlogs/*.bin ../tests/data/tpm/go-attestation/*_eventlog) ;;
    ccel) seeds=(../tests/data/tdx/trustee/ccel/CCEL_AAEL_alibabacloud ../tests/data/tdx/trustee/ccel/CCEL_data_ovmf ../tests/data/tdx/trustee/ccel/CCEL_data_grub ../tests/data/tdx/go-tdx-guest/ccel/ccel_table.dat) ;;
    tpm_attest) seeds=(../tests/data/tpm/tpm2-tools-5.4-swtpm/*.quote) ;;
    tpm_signature) seeds=(../tests/data/tpm/tpm2-tools-5.4-swtpm/*.sig) ;;
    tpm_public) seeds=(../tests/data/tpm/tpm2-tools-5.4-swtpm/*.pub) ;;
    tpm_pcr_selection) seeds=(../tests/data/tpm/tpm2-tools-5.4-swtpm/*.pcrs) ;;
    ekcert) seeds=(../tests/data/tpm/go-tpm-tools/gce-ca-certs/*) ;;
    dsse) seeds=(../tests/data/sealed-build/hello.intoto.jsonl) ;;
    cel) seeds=(../tests/data/sealed-build/runtime.cel.json) ;;
    intoto) seeds=(../tests/data/sealed-build/statement.json) ;;
    snp_report) seeds=(../tests/data/sev-snp/*/*report*.bin ../tests/data/sev-snp/*/attestation.bin) ;;
    snp_cert_table) seeds=(../tests/data/sev-snp/cert-table-milan.bin) ;;
    tdx_quote) seeds=(../tests/data/tdx/dcap-qvl/{tdx_quote,tdx_quote_outdated,sgx_quote} ../tests/data/tdx/go-tdx-guest/*.dat ../tests/data/tdx/trustee/*.dat) ;;
    tdx_collateral) seeds=(../tests/data/tdx/dcap-qvl/*collateral.json ../tests/data/tdx/trustee/*.json) ;;
    tdx_report) # the TD report inside the Azure TDX HCL report (offset 0x20, 1024 bytes)
      dd if=../tests/data/azure/az-tdx-vtpm/hcl-report.bin of="corpus/$t/az-tdx-td-report" bs=1 skip=32 count=1024 status=none
      seeds=() ;;
    azure_hcl) seeds=(../tests/data/azure/az-snp-vtpm/hcl-report.bin ../tests/data/azure/az-snp-vtpm/evidence-*.json ../tests/data/azure/az-tdx-vtpm/hcl-report.bin ../tests/data/azure/az-tdx-vtpm/evidence-*.json) ;;
    *) seeds=() ;;
  esac
  for f in "${seeds[@]}"; do [[ -f $f ]] && cp -n "$f" "corpus/$t/" 2>/dev/null; done
  cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 >"/tmp/fuzz-$t.log" 2>&1 \
    || { tail -40 "/tmp/fuzz-$t.log"; die "fuzz target $t failed"; }
  grep -E "^Done|#[0-9]+.*DONE" "/tmp/fuzz-$t.log" | tail -1 || true
done
