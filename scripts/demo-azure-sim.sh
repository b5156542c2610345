# shellcheck shell=bash
# The sealed build on an Azure-shaped confidential VM, simulated INSECURELY
# (sourced by scripts/demo.sh --platform azure-sim; uses its DEST, OUT, PIDS,
# ROOT, say, die, make_sample_repo, free_port_pair).
#
# An swtpm is laid out like an Azure vTPM (scripts/azure-sim-provision.sh):
# the attestation key persistent at 0x81000003 and, in NV 0x01400001, an HCL
# report whose SEV-SNP report binds the runtime claims naming that AK. The
# report is signed with the PUBLISHED snp-sim test chain; the verifier trusts
# that chain only because this build has the insecure-snp-sim feature AND its
# configuration names the chain. Everything else is the real Azure path: the
# agent's Azure collector (NV read, quote with the persistent AK, event log,
# runtime log in PCR 23), the Azure platform verifier (SNP rules for the
# paravisor, variable-data binding, quote by the HCL AK, binding, replay),
# an `azure` reference set, key release, DSSE-signed provenance, audit.
demo_azure_sim() {
  local T="$ROOT/target/insecure-snp-sim"
  say "1/10 building sealbuild (verifier with the INSECURE test-chain feature, into $T)"
  cargo build --locked -q --target-dir "$T" -p sealbuild-agent -p sealbuild-verifier \
    -p sealbuild-insecure-azure-sim --features sealbuild-verifier/insecure-snp-sim
  local AGENT="$T/debug/sealbuild-agent" VERIFIER="$T/debug/sealbuild-verifier"
  export SEALBUILD_AZURE_SIM="$T/debug/sealbuild-azure-sim"

  say "2/10 a software TPM as the CVM's vTPM, and a simulated measured boot"
  mkdir -p "$OUT/tpm-state"
  local PORT
  PORT=$(free_port_pair)
  swtpm socket --tpm2 --tpmstate dir="$OUT/tpm-state" \
    --server type=tcp,port="$PORT",bindaddr=127.0.0.1 \
    --ctrl type=tcp,port=$((PORT + 1)),bindaddr=127.0.0.1 \
    --flags not-need-init,startup-clear >"$OUT/swtpm.log" 2>&1 &
  PIDS+=($!)
  local TCTI="swtpm:host=127.0.0.1,port=$PORT"
  for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$((PORT + 1))) 2>/dev/null && break; sleep 0.1; done
  local BOOTLOG="$ROOT/tests/data/tpm/go-tpm-tools/eventlogs/ubuntu-2404-amd-sevsnp.bin"
  cp "$BOOTLOG" "$OUT/binary_bios_measurements"
  "$AGENT" simulate-boot --tcti "$TCTI" --eventlog "$OUT/binary_bios_measurements"

  say "3/10 INSECURE: the paravisor's HCL report (test-signed) into NV 0x01400001, AK at 0x81000003"
  local M
  M=$(printf '42%.0s' $(seq 48))
  scripts/azure-sim-provision.sh --tcti "$TCTI" --measurement "$M" --out "$OUT/azure-sim" | sed 's/^/    /'

  say "4/10 verifier state: a signing key and an azure reference set (paravisor measurement + vTPM PCRs)"
  local VSTATE="$OUT/verifier"; mkdir -p "$VSTATE"
  "$VERIFIER" --state-dir "$VSTATE" keys generate --algorithm ed25519 --id build-signing | sed 's/^/    /'
  local SRC="$OUT/hello"; make_sample_repo "$SRC"
  local COMMIT
  COMMIT=$(git -C "$SRC" rev-parse HEAD)
  "$AGENT" pcrs --tcti "$TCTI" --pcrs sha256:0,1,2,3,4,5,6,7 >"$OUT/pcrs.json"
  {
    printf 'version = 1\n\n[[reference]]\nname = "azure-cvm"\nplatform = "azure"\nrequire_event_log = true\n\n'
    printf '[reference.pcrs.sha256]\n'
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["sha256"]; [print(f"\"{k}\" = [\"{v}\"]") for k,v in sorted(d.items(), key=lambda kv:int(kv[0]))]' "$OUT/pcrs.json"
    printf '\n[reference.snp]\nmeasurements = ["%s"]\nproducts = ["genoa"]\nmin_abi = "0.0"\n\n' "$M"
    printf '[[key]]\nid = "build-signing"\nreferences = ["azure-cvm"]\n[key.statement]\n'
    printf 'source_digests = ["gitCommit:%s"]\nbuild_types = ["https://sealbuild.invalid/build-types/sealed-build/v1"]\n' "$COMMIT"
  } >"$OUT/policy.toml"
  "$VERIFIER" --state-dir "$VSTATE" policy set "$OUT/policy.toml" | sed 's/^/    /'
  cat >"$OUT/verifier.toml" <<TOML
state_dir = "$VSTATE"
# INSECURE: the simulated backend's published test chain.
snp_insecure_test_chain = "$ROOT/insecure/snp-sim/test-chain/cert_chain_vcek.pem"
snp_insecure_test_product = "genoa"
TOML

  say "5/10 starting the verifier (trusting the INSECURE test chain, by configuration)"
  local URL
  start_sim_verifier "$VERIFIER" "$VSTATE"

  # The VCEK travels with the evidence (on Azure the guest reads it from the
  # instance metadata service); without it the verifier's collateral store
  # must hold it (sealbuild-verifier collateral import snp --vcek).
  say "6/10 sealed build of samples/hello as azure:demo (HCL report + vTPM quote, statement in the quote and PCR 23)"
  "$AGENT" build --verifier "$URL" --verifier-ca "$VSTATE/tls/ca.pem" --tcti "$TCTI" \
    --state-dir "$OUT/agent" --platform azure --agent-id azure:demo \
    --eventlog "$OUT/binary_bios_measurements" --key build-signing --out "$OUT/bundle" \
    --azure-vcek "$ROOT/insecure/snp-sim/test-chain/vcek.der" \
    --source "$SRC" --artifacts 'out/*' --name hello -- make 2>&1 | sed 's/^/    /'

  say "7/10 offline verification of the bundle: envelope, artefacts, the verifier's EAR"
  verify_sim_bundle "$VERIFIER" "$VSTATE"

  say "8/10 ...and the raw evidence against AMD's roots: refused, as it must be (test keys)"
  local rc=0
  "$VERIFIER" verify bundle --envelope "$DEST/hello.intoto.jsonl" --artifacts "$DEST/artifacts" \
    --signer-key "$DEST/signing-key.pub.pem" --ear "$DEST/evidence/ear.cose" \
    --verifier-key "$DEST/verifier-result-key.pem" --evidence "$DEST/evidence" \
    >"$OUT/verify-evidence.txt" 2>&1 || rc=$?
  grep -E "evidence_quote|^rejected|^accepted" "$OUT/verify-evidence.txt" | sed 's/^/    /'
  [[ $rc == 1 ]] || die "verify bundle --evidence accepted an HCL report signed with the INSECURE test chain (exit $rc)"

  say "9/10 the same envelope checked by the Python in-toto/securesystemslib peer"
  local PY
  PY=$(scripts/python-peers.sh)
  "$PY" scripts/verify-dsse.py "$DEST/hello.intoto.jsonl" "$DEST/signing-key.pub.pem" "$DEST/artifacts" | sed 's/^/    /'

  say "10/10 audit log"
  "$VERIFIER" --state-dir "$VSTATE" audit verify | sed 's/^/    /'
  echo "bundle in $DEST (working state in $DEST/work)"
  say "demo complete (INSECURE simulated Azure confidential VM)"
}
