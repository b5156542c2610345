#!/usr/bin/env bash
# Generates the INSECURE test chain of sealbuild-insecure-tdx-sim:
#
#   INSECURE TEST SGX Root CA (P-256, self-signed, pathlen 1)
#     ├─ Intel SGX PCK Platform CA   (INSECURE TEST, pathlen 0)
#     │    └─ Intel SGX PCK Certificate (INSECURE TEST; SGX extensions)
#     └─ Intel SGX TCB Signing       (INSECURE TEST)
#
# plus an empty root CA CRL and an empty PCK Platform CA CRL. The subjects
# imitate the certificate profile of Intel's "SGX PCK Certificate and
# Certificate Revocation List Profile Specification" (the verifier identifies
# the PCK CA and the TCB signer by these common names) but every organisation
# reads "INSECURE PUBLIC TEST KEYS - NOT INTEL" and the root is not Intel's:
# a verifier that trusts only the Intel SGX Root CA refuses all of it.
#
# The private keys of the PCK certificate and of the TCB signing certificate
# are PUBLISHED (test-chain/*.pk8.der): the simulator signs QE reports and
# TCB Info / QE Identity with them at run time. The CA keys are discarded
# when the script ends (the CRLs are made here, valid 2025-01-01 to 2049-12-31).
#
# Usage: insecure/tdx-sim/gen-test-chain.sh   (needs the openssl CLI 3.x and python3)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out="$here/test-chain"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The simulated platform's TCB (also in src/lib.rs): SGX TCB components 1..16,
# PCESVN, PCE-ID and FMSPC.
components="3 3 2 2 4 1 0 5 0 0 0 0 0 0 0 0"
pcesvn=11
pce_id=0000
fmspc=5ea1b1000000
ppid_seed="sealbuild insecure tdx sim ppid"
start=250101000000Z
end=491231235959Z
org="/O=INSECURE PUBLIC TEST KEYS - NOT INTEL/OU=sealbuild tdx-sim"

# The SGX extensions (OID 1.2.840.113741.1.13.1), DER, hex.
sgx_ext=$(COMPONENTS="$components" PCESVN=$pcesvn PCE_ID=$pce_id FMSPC=$fmspc PPID_SEED="$ppid_seed" python3 - <<'PY'
import hashlib, os

def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        ln = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        ln = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + ln + body

def oid(text):
    parts = [int(p) for p in text.split(".")]
    out = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        enc = [p & 0x7F]
        p >>= 7
        while p:
            enc.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(enc))
    return tlv(0x06, out)

def integer(v):
    b = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big")
    return tlv(0x02, b)

seq = lambda *items: tlv(0x30, b"".join(items))
octets = lambda b: tlv(0x04, b)
base = "1.2.840.113741.1.13.1"
comps = [int(c) for c in os.environ["COMPONENTS"].split()]
tcb = [seq(oid(f"{base}.2.{i + 1}"), integer(c)) for i, c in enumerate(comps)]
tcb.append(seq(oid(f"{base}.2.17"), integer(int(os.environ["PCESVN"]))))
tcb.append(seq(oid(f"{base}.2.18"), octets(bytes(comps))))
ppid = hashlib.sha256(os.environ["PPID_SEED"].encode()).digest()[:16]
ext = seq(
    seq(oid(f"{base}.1"), octets(ppid)),
    seq(oid(f"{base}.2"), seq(*tcb)),
    seq(oid(f"{base}.3"), octets(bytes.fromhex(os.environ["PCE_ID"]))),
    seq(oid(f"{base}.4"), octets(bytes.fromhex(os.environ["FMSPC"]))),
    seq(oid(f"{base}.5"), tlv(0x0A, b"\x01")),  # SGX Type: Scalable
    seq(oid(f"{base}.6"), octets(hashlib.sha256(b"instance" + ppid).digest()[:16])),
    seq(oid(f"{base}.7"), seq(
        seq(oid(f"{base}.7.1"), tlv(0x01, b"\xff")),  # dynamicPlatform
        seq(oid(f"{base}.7.2"), tlv(0x01, b"\xff")),  # cachedKeys
        seq(oid(f"{base}.7.3"), tlv(0x01, b"\xff")),  # SMTEnabled
    )),
)
print(ext.hex())
PY
)

mkdir -p "$work/new"
: >"$work/index.txt"
cat >"$work/ca.cnf" <<CNF
[ca]
default_ca = sim

[sim]
database = $work/index.txt
new_certs_dir = $work/new
serial = $work/serial
crlnumber = $work/crlnumber
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no

[policy_any]
organizationName = optional
organizationalUnitName = optional
commonName = supplied

[req]
distinguished_name = req_dn
string_mask = utf8only

[req_dn]

[root_ext]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
keyUsage = critical, keyCertSign, cRLSign
basicConstraints = critical, CA:TRUE, pathlen:1

[pck_ca_ext]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
keyUsage = critical, keyCertSign, cRLSign
basicConstraints = critical, CA:TRUE, pathlen:0

[pck_ext]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
keyUsage = critical, digitalSignature, nonRepudiation
basicConstraints = critical, CA:FALSE
1.2.840.113741.1.13.1 = DER:$sgx_ext

[tcb_ext]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
keyUsage = critical, digitalSignature, nonRepudiation
basicConstraints = critical, CA:FALSE

[crl_ext]
authorityKeyIdentifier = keyid:always
CNF

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/$1.key" 2>/dev/null; }
csr() { openssl req -new -key "$work/$1.key" -subj "/CN=$2$org" -out "$work/$1.csr"; }
sign() {
    local name=$1 serial=$2 ext=$3 issuer=$4
    shift 4
    echo "$serial" >"$work/serial"
    openssl ca -batch -notext -preserveDN -config "$work/ca.cnf" -in "$work/$name.csr" \
        -out "$work/$name.pem" -extensions "$ext" -startdate "$start" -enddate "$end" \
        -keyfile "$work/$issuer.key" "$@" 2>"$work/$name.log" \
        || { cat "$work/$name.log"; exit 1; }
    openssl x509 -in "$work/$name.pem" -outform DER -out "$out/$name.der"
}
crl() {
    local name=$1 issuer=$2
    : >"$work/index.txt"
    echo 01 >"$work/crlnumber"
    openssl ca -gencrl -config "$work/ca.cnf" -keyfile "$work/$issuer.key" \
        -cert "$work/$issuer.pem" -crl_lastupdate "$start" -crl_nextupdate "$end" -crlexts crl_ext -out "$work/$name.pem" \
        2>"$work/$name.log" || { cat "$work/$name.log"; exit 1; }
    openssl crl -in "$work/$name.pem" -outform DER -out "$out/$name.der"
}

mkdir -p "$out"
key root && csr root "INSECURE TEST SGX Root CA"
sign root 01 root_ext root -selfsign
key pck-ca && csr pck-ca "Intel SGX PCK Platform CA"
sign pck-ca 02 pck_ca_ext root -cert "$work/root.pem"
key pck && csr pck "Intel SGX PCK Certificate"
sign pck 03 pck_ext pck-ca -cert "$work/pck-ca.pem"
key tcb-signing && csr tcb-signing "Intel SGX TCB Signing"
sign tcb-signing 04 tcb_ext root -cert "$work/root.pem"
crl root-crl root
crl pck-crl pck-ca
for k in pck tcb-signing; do
    openssl pkcs8 -topk8 -nocrypt -in "$work/$k.key" -outform DER -out "$out/$k-key.pk8.der"
done
echo "wrote $(ls "$out" | tr '\n' ' ')"
