#!/usr/bin/env bash
# The QEMU build VM's tests (scripts/test.sh runs them; about 2 minutes under
# TCG on 2 cores): through scripts/qemu-demo.sh,
#   1. the accepted sealed build in the VM, its bundle verified offline;
#   2. --extra-cmdline: refused, naming PCR 9's LoadOptions event;
#   3. an initrd changed after the reference values were computed: refused,
#      naming PCR 9's initrd event;
#   4. PCRs 4 and 9 predicted from the artefacts alone (no golden log) equal
#      the replay of the real event log, at 512 MiB (run 1's VM) and 768 MiB
#      (a calibration boot, another command line).
# Missing QEMU, OVMF or swtpm (and no way to install them) fails the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/lib.sh
source qemu/vm.sh
ensure_vm_packages

BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
T=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
export VM_QUIET=1
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
passed=0

# run NAME EXPECTED_EXIT ARGS...: qemu-demo.sh into $T/NAME, its output in $T/NAME.log.
run() {
  local name=$1 want=$2 rc=0 start=$SECONDS
  shift 2
  scripts/qemu-demo.sh --out "$T/$name" "$@" >"$T/$name.log" 2>&1 || rc=$?
  if ((rc != want)); then
    tail -40 "$T/$name.log" >&2
    fail "qemu-demo.sh $* exited $rc, expected $want"
  fi
  echo "    qemu-demo.sh $* -> exit $rc ($((SECONDS - start)) s)"
}

# predicted_equals_replay LOG MEMORY APPEND: PCRs 4 and 9 from the artefacts
# (no golden log) equal the replay of the event log LOG a VM with MEMORY MiB
# and command line APPEND measured.
predicted_equals_replay() {
  local log=$1 mem=$2 append=$3 initrd
  initrd=$(vm_initramfs "$BIN/sealbuild-agent")
  "$BIN/sealbuild-measure" tpm-reference --kernel "$(vm_kernel)/vmlinuz" --initrd "$initrd" \
    --append "$append" --memory "$mem" --key k >"$T/predicted-$mem.toml"
  "$BIN/sealbuild-verifier" eventlog replay --json "$log" >"$T/replayed-$mem.json"
  python3 - "$T/predicted-$mem.toml" "$T/replayed-$mem.json" "$mem" <<'PY' || fail "predicted PCRs differ from the real event log at $mem MiB"
import json, sys, tomllib
pred = tomllib.load(open(sys.argv[1], "rb"))["reference"][0]["pcrs"]["sha256"]
real = json.load(open(sys.argv[2]))["sha256"]
ok = True
for pcr in ("4", "9"):
    p, r = pred[pcr][0], real[pcr]
    print(f"    {sys.argv[3]} MiB PCR {pcr}: predicted {p[:16]}…, event log {r[:16]}… {'equal' if p == r else 'DIFFERENT'}")
    ok &= p == r
sys.exit(0 if ok else 1)
PY
}

say "QEMU VM 1/4: the accepted sealed build (512 MiB)"
run accepted 0
grep -q '^    accepted$' "$T/accepted.log" || fail "the bundle was not verified offline"
grep -q 'qemu demo complete' "$T/accepted.log" || fail "the accepted run did not complete"
passed=$((passed + 1))

say "QEMU VM 2/4: an extra kernel argument is refused (PCR 9, LoadOptions)"
run extra 1 --extra-cmdline "sealbuild.debug=1"
grep -E 'event_policy.*PCR 9 event [0-9]+ \(EV_EVENT_TAG .*LOADED_IMAGE::LoadOptions.*differs: expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}' "$T/extra.log" \
  | tail -1 | sed 's/^ */    /' | grep . || fail "the refusal does not name PCR 9's LoadOptions event"
passed=$((passed + 1))

say "QEMU VM 3/4: an initrd changed after the reference values were computed is refused (PCR 9, initrd)"
echo "changed" >"$T/sealbuild-changed"
run initrd 1 --initrd-extra "$T/sealbuild-changed"
grep -E 'event_policy.*PCR 9 event [0-9]+ \(EV_EVENT_TAG .*Linux initrd.*differs' "$T/initrd.log" \
  | tail -1 | sed 's/^ */    /' | grep . || fail "the refusal does not name PCR 9's initrd event"
passed=$((passed + 1))

say "QEMU VM 4/4: PCRs 4 and 9 predicted from the artefacts equal the real event log's, at 512 and 768 MiB"
predicted_equals_replay "$T/accepted/work/vm/binary_bios_measurements" 512 "$VM_APPEND"
VM_QUIET=1 vm_boot "$T/boot-768" "$(vm_kernel)/vmlinuz" "$(vm_initramfs "$BIN/sealbuild-agent")" \
  "$VM_APPEND sealbuild.calibrate" 768 || fail "the 768 MiB boot failed"
predicted_equals_replay "$T/boot-768/binary_bios_measurements" 768 "$VM_APPEND sealbuild.calibrate"
passed=$((passed + 1))
echo "qemu-vm: $passed passed, 0 failed"
