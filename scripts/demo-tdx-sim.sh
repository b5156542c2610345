# shellcheck shell=bash
# The sealed build on the INSECURE simulated Intel TDX backend (sourced by
# scripts/demo.sh --platform tdx-sim; uses its DEST, OUT, PIDS, ROOT, say,
# die, make_sample_repo).
#
# The agent's quotes are signed through a published test PCK chain
# (insecure/tdx-sim/test-chain) and the TCB Info / QE Identity in the
# verifier's collateral store are signed with a published test key; the
# verifier trusts that root only because this build has the insecure-tdx-sim
# feature AND its configuration names the root. Everything else is the real
# TDX path: DCAP verification (PCK chain, CRLs, QE report, quote signature,
# TCB level matching), the CCEL replayed into RTMR0-2, the sealed build's
# runtime log replayed into RTMR3, REPORT_DATA binding, policy, key release,
# DSSE-signed SLSA provenance, audit log.
demo_tdx_sim() {
  local T="$ROOT/target/insecure-tdx-sim"
  say "1/9 building sealbuild with the INSECURE simulated TDX backend (into $T)"
  cargo build --locked -q --target-dir "$T" -p sealbuild-agent -p sealbuild-verifier \
    -p sealbuild-insecure-tdx-sim \
    --features sealbuild-agent/insecure-tdx-sim,sealbuild-verifier/insecure-tdx-sim
  local AGENT="$T/debug/sealbuild-agent" VERIFIER="$T/debug/sealbuild-verifier" SIM="$T/debug/sealbuild-tdx-sim"

  say "2/9 reference values of the simulated TD (MRTD, RTMR0-2 of its CCEL, MRSEAM)"
  "$SIM" reference >"$OUT/reference.json"
  sed 's/^/    /' "$OUT/reference.json"
  local MRTD R0 R1 R2 SEAM
  read -r MRTD R0 R1 R2 SEAM < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["mrtd"], r["rtmr0"], r["rtmr1"], r["rtmr2"], r["mr_seam"])' "$OUT/reference.json")

  say "3/9 verifier state: a signing key, a TDX policy, and the simulated platform's collateral"
  local VSTATE="$OUT/verifier"; mkdir -p "$VSTATE"
  "$VERIFIER" --state-dir "$VSTATE" keys generate --algorithm ed25519 --id build-signing | sed 's/^/    /'
  local SRC="$OUT/hello"; make_sample_repo "$SRC"
  local COMMIT
  COMMIT=$(git -C "$SRC" rev-parse HEAD)
  cat >"$OUT/policy.toml" <<TOML
version = 1

[[reference]]
name = "tdx-sim-td"
platform = "tdx"

[reference.tdx]
mrtd = ["$MRTD"]
rtmr0 = ["$R0"]
rtmr1 = ["$R1"]
rtmr2 = ["$R2"]
mr_seam = ["$SEAM"]
tcb_statuses = ["UpToDate"]

[[key]]
id = "build-signing"
references = ["tdx-sim-td"]
[key.statement]
source_digests = ["gitCommit:$COMMIT"]
build_types = ["https://sealbuild.invalid/build-types/sealed-build/v1"]
TOML
  "$VERIFIER" --state-dir "$VSTATE" policy set "$OUT/policy.toml" | sed 's/^/    /'
  local CDIR
  CDIR=$("$SIM" collateral --store "$VSTATE/collateral")
  echo "    test collateral (TCB Info, QE Identity, CRLs) in $CDIR"
  cat >"$OUT/verifier.toml" <<TOML
state_dir = "$VSTATE"
# INSECURE: the simulated backend's published test root, instead of Intel's.
tdx_insecure_test_root = "$ROOT/insecure/tdx-sim/test-chain/root.der"
TOML

  say "4/9 starting the verifier (trusting the INSECURE test root, by configuration)"
  local URL
  start_sim_verifier "$VERIFIER" "$VSTATE"

  say "5/9 sealed build of samples/hello in the simulated TD (build steps in RTMR3, statement in REPORT_DATA)"
  "$AGENT" build --verifier "$URL" --verifier-ca "$VSTATE/tls/ca.pem" --platform tdx-sim \
    --agent-id tdx:demo --key build-signing --out "$OUT/bundle" \
    --source "$SRC" --artifacts 'out/*' --name hello -- make 2>&1 | sed 's/^/    /'

  say "6/9 offline verification of the bundle: envelope, artefacts, the verifier's EAR"
  verify_sim_bundle "$VERIFIER" "$VSTATE"

  say "7/9 ...and the raw quote against Intel's root: refused, as it must be (test keys)"
  local rc=0
  "$VERIFIER" verify tdx --quote "$DEST/evidence/quote.dat" --collateral-dir "$CDIR" \
    >"$OUT/verify-tdx.txt" 2>&1 || rc=$?
  sed 's/^/    /' "$OUT/verify-tdx.txt"
  [[ $rc == 1 ]] || die "verify tdx accepted a quote signed through the INSECURE test chain (exit $rc)"
  rc=0
  "$VERIFIER" verify bundle --envelope "$DEST/hello.intoto.jsonl" --artifacts "$DEST/artifacts" \
    --signer-key "$DEST/signing-key.pub.pem" --evidence "$DEST/evidence" \
    --tdx-collateral-dir "$CDIR" >"$OUT/verify-evidence.txt" 2>&1 || rc=$?
  grep evidence_quote "$OUT/verify-evidence.txt" | sed 's/^/    /'
  [[ $rc == 1 ]] || die "verify bundle --evidence accepted the INSECURE test quote (exit $rc)"

  say "8/9 the same envelope checked by the Python in-toto/securesystemslib peer"
  local PY
  PY=$(scripts/python-peers.sh)
  "$PY" scripts/verify-dsse.py "$DEST/hello.intoto.jsonl" "$DEST/signing-key.pub.pem" "$DEST/artifacts" | sed 's/^/    /'

  say "9/9 audit log"
  "$VERIFIER" --state-dir "$VSTATE" audit verify | sed 's/^/    /'
  echo "bundle in $DEST (working state in $DEST/work)"
  say "demo complete (INSECURE simulated TDX)"
}
