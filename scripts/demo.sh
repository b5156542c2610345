#!/usr/bin/env bash
# sealbuild's main job on the embedded default, end to end on one machine:
#   a software TPM (swtpm) with EK certificates from a local CA, a simulated
#   measured boot (a real firmware event log extended into it), a verifier on
#   SQLite with a generated key and a policy made from the TPM's PCRs, and an
#   agent that registers, attests and receives the key; then a sealed build
#   of samples/hello whose DSSE-signed SLSA provenance is verified offline.
#
# Usage: scripts/demo.sh [--platform tpm|snp-sim|tdx-sim|azure-sim] [--out DIR]
#   --platform snp-sim  run the sealed build on the INSECURE simulated SEV-SNP
#              backend instead (reports signed with published test keys,
#              built with the insecure-snp-sim feature into
#              target/insecure-snp-sim; see scripts/demo-snp-sim.sh)
#   --platform tdx-sim  the sealed build on the INSECURE simulated Intel TDX
#              backend (quotes and collateral signed with published test
#              keys, built with the insecure-tdx-sim feature into
#              target/insecure-tdx-sim; see scripts/demo-tdx-sim.sh)
#   --platform azure-sim  the sealed build on an Azure-shaped confidential VM:
#              an swtpm as the vTPM with an INSECURE test-signed HCL report
#              (see scripts/demo-azure-sim.sh)
#   --out DIR  where the sealed build's bundle is left (default ./demo-out,
#              replaced if it exists): DIR/hello.intoto.jsonl,
#              DIR/signing-key.pub.pem, DIR/verifier-result-key.pem,
#              DIR/evidence/, DIR/artifacts/; the demo's working state (TPM,
#              CA, verifier database, agent) is kept in DIR/work/.
# On a fresh Debian 12 it installs what is missing (as root), or says what to.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/lib.sh

DEST="./demo-out"
PLATFORM=tpm
while (($#)); do
  case "$1" in
    --out) DEST=${2:?--out needs a directory}; shift 2 ;;
    --platform) PLATFORM=${2:?--platform needs tpm, snp-sim, tdx-sim or azure-sim}; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
if [[ -e $DEST && -n $(ls -A "$DEST" 2>/dev/null) ]]; then
  [[ -f $DEST/work/.sealbuild-demo ]] || die "$DEST is not empty and not a previous demo output; give a new or empty directory"
  rm -rf "$DEST"
fi
mkdir -p "$DEST/work"; DEST=$(cd "$DEST" && pwd)
OUT="$DEST/work"; touch "$OUT/.sealbuild-demo"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

ensure_rust
ensure_debian_packages

# The sample project as a git checkout in $1 (one commit).
make_sample_repo() {
  mkdir -p "$1"; cp samples/hello/hello.c samples/hello/Makefile "$1/"
  printf 'out/\n' >"$1/.gitignore"
  git -C "$1" init -q
  local id=(-c user.name=demo -c user.email=demo@example.invalid)
  git "${id[@]}" -C "$1" add . >/dev/null
  git "${id[@]}" -C "$1" commit -q -m "sample"
}

# Starts "$1" (a sealbuild-verifier) with the configuration $OUT/verifier.toml
# and state dir "$2" on a free loopback port; sets URL. (The simulated
# platforms' demos.)
start_sim_verifier() {
  local verifier=$1 vstate=$2
  rm -f "$OUT/verifier.addr"
  SEALBUILD_LOG=warn "$verifier" --config "$OUT/verifier.toml" --state-dir "$vstate" serve \
    --listen 127.0.0.1:0 --address-file "$OUT/verifier.addr" >"$OUT/verifier.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do [[ -s $OUT/verifier.addr ]] && break; sleep 0.1; done
  [[ -s $OUT/verifier.addr ]] || { cat "$OUT/verifier.log"; die "the verifier did not start"; }
  URL="https://$(cat "$OUT/verifier.addr")"
  echo "    $URL"
}

