#!/usr/bin/env bash
# Measures Keylime's own verifier code and sealbuild's appraisal on the same
# real evidence, in one run, and prints ops/s and the sealbuild / Keylime ratio
# for the whole appraisal against the target "≥ 100× Keylime".
#
# Evidence (real, GCE, COS 85): tests/data/tpm/go-tpm-tools/attestations/
#   gce-cos-85-nonce9009.extracted.json  go-tpm-tools Attestation fields (hex):
#                                        the quote over the SHA-256 bank (PCR
#                                        0-23, RSA-2048 AK, RSASSA-SHA256), AK
#   gce-cos-85-nonce9009.eventlog.bin    its TCG crypto-agile event log
# The quote's extraData is go-tpm-tools' nonce verbatim: the two bytes 0x90 0x09
# (tests/data MANIFEST §3.2: "nonce 9009 (bytes 0x90 0x09)").
#
# Keylime side (scripts/bench_keylime.py, in a venv with `keylime` from the
# Python package index, pinned below): first it checks that Keylime accepts the
# evidence with that nonce and rejects it with other nonces, a changed PCR and a
# truncated log (else it stops: comparing something that does not verify means
# nothing); then it times, single-threaded, for --seconds each:
#   quote check      keylime.tpm.tpm_util.checkquote (AK signature, nonce,
#                    pcrDigest)
#   boot-log parse   keylime.mba.mba.bootlog_parse -> tpm2_tools_elparser
#                    (spawns tpm2_eventlog, loads its YAML, enriches it)
#   whole appraisal  keylime.tpm.tpm_main.Tpm().check_quote with the boot log
#                    and a measured-boot refstate (accept-all policy): quote
#                    check + log parse + log PCRs compared with the quote's
# Sealbuild side: `cargo bench -p sealbuild-verifier-core --bench appraise` with
# APPRAISE_BENCH_ONLY=gce, which prints `RESULT tpm_gce <ops/s>` for the whole
# appraisal of that quote + log (signature, binding, pcrDigest, log parse and
# replay, event claims).
#
# Usage: scripts/bench-keylime.sh [--seconds N] [--skip-ours]
#   --seconds N   time each Keylime line for N seconds (default 3)
#   --skip-ours   Keylime only, no ratio (for working on this script)
# Exit status: 0 when the target is met (or with --skip-ours), 1 when it is
# not, 2 on any error (a missing bench, an install failure, Keylime rejecting).
#
# Needs tpm2-tools (tpm2_eventlog) and libefivar (loaded by Keylime's log
# parser): installed with apt-get when run as root, otherwise it says what to
# install. The venv lives in target/bench-keylime-venv (or
# $SEALBUILD_BENCH_KEYLIME_VENV) and is reused while the package list is
# unchanged.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

# Keylime's verifier has no install_requires; these are the modules its quote
# check and measured-boot parsing import (keylime.tpm.tpm_main pulls in
# keylime.ima, keylime.cert_utils, keylime.config), pinned to the versions this
# script was checked with. `gpg` (GPGME, used only for GPG-signed IMA policies)
# is left out: it builds from source against gpgme; bench_keylime.py puts in a
# placeholder that raises if anything ever uses it.
KEYLIME_PACKAGE=keylime==7.14.3
KEYLIME_DEPS=(
  cryptography==50.0.2 cffi==2.1.1 pycparser==3.12
  PyYAML==6.0.4
  packaging==26.4
  pyasn1==0.6.5 pyasn1_modules==0.4.2
  jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0
  rpds-py==2026.9.1 attrs==26.1.0 typing_extensions==4.16.0
  lark==1.3.1
)
TARGET_RATIO=100
EVIDENCE_DIR=tests/data/tpm/go-tpm-tools/attestations
EVIDENCE_JSON=$EVIDENCE_DIR/gce-cos-85-nonce9009.extracted.json
EVIDENCE_LOG=$EVIDENCE_DIR/gce-cos-85-nonce9009.eventlog.bin

