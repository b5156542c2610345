#!/usr/bin/env bash
# Prepares the reference SEV-SNP launch-digest calculator used by
# firmware-measurements/tests/snp_measure.rs and prints the path of its
# `sev-snp-measure` executable.
#
# A virtual environment is created once under target/sev-snp-measure-venv (or
# $SEALBUILD_SNP_MEASURE_VENV) with sev-snp-measure installed by pip from the
# Python package index; later runs reuse it while the version is unchanged.
# Everything but the final path goes to stderr. Exits non-zero, with the
# reason, when python3, its venv module or pip fail.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

# The version the tests were written against; bump it here, in one place.
package=sev-snp-measure==0.0.13
venv=${SEALBUILD_SNP_MEASURE_VENV:-$PWD/target/sev-snp-measure-venv}
stamp=$venv/.sealbuild-packages

mkdir -p "$(dirname "$venv")"
# One preparer at a time (parallel test binaries).
exec 9>"$venv.lock"
flock 9

if [[ -x $venv/bin/sev-snp-measure && -f $stamp && "$(cat "$stamp")" == "$package" ]]; then
  echo "$venv/bin/sev-snp-measure"
  exit 0
fi

command -v python3 >/dev/null \
  || die "python3 not found: install the Debian packages python3 python3-venv (scripts/test.sh does)"
say "creating the sev-snp-measure environment in $venv"
rm -rf "$venv"
python3 -m venv "$venv" >&2 \
  || die "python3 -m venv $venv failed: install the Debian package python3-venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$package" >&2 \
  || die "pip install $package failed (it needs to reach the Python package index)"
"$venv/bin/sev-snp-measure" --help >/dev/null \
  || die "$package was installed but its sev-snp-measure command does not run"
printf '%s' "$package" >"$stamp"
echo "$venv/bin/sev-snp-measure"
