#!/usr/bin/env bash
# INSECURE: lays out a running (software) TPM the way an Azure SEV-SNP
# confidential VM's vTPM is laid out, with a SIMULATED, test-signed HCL report.
#
#   scripts/azure-sim-provision.sh --tcti TCTI --measurement HEX48 \
#       [--user-data HEX] [--out DIR] [--azure-sim BIN]
#
# 1. The vTPM attestation key "HCLAkPub": a primary key in the endorsement
#    hierarchy from Azure's AK template (OpenHCL tpm_lib ak_pub_template: RSA
#    2048, RSASSA-SHA256, no symmetric, nameAlg SHA-256, unique = 256 zero
#    bytes, fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|noDA|
#    restricted|sign), persistent at 0x81000003 (TPM_AZURE_AIK_HANDLE); an
#    object already there is evicted first.
# 2. The HCL report for that AK (sealbuild-azure-sim hcl-report): runtime
#    claims naming the AK, bound into an SEV-SNP report signed by the
#    PUBLISHED snp-sim test VCEK (insecure/snp-sim/test-chain).
# 3. NV index 0x01400001 (TPM_NV_INDEX_ATTESTATION_REPORT) defined with
#    exactly the report's size (owner auth; ownerread|ownerwrite|authread|
#    authwrite; an existing index is undefined first) and written with it.
#
# The report proves nothing: anyone can sign such reports with the published
# key. Only a verifier built with the insecure feature AND configured to trust
# the snp-sim test chain accepts it.
#
# DIR (default ./azure-sim-out) receives ak.pub (TPM2B_PUBLIC of the AK) and
# hcl-report.bin. BIN (or $SEALBUILD_AZURE_SIM) is the sealbuild-azure-sim
# binary; without it the script runs it with `cargo run`.
# Exit: 0 done, 1 a TPM or build step failed, 2 usage error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

AK_HANDLE=0x81000003
NV_INDEX=0x01400001
NV_ATTRIBUTES="ownerread|ownerwrite|authread|authwrite"
AK_ATTRIBUTES="fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|sign"

usage() {
  sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

TCTI="" MEASUREMENT="" USER_DATA="" OUT="./azure-sim-out" SIM="${SEALBUILD_AZURE_SIM:-}"
while (($#)); do
  case "$1" in
    --tcti) TCTI=${2:?--tcti needs a value}; shift 2 ;;
    --measurement) MEASUREMENT=${2:?--measurement needs a value}; shift 2 ;;
    --user-data) USER_DATA=${2:?--user-data needs a value}; shift 2 ;;
    --out) OUT=${2:?--out needs a value}; shift 2 ;;
    --azure-sim) SIM=${2:?--azure-sim needs a value}; shift 2 ;;
    -h|--help) usage 0 ;;
    *) printf 'error: unknown argument %s\n' "$1" >&2; usage ;;
  esac
done
[[ -n $TCTI ]] || die "--tcti is required (e.g. swtpm:host=127.0.0.1,port=2321)"
[[ $MEASUREMENT =~ ^[0-9a-fA-F]{96}$ ]] || die "--measurement must be 48 bytes as 96 hex digits"
if [[ -n $USER_DATA ]]; then
  [[ $USER_DATA =~ ^([0-9a-fA-F]{2}){1,64}$ ]] || die "--user-data must be 1 to 64 bytes of hex"
fi
for tool in tpm2_createprimary tpm2_evictcontrol tpm2_readpublic tpm2_flushcontext \
  tpm2_getcap tpm2_nvundefine tpm2_nvdefine tpm2_nvwrite; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian package tpm2-tools)"
done

export TPM2TOOLS_TCTI="$TCTI"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# swtpm has no resource manager: flush what earlier clients left loaded.
flush() {
  local f
  for f in -t -l -s; do tpm2_flushcontext "$f" >/dev/null 2>&1 || true; done
}
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }
# Whether HANDLE is in `tpm2_getcap CAPABILITY` (tpm2_nvreadpublic 5.4
# crashes on an undefined index, so ask the capability lists instead).
has_handle() {
  local want list
  want=$(printf '0x%x' "$2")
  list=$(tpm2_getcap "$1") || fail "tpm2_getcap $1 failed"
  grep -qixF -- "- $want" <<<"$list"
}

say "INSECURE simulated Azure vTPM on $TCTI (test-signed evidence; proves nothing)"
flush

# 1. The AK at 0x81000003.
replaced_ak=no
if has_handle handles-persistent "$AK_HANDLE"; then
  tpm2_evictcontrol -C o -c "$AK_HANDLE" >/dev/null || fail "cannot evict the object at $AK_HANDLE"
  replaced_ak=yes
fi
head -c 256 /dev/zero >"$WORK/unique.bin"
tpm2_createprimary -C e -g sha256 -G rsa2048:rsassa-sha256:null -a "$AK_ATTRIBUTES" \
  -u "$WORK/unique.bin" -c "$WORK/ak.ctx" >/dev/null || fail "tpm2_createprimary (AK) failed"
tpm2_evictcontrol -C o -c "$WORK/ak.ctx" "$AK_HANDLE" >/dev/null || fail "cannot persist the AK at $AK_HANDLE"
flush
tpm2_readpublic -c "$AK_HANDLE" -o "$OUT/ak.pub" >/dev/null || fail "tpm2_readpublic $AK_HANDLE failed"

# 2. The HCL report.
sim_args=(hcl-report --ak-public "$OUT/ak.pub" --measurement "$MEASUREMENT" --out "$OUT/hcl-report.bin")
[[ -n $USER_DATA ]] && sim_args+=(--user-data "$USER_DATA")
if [[ -n $SIM ]]; then
  "$SIM" "${sim_args[@]}" >"$WORK/sim.out" || fail "$SIM hcl-report failed"
else
  ensure_rust
  cargo run -q --manifest-path "$ROOT/Cargo.toml" -p sealbuild-insecure-azure-sim \
    --bin sealbuild-azure-sim -- "${sim_args[@]}" >"$WORK/sim.out" || fail "sealbuild-azure-sim hcl-report failed"
fi
SIZE=$(stat -c %s "$OUT/hcl-report.bin")

# 3. NV index 0x01400001 of exactly that size.
replaced_nv=no
if has_handle handles-nv-index "$NV_INDEX"; then
  tpm2_nvundefine -C o "$NV_INDEX" >/dev/null 2>&1 || tpm2_nvundefine -C p "$NV_INDEX" >/dev/null \
    || fail "cannot undefine the existing NV index $NV_INDEX"
  replaced_nv=yes
fi
tpm2_nvdefine "$NV_INDEX" -C o -s "$SIZE" -a "$NV_ATTRIBUTES" >/dev/null \
  || fail "tpm2_nvdefine $NV_INDEX of $SIZE bytes failed (is it over the TPM's TPM2_PT_NV_INDEX_MAX?)"
tpm2_nvwrite "$NV_INDEX" -C o -i "$OUT/hcl-report.bin" || fail "tpm2_nvwrite $NV_INDEX failed"
flush

sed 's/^/    /' "$WORK/sim.out"
cat <<EOF
INSECURE simulated Azure vTPM provisioned on $TCTI:
    AK (HCLAkPub)  persistent $AK_HANDLE (replaced an existing object: $replaced_ak), public area $OUT/ak.pub
    HCL report     NV index $NV_INDEX, $SIZE bytes, $NV_ATTRIBUTES (replaced an existing index: $replaced_nv)
                   copy in $OUT/hcl-report.bin
    The SEV-SNP report in it is signed by the PUBLISHED snp-sim test VCEK: it proves nothing.
EOF
