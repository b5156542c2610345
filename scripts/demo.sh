#!/usr/bin/env bash
# sealbuild's main job on the embedded default, end to end on one machine:
#   a software TPM (swtpm) with EK certificates from a local CA, a simulated
#   measured boot (a real firmware event log extended into it), a verifier on
#   SQLite with a generated key and a policy made from the TPM's PCRs, and an
#   agent that registers, attests and receives the key.
#
# Usage: scripts/demo.sh [--out DIR]
#   --out DIR  keep every file (TPM state, CA, verifier state and database,
#              policy, released key, EAR) in DIR; default: a temporary
#              directory removed at exit.
# On a fresh Debian 12 it installs what is missing (as root), or says what to.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/lib.sh

OUT=""
while (($#)); do
  case "$1" in
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
if [[ -z $OUT ]]; then
  OUT=$(mktemp -d); KEEP=0
else
  mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd); KEEP=1
  [[ -z $(ls -A "$OUT") ]] || die "$OUT is not empty; give a new or empty directory"
fi

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  ((KEEP)) || rm -rf "$OUT"
}
trap cleanup EXIT

ensure_rust
ensure_debian_packages

say "1/8 building sealbuild"
cargo build --locked -q -p sealbuild-agent -p sealbuild-verifier -p sealbuild-measure
BIN="$ROOT/target/debug"
AGENT="$BIN/sealbuild-agent"; VERIFIER="$BIN/sealbuild-verifier"; MEASURE="$BIN/sealbuild-measure"

say "2/8 manufacturing a software TPM: local TPM CA + EK certificates (swtpm_setup)"
scripts/swtpm-setup.sh "$OUT/tpm-state" "$OUT/tpm-ca"
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
PORT=$(free_port_pair)
swtpm socket --tpm2 --tpmstate dir="$OUT/tpm-state" \
  --server type=tcp,port="$PORT",bindaddr=127.0.0.1 \
  --ctrl type=tcp,port=$((PORT + 1)),bindaddr=127.0.0.1 \
  --flags not-need-init,startup-clear >"$OUT/swtpm.log" 2>&1 &
PIDS+=($!)
TCTI="swtpm:host=127.0.0.1,port=$PORT"
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$((PORT + 1))) 2>/dev/null && break; sleep 0.1; done
echo "    swtpm on 127.0.0.1:$PORT; EK CA: $OUT/tpm-ca/ca-certs"

say "3/8 simulated measured boot: extending a real firmware event log into the TPM"
BOOTLOG="$ROOT/tests/data/tpm/go-tpm-tools/eventlogs/ubuntu-2404-amd-sevsnp.bin"
cp "$BOOTLOG" "$OUT/binary_bios_measurements"
"$AGENT" simulate-boot --tcti "$TCTI" --eventlog "$OUT/binary_bios_measurements"

say "4/8 verifier state: a release key and a policy made from the TPM's PCRs"
VSTATE="$OUT/verifier"; mkdir -p "$VSTATE"
"$VERIFIER" --state-dir "$VSTATE" keys generate --algorithm ed25519 --id build-signing | sed 's/^/    /'
"$AGENT" pcrs --tcti "$TCTI" --pcrs sha256:0,1,2,3,4,5,6,7 >"$OUT/pcrs.json"
"$MEASURE" tpm-reference --pcrs-json "$OUT/pcrs.json" --name swtpm-demo --key build-signing \
  --require-event-log >"$OUT/policy.toml"
"$VERIFIER" --state-dir "$VSTATE" policy set "$OUT/policy.toml" | sed 's/^/    /'

say "5/8 starting the verifier (HTTPS on 127.0.0.1, SQLite at $VSTATE/verifier.db)"
rm -f "$OUT/verifier.addr"
SEALBUILD_LOG=warn "$VERIFIER" --state-dir "$VSTATE" serve --listen 127.0.0.1:0 \
  --ek-ca-dir "$OUT/tpm-ca/ca-certs" --address-file "$OUT/verifier.addr" >"$OUT/verifier.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [[ -s $OUT/verifier.addr ]] && break; sleep 0.1; done
[[ -s $OUT/verifier.addr ]] || { cat "$OUT/verifier.log"; die "the verifier did not start"; }
URL="https://$(cat "$OUT/verifier.addr")"
echo "    $URL (agents trust $VSTATE/tls/ca.pem)"
AGENT_ARGS=(--verifier "$URL" --verifier-ca "$VSTATE/tls/ca.pem" --tcti "$TCTI" --state-dir "$OUT/agent")

say "6/8 agent: register (EK certificate, AK, MakeCredential/ActivateCredential)"
"$AGENT" register "${AGENT_ARGS[@]}" | sed 's/^/    /'

say "7/8 agent: attest (nonce + ephemeral key bound into the quote) and receive the key"
"$AGENT" attest "${AGENT_ARGS[@]}" --eventlog "$OUT/binary_bios_measurements" --out "$OUT/released" \
  | sed 's/^/    /'
RELEASED=$(openssl pkey -in "$OUT/released/build-signing.pk8" -inform DER -pubout -outform DER | sha256sum | cut -d' ' -f1)
STORED=$("$VERIFIER" --state-dir "$VSTATE" keys list --json | python3 -c 'import json,sys; print([k["fingerprint"] for k in json.load(sys.stdin) if k["key_id"]=="build-signing"][0])')
[[ $RELEASED == "$STORED" ]] || die "released key sha256:$RELEASED differs from the verifier's sha256:$STORED"
echo "    released key fingerprint sha256:$RELEASED (matches the verifier's key)"

say "8/8 audit log"
"$VERIFIER" --state-dir "$VSTATE" audit verify | sed 's/^/    /'
((KEEP)) && echo "files kept in $OUT"
say "demo complete"