# tpm2-tools and libefivar, from Debian.
ensure_keylime_system_deps() {
  local missing=()
  command -v tpm2_eventlog >/dev/null || missing+=(tpm2-tools)
  command -v tpm2_startup >/dev/null || missing+=(tpm2-tools)
  ldconfig -p 2>/dev/null | grep -q 'libefivar\.so\.1 ' || missing+=(libefivar1)
  ((${#missing[@]} == 0)) && return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    local i
    for i in "${!missing[@]}"; do
      # Debian 13 renamed the library package (64-bit time_t transition).
      if [[ ${missing[$i]} == libefivar1 ]] && apt-cache show libefivar1t64 >/dev/null 2>&1; then
        missing[i]=libefivar1t64
      fi
    done
    say "installing ${missing[*]}"
    apt-get install -y -qq "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
  else
    die "missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})"
  fi
}

# Prints the venv's python on stdout; everything else goes to stderr.
ensure_keylime_venv() {
  local venv=${SEALBUILD_BENCH_KEYLIME_VENV:-$PWD/target/bench-keylime-venv}
  local stamp=$venv/.sealbuild-packages
  local want="$KEYLIME_PACKAGE ${KEYLIME_DEPS[*]}"
  mkdir -p "$(dirname "$venv")"
  if [[ -x $venv/bin/python && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
    echo "$venv/bin/python"
    return 0
  fi
  command -v python3 >/dev/null || die "python3 not found: install the Debian packages python3 python3-venv"
  say "creating the Keylime venv in $venv ($KEYLIME_PACKAGE)"
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || die "python3 -m venv $venv failed: install the Debian package python3-venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "$KEYLIME_PACKAGE" >&2 \
    || die "pip install $KEYLIME_PACKAGE failed (it needs to reach the Python package index)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${KEYLIME_DEPS[@]}" >&2 \
    || die "pip install ${KEYLIME_DEPS[*]} failed"
  printf '%s' "$want" >"$stamp"
  echo "$venv/bin/python"
}

# The value of key $1 in the `key=value` lines $2 (dies when absent).
kv() {
  local v
  v=$(sed -n "s/^$1=//p" <<<"$2" | tail -n1)
  [[ -n $v ]] || die "bench_keylime.py printed no $1"
  printf '%s' "$v"
}

# The bench's output on stdin -> its ops/s for the GCE appraisal on stdout.
# Dies unless there is exactly one `RESULT tpm_gce <positive float>` line.
parse_ours() {
  local lines n
  lines=$(grep -E '^RESULT tpm_gce ' || true)
  n=$(grep -c . <<<"$lines" || true)
  [[ $n -eq 1 ]] || die "expected one 'RESULT tpm_gce <ops/s>' line from the appraise bench, got $n"
  awk '
    NF == 3 && $3 ~ /^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$/ && $3 + 0 > 0 { print $3; ok = 1 }
    END { exit ok ? 0 : 1 }' <<<"$lines" \
    || die "cannot read ops/s from the appraise bench's line: $lines"
}

# Runs sealbuild's appraise bench and prints its ops/s for the GCE evidence.
run_ours() {
  ensure_rust
  local log ops
  log=$(mktemp)
  say "running: APPRAISE_BENCH_ONLY=gce cargo bench -p sealbuild-verifier-core --bench appraise"
  if ! APPRAISE_BENCH_ONLY=gce cargo bench -p sealbuild-verifier-core --bench appraise >"$log" 2>&1; then
    if grep -q "no bench target named" "$log"; then
      rm -f "$log"
      die "sealbuild-verifier-core has no bench target 'appraise' (verifier/core/benches/appraise.rs with its [[bench]] entry): sealbuild's side cannot be measured"
    fi
    tail -n 30 "$log" >&2
    rm -f "$log"
    die "cargo bench -p sealbuild-verifier-core --bench appraise failed"
  fi
  if ! ops=$(parse_ours <"$log"); then
    tail -n 30 "$log" >&2
    rm -f "$log"
    exit 2
  fi
  rm -f "$log"
  echo "$ops"
}

main() {
  local seconds=3 skip_ours=0
  while (($#)); do
    case $1 in
      --seconds)
        if ! [[ ${2:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || ! awk -v s="$2" 'BEGIN { exit !(s > 0) }'; then
          die "--seconds needs a positive number"
        fi
        seconds=$2
        shift 2
        ;;
      --skip-ours) skip_ours=1; shift ;;
      -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown option: $1 (see --help)" ;;
    esac
  done
  [[ -f $EVIDENCE_JSON && -f $EVIDENCE_LOG ]] || die "evidence not found: $EVIDENCE_JSON, $EVIDENCE_LOG"

  # Ours first: a missing bench fails before minutes of Keylime setup.
  local ours=""
  if ((!skip_ours)); then
    ours=$(run_ours)
  fi

  ensure_keylime_system_deps
  local py
  py=$(ensure_keylime_venv)

  say "Keylime: checking accept/reject, then timing each line for ${seconds}s"
  local out
  out=$("$py" scripts/bench_keylime.py --evidence "$EVIDENCE_JSON" --eventlog "$EVIDENCE_LOG" \
    --bank sha256 --seconds "$seconds") \
    || die "Keylime's verifier did not behave as required on the evidence (see above): no comparison"
  local kl_quote kl_parse kl_whole
  kl_quote=$(kv quote_ops "$out")
  kl_parse=$(kv parse_ops "$out")
  kl_whole=$(kv whole_ops "$out")


  local tools_version rustc_version=""
  tools_version=$(tpm2_eventlog --version 2>/dev/null | sed -n 's/.*version="\([^"]*\)".*/\1/p')
  if ((!skip_ours)); then
    rustc_version=$(rustc --version 2>/dev/null || true)
  fi

  echo "sealbuild vs Keylime: whole TPM appraisal of one real GCE attestation, single-threaded"
  echo "  evidence   $(basename "$EVIDENCE_JSON" .extracted.json) ($EVIDENCE_DIR):"
  echo "             $(kv evidence "$out"); TCG event log of $(stat -c %s "$EVIDENCE_LOG") bytes"
  echo "  keylime    $(kv keylime_version "$out") (PyPI), Python $(kv python_version "$out"), tpm2-tools ${tools_version:-unknown} (Keylime's logging off)"
  [[ -z $rustc_version ]] || echo "  sealbuild  cargo bench --bench appraise (APPRAISE_BENCH_ONLY=gce), $rustc_version"
  echo "  Keylime accepts the evidence (events: $(kv whole_events "$out"): PCR 10 is IMA's, no IMA log given)"
  echo "  and rejects other nonces, a changed PCR 0, and the log without its last event ($(kv truncated_log_events "$out"))"
  printf 'keylime quote check: %.1f/s\n' "$kl_quote"
  printf 'keylime boot-log parse (tpm2_eventlog): %.1f/s\n' "$kl_parse"
  printf 'keylime whole appraisal: %.1f/s\n' "$kl_whole"
  if ((skip_ours)); then
    echo "sealbuild whole appraisal: skipped (--skip-ours)"
    return 0
  fi
  printf 'sealbuild whole appraisal: %.1f/s\n' "$ours"
  local ratio met
  ratio=$(awk -v a="$ours" -v b="$kl_whole" 'BEGIN { printf "%.1f", a / b }')
  if awk -v a="$ours" -v b="$kl_whole" -v t="$TARGET_RATIO" 'BEGIN { exit !(a / b >= t) }'; then
    met=MET
  else
    met="NOT MET"
  fi
  echo "ratio: ${ratio}× (target ≥ ${TARGET_RATIO}×: $met)"
  [[ $met == MET ]] || exit 1
}

# Run when executed; sourcing only defines the functions (to test parse_ours).
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
