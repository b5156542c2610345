#!/usr/bin/env bash
# sealbuild on a real measured boot: a QEMU VM (OVMF firmware, an swtpm vTPM
# with EK certificates from a local CA, Debian's kernel booted directly, an
# initramfs with the agent) runs the sealed build of samples/hello, attested
# with the firmware event log it really produced, against reference values
# computed from the artefacts (sealbuild-measure tpm-reference --kernel).
#
# Usage: scripts/qemu-demo.sh [--out DIR] [--memory MiB] [--extra-cmdline STR]
#   --out DIR      where the bundle is left (default ./qemu-demo-out, replaced
#                  if it is a previous output); working state in DIR/work/
#   --memory MiB   guest memory (default 512); PCR 4 depends on it
#   --extra-cmdline STR  boot with STR appended to the kernel command line
#                  while the verifier keeps the reference values of the plain
#                  one: the run ends with the verifier's refusal (exit 1),
#                  naming PCR 9 and the event that differs
#   --initrd-extra FILE  (tests) boot an initrd with FILE appended to /etc
#                  after the reference values were computed: refused (PCR 9's
#                  initrd event)
# Exit: 0 the sealed build was accepted and its bundle verified; 1 the
# verifier refused; 2 a usage or setup error.
# The VM runs under TCG (no KVM needed), always inside a timeout
# (SEALBUILD_VM_TIMEOUT, default 400 s). The kernel, the initramfs and the
# golden event log are cached in target/qemu-vm/ (SEALBUILD_VM_CACHE).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/lib.sh
source qemu/vm.sh

DEST="./qemu-demo-out"
MEMORY=512
EXTRA=""
INITRD_EXTRA=""
while (($#)); do
  case "$1" in
    --out) DEST=${2:?--out needs a directory}; shift 2 ;;
    --memory) MEMORY=${2:?--memory needs MiB}; shift 2 ;;
    --extra-cmdline) EXTRA=${2?--extra-cmdline needs a string}; shift 2 ;;
    --initrd-extra) INITRD_EXTRA=${2:?--initrd-extra needs a file}; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
if ! [[ $MEMORY =~ ^[0-9]+$ ]] || ((MEMORY < 256)); then
  die "--memory: '$MEMORY' is not a number of MiB >= 256"
fi
if [[ -e $DEST && -n $(ls -A "$DEST" 2>/dev/null) ]]; then
  [[ -f $DEST/work/.sealbuild-qemu-demo ]] || die "$DEST is not empty and not a previous qemu-demo output; give a new or empty directory"
  rm -rf "$DEST"
fi
mkdir -p "$DEST/work"; DEST=$(cd "$DEST" && pwd)
OUT="$DEST/work"; touch "$OUT/.sealbuild-qemu-demo"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

ensure_rust
ensure_debian_packages
ensure_vm_packages

say "1/9 building sealbuild (agent, verifier, measure)"
cargo build --locked -q -p sealbuild-agent -p sealbuild-verifier -p sealbuild-measure
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
AGENT="$BIN/sealbuild-agent"; VERIFIER="$BIN/sealbuild-verifier"; MEASURE="$BIN/sealbuild-measure"

say "2/9 the VM's parts: Debian's kernel, an initramfs with busybox, the agent and the build's tools"
KDIR=$(vm_kernel)
KERNEL="$KDIR/vmlinuz"
INITRD=$(vm_initramfs "$AGENT")
echo "    kernel $KERNEL ($(cat "$KDIR/version")); initramfs $INITRD"
echo "    firmware $VM_OVMF_CODE (+ a fresh copy of $(basename "$VM_OVMF_VARS")); $(qemu-system-x86_64 --version | head -1)"

