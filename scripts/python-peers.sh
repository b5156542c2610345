#!/usr/bin/env bash
# Prepares the Python peers of sealbuild's interoperability tests
# (tests/tests/peers_python.rs) and prints the path of their python.
#
# A virtual environment is created once under target/python-peers-venv (or
# $SEALBUILD_PYTHON_PEERS_VENV) with the packages below installed by pip from
# the Python package index; later runs reuse it while the package list is
# unchanged. Everything but the final path goes to stderr. Exits non-zero, with
# the reason, when python3, its venv module or pip fail.
#
# The peers:
#   securesystemslib     DSSE envelopes and the ed25519 / ecdsa-sha2-nistp256 /
#                        ecdsa-sha2-nistp384 signature schemes
#   in-toto              in-toto's metadata loading (DSSE envelopes)
#   in-toto-attestation  the in-toto Attestation Framework's own bindings:
#                        Statement v1 and SLSA Provenance v1 (protobuf)
#   pycose               COSE_Sign1 (RFC 9052), for the EAR
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

# Versions the tests were written against; bump them here, in one place.
packages=(
  securesystemslib==1.6.0
  in-toto==3.1.0
  in-toto-attestation==0.9.3
  pycose==1.1.0
  # pycose 1.1.0 needs CBOR arrays decoded as lists; cbor2 6 returns tuples
  # inside tags, and pycose then refuses every COSE message.
  cbor2==5.9.0
)
venv=${SEALBUILD_PYTHON_PEERS_VENV:-$PWD/target/python-peers-venv}
stamp=$venv/.sealbuild-packages
want="${packages[*]}"

mkdir -p "$(dirname "$venv")"
# One preparer at a time (parallel test binaries).
exec 9>"$venv.lock"
flock 9

if [[ -x $venv/bin/python && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
  echo "$venv/bin/python"
  exit 0
fi

command -v python3 >/dev/null \
  || die "python3 not found: install the Debian packages python3 python3-venv (scripts/test.sh does)"
say "creating the Python peer environment in $venv"
rm -rf "$venv"
python3 -m venv "$venv" >&2 \
  || die "python3 -m venv $venv failed: install the Debian package python3-venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}" >&2 \
  || die "pip install ${packages[*]} failed (it needs to reach the Python package index)"
"$venv/bin/python" -c 'import securesystemslib.dsse, in_toto.models.metadata, in_toto_attestation.v1.statement, pycose.messages' >&2 \
  || die "the Python peers were installed but do not import"
printf '%s' "$want" >"$stamp"
echo "$venv/bin/python"
