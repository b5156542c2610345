# Shared helpers for sealbuild's scripts. Source it; do not run it.
# shellcheck shell=bash

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

# The Debian packages sealbuild needs at build, test and demo time.
SEALBUILD_DEBIAN_PACKAGES=(
  swtpm swtpm-tools    # software TPM and swtpm_setup / swtpm_localca
  tpm2-tools           # peer for interoperability tests
  libtss2-dev          # tpm2-tss headers and libraries for tss-esapi
  pkg-config build-essential
  openssl gnutls-bin  # certtool, used by swtpm_localca
  python3 python3-venv
  ovmf                 # OVMF.fd with SEV-SNP metadata, for the launch-digest tests
  postgresql           # throwaway clusters for the PostgreSQL store and replica tests
)

# Installs whatever of SEALBUILD_DEBIAN_PACKAGES is missing (as root), or
# says exactly what to install. SEALBUILD_APT_OPTIONS (an array) adds
# options to apt-get install.
SEALBUILD_APT_OPTIONS=()
ensure_debian_packages() {
  local missing=()
  for p in "${SEALBUILD_DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${SEALBUILD_APT_OPTIONS[@]}" "${missing[@]}" >/dev/null \
      || die "could not install ${missing[*]} (apt-get install failed)"
  else
    die "missing packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})"
  fi
}

ensure_rust() {
  command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain (rustup) first"
}

# pg_test_start: starts a throwaway PostgreSQL (scripts/pg-test-cluster.sh:
# initdb in a temporary directory as an unprivileged user, a free loopback
# port) as a coprocess and exports SEALBUILD_TEST_PG, which the Rust tests
# and scripts use instead of starting clusters of their own. Fails, naming
# the package, when PostgreSQL is not installed. pg_test_stop stops it.
pg_test_start() {
  coproc SEALBUILD_PG { exec scripts/pg-test-cluster.sh; }
  local line=
  read -r line <&"${SEALBUILD_PG[0]}" || true
  [[ $line == SEALBUILD_TEST_PG=* ]] || die "could not start a throwaway PostgreSQL (see above); the PostgreSQL tests need the Debian package postgresql"
  export SEALBUILD_TEST_PG=${line#SEALBUILD_TEST_PG=}
  SEALBUILD_PG_PID=$SEALBUILD_PG_PID
}

pg_test_stop() {
  [[ -n ${SEALBUILD_PG_PID:-} ]] || return 0
  # Closing its standard input stops the server and removes its directory.
  if [[ -n ${SEALBUILD_PG[1]:-} ]]; then exec {SEALBUILD_PG[1]}>&-; fi
  wait "$SEALBUILD_PG_PID" 2>/dev/null || true
  SEALBUILD_PG_PID=
  unset SEALBUILD_TEST_PG
}