say "3/9 golden event log of this firmware and VM configuration (PCRs 0-3, 5-7)"
# One calibration boot per firmware, QEMU, memory size and VM layout; its
# kernel command line differs, so its PCR 9 is not the one predicted below.
GOLDEN_KEY=$( { sha256sum "$VM_OVMF_CODE" "$VM_OVMF_VARS" "$ROOT/qemu/vm.sh"; qemu-system-x86_64 --version | head -1; echo "$MEMORY"; } | sha256sum | cut -c1-16)
GOLDEN="$VM_CACHE/golden-$GOLDEN_KEY-${MEMORY}M.bin"
if [[ ! -s $GOLDEN ]]; then
  echo "    calibration boot (once; cached as $GOLDEN)"
  vm_boot "$OUT/calibration" "$KERNEL" "$INITRD" "$VM_APPEND sealbuild.calibrate" "$MEMORY" \
    || die "the calibration boot failed (see $OUT/calibration/)"
  [[ -s $OUT/calibration/binary_bios_measurements ]] || die "the calibration boot sent no event log (see $OUT/calibration/console.log)"
  cp "$OUT/calibration/binary_bios_measurements" "$GOLDEN.tmp" && mv "$GOLDEN.tmp" "$GOLDEN"
fi
cp "$GOLDEN" "$OUT/golden-eventlog.bin"
echo "    $GOLDEN"

say "4/9 reference values computed from the artefacts: kernel, initrd, command line, memory"
"$MEASURE" tpm-reference --kernel "$KERNEL" --initrd "$INITRD" --append "$VM_APPEND" \
  --memory "$MEMORY" --golden-eventlog "$OUT/golden-eventlog.bin" --name qemu-vm \
  --key platform-key >"$OUT/policy.toml"
COMMIT=$(vm_sample_commit)
cat >>"$OUT/policy.toml" <<TOML

[[key]]
id = "build-signing"
references = ["qemu-vm"]
[key.statement]
source_digests = ["gitCommit:$COMMIT"]
build_types = ["https://sealbuild.invalid/build-types/sealed-build/v1"]
TOML
grep -E '^"[0-9]"|^description|^digest' "$OUT/policy.toml" | sed 's/^/    /'

say "5/9 starting the verifier (HTTPS on 127.0.0.1, its certificate also names $VM_VERIFIER_NAME)"
VSTATE="$OUT/verifier"; mkdir -p "$VSTATE"
cat >"$OUT/verifier.toml" <<TOML
state_dir = "$VSTATE"
tls_names = ["$VM_VERIFIER_NAME"]
# PCR 9 (the EFI stub's command line and initrd) is replayed from the log too.
replay_pcrs = [0, 1, 2, 3, 4, 5, 6, 7, 9]
TOML
V=("$VERIFIER" --config "$OUT/verifier.toml")
"${V[@]}" keys generate --algorithm ecdsa-p256 --id platform-key | sed 's/^/    /'
"${V[@]}" keys generate --algorithm ed25519 --id build-signing | sed 's/^/    /'
"${V[@]}" policy set "$OUT/policy.toml" | sed 's/^/    /'
# The vTPM is manufactured now (its CA is the verifier's EK CA directory).
scripts/swtpm-setup.sh "$OUT/vm/tpm-state" "$OUT/vm/tpm-ca"
rm -f "$OUT/verifier.addr"
SEALBUILD_LOG=warn "${V[@]}" serve --listen 127.0.0.1:0 --ek-ca-dir "$OUT/vm/tpm-ca/ca-certs" \
  --address-file "$OUT/verifier.addr" >"$OUT/verifier.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [[ -s $OUT/verifier.addr ]] && break; sleep 0.1; done
