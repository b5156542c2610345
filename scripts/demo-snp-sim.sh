# shellcheck shell=bash
# The sealed build on the INSECURE simulated SEV-SNP backend (sourced by
# scripts/demo.sh --platform snp-sim; uses its DEST, OUT, PIDS, ROOT, say, die,
# make_sample_repo).
#
# The agent's reports are signed with a published test ARK -> ASK -> VCEK
# chain (insecure/snp-sim/test-chain); the verifier trusts that chain only
# because this build has the insecure-snp-sim feature AND its configuration
# names the chain. Everything else is the real SEV-SNP path: the launch
# digest from sealbuild-measure, REPORT_DATA binding, chain + signature +
# TCB + policy checks, key release, DSSE-signed SLSA provenance, audit log.
demo_snp_sim() {
  local T="$ROOT/target/insecure-snp-sim"
  say "1/9 building sealbuild with the INSECURE simulated SEV-SNP backend (into $T)"
  cargo build --locked -q --target-dir "$T" -p sealbuild-agent -p sealbuild-verifier -p sealbuild-measure \
    --features sealbuild-agent/insecure-snp-sim,sealbuild-verifier/insecure-snp-sim
  local AGENT="$T/debug/sealbuild-agent" VERIFIER="$T/debug/sealbuild-verifier" MEASURE="$T/debug/sealbuild-measure"

  say "2/9 expected launch digest of the build VM (Debian OVMF, 1 vCPU EPYC-v4, QEMU)"
  [[ -f /usr/share/ovmf/OVMF.fd ]] || die "/usr/share/ovmf/OVMF.fd is missing (Debian package ovmf)"
  local M
  M=$("$MEASURE" snp --ovmf /usr/share/ovmf/OVMF.fd --vcpus 1 --vcpu-type EPYC-v4)
  echo "    measurement $M"

  say "3/9 verifier state: a signing key and an SEV-SNP policy"
  local VSTATE="$OUT/verifier"; mkdir -p "$VSTATE"
  "$VERIFIER" --state-dir "$VSTATE" keys generate --algorithm ed25519 --id build-signing | sed 's/^/    /'
  local SRC="$OUT/hello"; make_sample_repo "$SRC"
  local COMMIT
  COMMIT=$(git -C "$SRC" rev-parse HEAD)
  cat >"$OUT/policy.toml" <<TOML
version = 1

[[reference]]
name = "snp-sim-ovmf"
platform = "snp"

[reference.snp]
measurements = ["$M"]
products = ["genoa"]
signing_keys = ["vcek"]
vmpls = [0]
min_abi = "0.0"

[reference.snp.min_tcb]
genoa = { bl = 10, tee = 0, snp = 23, ucode = 84 }

[[key]]
id = "build-signing"
references = ["snp-sim-ovmf"]
[key.statement]
source_digests = ["gitCommit:$COMMIT"]
build_types = ["https://sealbuild.invalid/build-types/sealed-build/v1"]
TOML
  "$VERIFIER" --state-dir "$VSTATE" policy set "$OUT/policy.toml" | sed 's/^/    /'
  cat >"$OUT/verifier.toml" <<TOML
state_dir = "$VSTATE"
# INSECURE: the simulated backend's published test chain.
snp_insecure_test_chain = "$ROOT/insecure/snp-sim/test-chain/cert_chain_vcek.pem"
snp_insecure_test_product = "genoa"
TOML

  say "4/9 starting the verifier (trusting the INSECURE test chain, by configuration)"
  local URL
  start_sim_verifier "$VERIFIER" "$VSTATE"

  say "5/9 sealed build of samples/hello on simulated SEV-SNP (statement bound in REPORT_DATA)"
  "$AGENT" build --verifier "$URL" --verifier-ca "$VSTATE/tls/ca.pem" --platform snp-sim \
    --sim-measurement "$M" --agent-id snp:demo --key build-signing --out "$OUT/bundle" \
    --source "$SRC" --artifacts 'out/*' --name hello -- make 2>&1 | sed 's/^/    /'

  say "6/9 offline verification of the bundle: envelope, artefacts, the verifier's EAR"
  verify_sim_bundle "$VERIFIER" "$VSTATE"

  say "7/9 ...and the raw evidence against AMD's roots: refused, as it must be (test keys)"
  local rc=0
  "$VERIFIER" verify snp --report "$DEST/evidence/report.bin" --vcek "$DEST/evidence/vcek.der" \
    >"$OUT/verify-snp.txt" 2>&1 || rc=$?
  sed 's/^/    /' "$OUT/verify-snp.txt"
  [[ $rc == 1 ]] || die "verify snp accepted a report signed with the INSECURE test chain (exit $rc)"

  say "8/9 the same envelope checked by the Python in-toto/securesystemslib peer"
  local PY
  PY=$(scripts/python-peers.sh)
  "$PY" scripts/verify-dsse.py "$DEST/hello.intoto.jsonl" "$DEST/signing-key.pub.pem" "$DEST/artifacts" | sed 's/^/    /'

  say "9/9 audit log"
  "$VERIFIER" --state-dir "$VSTATE" audit verify | sed 's/^/    /'
  echo "bundle in $DEST (working state in $DEST/work)"
  say "demo complete (INSECURE simulated SEV-SNP)"
}
