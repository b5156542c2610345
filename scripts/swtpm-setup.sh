#!/usr/bin/env bash
# Usage: scripts/swtpm-setup.sh STATE_DIR CA_DIR
#
# "Manufactures" a software TPM 2.0 for sealbuild's tests and demo: a local
# TPM manufacturer CA in CA_DIR (created once, then reused) and a swtpm state
# in STATE_DIR with two endorsement keys and their EK certificates issued by
# that CA. Quiet on success (prints nothing); on failure prints the tools' log
# and exits non-zero. Idempotent: if STATE_DIR already holds a state whose EK
# certificates chain to CA_DIR's CA, nothing is changed. Safe to run
# concurrently (flock on CA_DIR and STATE_DIR). Tools: swtpm, swtpm_setup,
# swtpm_localca (Debian: swtpm, swtpm-tools), certtool (gnutls-bin), openssl.
#
# Environment: SEALBUILD_PCR_BANKS (default "sha256"), e.g. "sha1,sha256".
#
# Layout produced (all paths absolute inside the config files, because
# `swtpm --daemon` and swtpm_setup change directory):
#
#   CA_DIR/swtpm_setup.conf          swtpm_setup config: create_certs_tool =
#                                    swtpm_localca, create_certs_tool_config /
#                                    _options = the two files below
#   CA_DIR/swtpm-localca.conf        statedir, signingkey, issuercert, certserial
#   CA_DIR/swtpm-localca.options     --platform-manufacturer/-version/-model
#   CA_DIR/swtpm-localca-rootca-cert.pem     root CA "CN=swtpm-localca-rootca"
#   CA_DIR/swtpm-localca-rootca-privkey.pem  (self-signed, RSA-3072)
#   CA_DIR/issuercert.pem, signkey.pem       intermediate "CN=swtpm-localca"
#                                            (signed by the root; signs EK certs)
#   CA_DIR/certserial                        next EK certificate serial
#   CA_DIR/ca-certs/swtpm-localca-rootca.der the root, DER   (trust anchor)
#   CA_DIR/ca-certs/swtpm-localca.der        the intermediate, DER
#
#   STATE_DIR/tpm2-00.permall        swtpm state (`swtpm socket --tpm2
#                                    --tpmstate dir=STATE_DIR ...`)
#   STATE_DIR/ek-certs/ek-rsa2048.der    EK certificate of the RSA 2048 EK
#                                        (persistent handle 0x81010001, NV index
#                                        0x01c00002), DER; .pem alongside
#   STATE_DIR/ek-certs/ek-secp384r1.der  EK certificate of the ECC NIST P-384 EK
#                                        (0x81010016, NV index 0x01c00016)
set -euo pipefail

die() { printf 'swtpm-setup.sh: %s\n' "$*" >&2; exit 2; }

[[ $# -eq 2 && -n $1 && -n $2 ]] || die "usage: swtpm-setup.sh STATE_DIR CA_DIR"

for tool in swtpm swtpm_setup swtpm_localca certtool openssl flock; do
  command -v "$tool" >/dev/null 2>&1 || die "missing tool '$tool' (Debian packages: swtpm swtpm-tools gnutls-bin openssl util-linux)"
done

mkdir -p "$1" "$2" || die "cannot create $1 or $2"
state=$(cd "$1" && pwd -P)
ca=$(cd "$2" && pwd -P)

# Serialise runs that share the CA or the state (CA creation, serial numbers).
exec 8>"$ca/.sealbuild-setup.lock"
flock 8
if [[ $state != "$ca" ]]; then
  exec 9>"$state/.sealbuild-setup.lock"
  flock 9
fi

# Writes $2 to file $1 only if it differs, atomically.
write_if_changed() {
  if [[ ! -f $1 ]] || [[ $(cat "$1") != "$2" ]]; then
    printf '%s\n' "$2" >"$1.tmp.$$"
    mv -f "$1.tmp.$$" "$1"
  fi
}

write_if_changed "$ca/swtpm-localca.conf" "statedir = $ca
signingkey = $ca/signkey.pem
issuercert = $ca/issuercert.pem
certserial = $ca/certserial"

write_if_changed "$ca/swtpm-localca.options" "--platform-manufacturer sealbuild
--platform-version 2.1
--platform-model swtpm"

write_if_changed "$ca/swtpm_setup.conf" "create_certs_tool = $(command -v swtpm_localca)
create_certs_tool_config = $ca/swtpm-localca.conf
create_certs_tool_options = $ca/swtpm-localca.options
active_pcr_banks = ${SEALBUILD_PCR_BANKS:-sha256}"

root_pem=$ca/swtpm-localca-rootca-cert.pem
issuer_pem=$ca/issuercert.pem
ekdir=$state/ek-certs
ek_names=(ek-rsa2048 ek-secp384r1)

# True when the state exists and both EK certificates chain to this CA.
state_is_complete() {
  [[ -s $state/tpm2-00.permall && -s $root_pem && -s $issuer_pem ]] || return 1
  local n
  for n in "${ek_names[@]}"; do
    [[ -s $ekdir/$n.der && -s $ekdir/$n.pem ]] || return 1
    openssl verify -CAfile "$root_pem" -untrusted "$issuer_pem" "$ekdir/$n.pem" >/dev/null 2>&1 || return 1
  done
}

# DER copies of the CA certificates (a directory a verifier can be pointed at).
export_ca_der() {
  mkdir -p "$ca/ca-certs"
  local src dst
  for pair in "$root_pem:swtpm-localca-rootca.der" "$issuer_pem:swtpm-localca.der"; do
    src=${pair%%:*} dst=$ca/ca-certs/${pair#*:}
    if [[ ! -s $dst || $src -nt $dst ]]; then
      openssl x509 -in "$src" -outform der -out "$dst.tmp" && mv -f "$dst.tmp" "$dst"
    fi
  done
}

if state_is_complete; then
  export_ca_der
  exit 0
fi

log=$(mktemp)
certs_tmp=$(mktemp -d)
trap 'rm -rf "$log" "$certs_tmp"' EXIT

# swtpm_localca creates the root CA and the intermediate on first use.
if ! swtpm_setup --tpm2 --tpmstate "$state" --create-ek-cert --overwrite \
  --config "$ca/swtpm_setup.conf" --pcr-banks "${SEALBUILD_PCR_BANKS:-sha256}" \
  --write-ek-cert-files "$certs_tmp" >"$log" 2>&1; then
  cat "$log" >&2
  die "swtpm_setup failed for state $state with CA $ca"
fi

mkdir -p "$ekdir"
for n in "${ek_names[@]}"; do
  [[ -s $certs_tmp/$n.crt ]] || { cat "$log" >&2; die "swtpm_setup wrote no $n.crt (got: $(ls "$certs_tmp"))"; }
  cp "$certs_tmp/$n.crt" "$ekdir/$n.der.tmp" && mv -f "$ekdir/$n.der.tmp" "$ekdir/$n.der"
  openssl x509 -inform der -in "$ekdir/$n.der" -out "$ekdir/$n.pem.tmp" && mv -f "$ekdir/$n.pem.tmp" "$ekdir/$n.pem"
done
state_is_complete || die "EK certificates in $ekdir do not chain to the CA in $ca"
export_ca_der