[[ -s $OUT/verifier.addr ]] || { cat "$OUT/verifier.log"; die "the verifier did not start"; }
ADDR=$(cat "$OUT/verifier.addr"); PORT=${ADDR##*:}
echo "    https://$(cat "$OUT/verifier.addr"); the guest reaches it as https://$VM_VERIFIER_NAME:$PORT (user-mode network, host 10.0.2.2)"

BOOT_INITRD=$INITRD
if [[ -n $INITRD_EXTRA ]]; then
  # A changed initrd: one more file, appended as a second cpio archive.
  BOOT_INITRD="$OUT/changed-initrd.cpio.gz"
  tmp=$(mktemp -d); mkdir -p "$tmp/etc"; cp "$INITRD_EXTRA" "$tmp/etc/"
  { cat "$INITRD"; (cd "$tmp" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -n); } >"$BOOT_INITRD"
  rm -rf "$tmp"
  echo "    booting a changed initrd: $(basename "$INITRD_EXTRA") added after the reference values were computed"
fi
APPEND="$VM_APPEND${EXTRA:+ $EXTRA}"
say "6/9 booting the VM (TCG, ${MEMORY} MiB, command line \"$APPEND\"): register, attest, sealed build"
VMRC=0
vm_boot "$OUT/vm" "$KERNEL" "$BOOT_INITRD" "$APPEND" "$MEMORY" "$PORT" "$VSTATE/tls/ca.pem" || VMRC=$?
GOUT="$OUT/vm/guest-out.clean"
REG=$(vm_step register "$GOUT"); ATT=$(vm_step attest "$GOUT"); BLD=$(vm_step build "$GOUT")
echo "    guest steps: register=$REG attest=$ATT build=$BLD (QEMU exit $VMRC)"
grep -q '^SEALBUILD-DONE$' "$GOUT" || die "the VM did not finish its run (see $OUT/vm/console.log, $OUT/vm/qemu.log)"
[[ $REG == 0 ]] || die "the agent could not register (see $OUT/vm/console.log)"

say "7/9 the firmware event log the VM measured, replayed"
"$VERIFIER" eventlog replay "$OUT/vm/binary_bios_measurements" | sed 's/^/    /'

if [[ $ATT == 1 || $BLD == 1 ]]; then
  say "8/9 the verifier refused this VM; its reasons, as stored in its audit log:"
  "${V[@]}" audit list --json >"$OUT/audit.json"
  python3 - "$OUT/audit.json" <<'PY' | sed 's/^/    /'
import json, sys
for e in reversed(json.load(open(sys.argv[1]))):
    body = e.get("body") or {}
    if e.get("kind") == "appraisal" and body.get("reasons"):
        print(f"audit entry {e['seq']}: appraisal of agent {body.get('agent_id', '?')[:16]}…, verdict {body.get('verdict')}")
        for r in body["reasons"]:
            print(f"  - [{r.get('check')}] {r.get('message')}")
        break
else:
    print("(no refused appraisal in the audit log)")
PY
  "${V[@]}" audit verify | sed 's/^/    /'
  say "refused: the verifier released no key to this VM (exit 1)"
  exit 1
fi
[[ $ATT == 0 ]] || die "the agent's attestation failed with exit code $ATT (see $OUT/vm/console.log)"
[[ $BLD == 0 ]] || die "the sealed build failed with exit code $BLD (see $OUT/vm/console.log)"

say "8/9 offline verification of the bundle the VM sent back (what a consumer runs)"
[[ -f $OUT/vm/bundle/hello.intoto.jsonl ]] || die "the VM sent no bundle back (see $OUT/vm/console.log)"
for f in "$OUT/vm/bundle"/*; do mv "$f" "$DEST/"; done; rmdir "$OUT/vm/bundle"
"${V[@]}" result-key >"$DEST/verifier-result-key.pem"
"$VERIFIER" verify bundle --envelope "$DEST/hello.intoto.jsonl" --artifacts "$DEST/artifacts" \
  --signer-key "$DEST/signing-key.pub.pem" --ear "$DEST/evidence/ear.cose" \
  --verifier-key "$DEST/verifier-result-key.pem" --evidence "$DEST/evidence" | sed 's/^/    /'

say "9/9 audit log"
"${V[@]}" audit verify | sed 's/^/    /'
echo "bundle in $DEST (working state in $DEST/work)"
say "qemu demo complete"