# Moves the bundle from $OUT/bundle into $DEST, saves the verifier's result
# key and verifies the bundle offline with "$1" (a sealbuild-verifier) and
# state dir "$2": envelope, artefacts, the verifier's EAR.
verify_sim_bundle() {
  local verifier=$1 vstate=$2
  for f in "$OUT/bundle"/*; do mv "$f" "$DEST/"; done; rmdir "$OUT/bundle"
  "$verifier" --state-dir "$vstate" result-key >"$DEST/verifier-result-key.pem"
  "$verifier" verify bundle --envelope "$DEST/hello.intoto.jsonl" --artifacts "$DEST/artifacts" \
    --signer-key "$DEST/signing-key.pub.pem" --ear "$DEST/evidence/ear.cose" \
    --verifier-key "$DEST/verifier-result-key.pem" | sed 's/^/    /'
}

# Two free consecutive TCP ports on 127.0.0.1 (swtpm's server and control).
free_port_pair() {
  python3 - <<'PY'
import socket
for _ in range(100):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1)); print(p); break
    except OSError:
        pass
    finally:
        a.close(); b.close()
PY
}

case "$PLATFORM" in
  tpm) ;;
  snp-sim) source scripts/demo-snp-sim.sh; demo_snp_sim; exit 0 ;;
  tdx-sim) source scripts/demo-tdx-sim.sh; demo_tdx_sim; exit 0 ;;
  azure-sim) source scripts/demo-azure-sim.sh; demo_azure_sim; exit 0 ;;
  *) die "--platform: '$PLATFORM' is not tpm, snp-sim, tdx-sim or azure-sim" ;;
esac

say "1/11 building sealbuild"
cargo build --locked -q -p sealbuild-agent -p sealbuild-verifier -p sealbuild-measure
BIN="$ROOT/target/debug"
AGENT="$BIN/sealbuild-agent"; VERIFIER="$BIN/sealbuild-verifier"; MEASURE="$BIN/sealbuild-measure"

say "2/11 manufacturing a software TPM: local TPM CA + EK certificates (swtpm_setup)"
scripts/swtpm-setup.sh "$OUT/tpm-state" "$OUT/tpm-ca"
PORT=$(free_port_pair)
swtpm socket --tpm2 --tpmstate dir="$OUT/tpm-state" \
  --server type=tcp,port="$PORT",bindaddr=127.0.0.1 \
  --ctrl type=tcp,port=$((PORT + 1)),bindaddr=127.0.0.1 \
  --flags not-need-init,startup-clear >"$OUT/swtpm.log" 2>&1 &
PIDS+=($!)
TCTI="swtpm:host=127.0.0.1,port=$PORT"
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$((PORT + 1))) 2>/dev/null && break; sleep 0.1; done
echo "    swtpm on 127.0.0.1:$PORT; EK CA: $OUT/tpm-ca/ca-certs"

say "3/11 simulated measured boot: extending a real firmware event log into the TPM"
BOOTLOG="$ROOT/tests/data/tpm/go-tpm-tools/eventlogs/ubuntu-2404-amd-sevsnp.bin"
cp "$BOOTLOG" "$OUT/binary_bios_measurements"
"$AGENT" simulate-boot --tcti "$TCTI" --eventlog "$OUT/binary_bios_measurements"

say "4/11 verifier state: two keys and a policy made from the TPM's PCRs"
VSTATE="$OUT/verifier"; mkdir -p "$VSTATE"
# platform-key: released to any attested machine matching the reference PCRs.
# build-signing: released only to sealed builds of the sample's commit.
"$VERIFIER" --state-dir "$VSTATE" keys generate --algorithm ecdsa-p256 --id platform-key | sed 's/^/    /'
"$VERIFIER" --state-dir "$VSTATE" keys generate --algorithm ed25519 --id build-signing | sed 's/^/    /'
"$AGENT" pcrs --tcti "$TCTI" --pcrs sha256:0,1,2,3,4,5,6,7 >"$OUT/pcrs.json"
"$MEASURE" tpm-reference --pcrs-json "$OUT/pcrs.json" --name swtpm-demo --key platform-key \
  --require-event-log >"$OUT/policy.toml"
# The sample project as a git checkout; the key is released only for sealed
# builds of it (statement policy on the build's source).
SRC="$OUT/hello"; make_sample_repo "$SRC"
COMMIT=$(git -C "$SRC" rev-parse HEAD)
cat >>"$OUT/policy.toml" <<TOML

[[key]]
id = "build-signing"
references = ["swtpm-demo"]
[key.statement]
source_digests = ["gitCommit:$COMMIT"]
build_types = ["https://sealbuild.invalid/build-types/sealed-build/v1"]
TOML
"$VERIFIER" --state-dir "$VSTATE" policy set "$OUT/policy.toml" | sed 's/^/    /'

say "5/11 starting the verifier (HTTPS on 127.0.0.1, SQLite at $VSTATE/verifier.db)"
rm -f "$OUT/verifier.addr"
SEALBUILD_LOG=warn "$VERIFIER" --state-dir "$VSTATE" serve --listen 127.0.0.1:0 \
  --ek-ca-dir "$OUT/tpm-ca/ca-certs" --address-file "$OUT/verifier.addr" >"$OUT/verifier.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [[ -s $OUT/verifier.addr ]] && break; sleep 0.1; done
[[ -s $OUT/verifier.addr ]] || { cat "$OUT/verifier.log"; die "the verifier did not start"; }
URL="https://$(cat "$OUT/verifier.addr")"
echo "    $URL (agents trust $VSTATE/tls/ca.pem)"
AGENT_ARGS=(--verifier "$URL" --verifier-ca "$VSTATE/tls/ca.pem" --tcti "$TCTI" --state-dir "$OUT/agent")

say "6/11 agent: register (EK certificate, AK, MakeCredential/ActivateCredential)"
"$AGENT" register "${AGENT_ARGS[@]}" | sed 's/^/    /'

say "7/11 agent: attest (nonce + ephemeral key bound into the quote) and receive the key"
"$AGENT" attest "${AGENT_ARGS[@]}" --eventlog "$OUT/binary_bios_measurements" --out "$OUT/released" \
  | sed 's/^/    /'
RELEASED=$(openssl pkey -in "$OUT/released/platform-key.pk8" -inform DER -pubout -outform DER | sha256sum | cut -d' ' -f1)
STORED=$("$VERIFIER" --state-dir "$VSTATE" keys list --json | python3 -c 'import json,sys; print([k["fingerprint"] for k in json.load(sys.stdin) if k["key_id"]=="platform-key"][0])')
[[ $RELEASED == "$STORED" ]] || die "released key sha256:$RELEASED differs from the verifier's sha256:$STORED"
echo "    released key fingerprint sha256:$RELEASED (matches the verifier's key, checked with OpenSSL)"
echo "    (build-signing was not released: it is reserved for sealed builds)"

say "8/11 sealed build of samples/hello (commit $COMMIT): preflight, runtime PCR 23, build, provenance, key release, DSSE"
rm -rf "$OUT/released"
"$AGENT" build "${AGENT_ARGS[@]}" --key build-signing --out "$OUT/bundle" --source "$SRC" \
  --artifacts 'out/*' --eventlog "$OUT/binary_bios_measurements" --name hello -- make 2>&1 | sed 's/^/    /'
for f in "$OUT/bundle"/*; do mv "$f" "$DEST/"; done; rmdir "$OUT/bundle"
"$VERIFIER" --state-dir "$VSTATE" result-key >"$DEST/verifier-result-key.pem"

say "9/11 offline verification of the bundle (what a consumer runs)"
"$VERIFIER" verify bundle --envelope "$DEST/hello.intoto.jsonl" --artifacts "$DEST/artifacts" \
  --signer-key "$DEST/signing-key.pub.pem" --ear "$DEST/evidence/ear.cose" \
  --verifier-key "$DEST/verifier-result-key.pem" --evidence "$DEST/evidence" | sed 's/^/    /'

say "10/11 the same envelope checked by the Python in-toto/securesystemslib peer"
PY=$(scripts/python-peers.sh)
"$PY" scripts/verify-dsse.py "$DEST/hello.intoto.jsonl" "$DEST/signing-key.pub.pem" "$DEST/artifacts" | sed 's/^/    /'

say "11/11 audit log"
"$VERIFIER" --state-dir "$VSTATE" audit verify | sed 's/^/    /'
echo "bundle in $DEST (working state in $DEST/work)"
say "demo complete"
