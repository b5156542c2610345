#!/usr/bin/env bash
# Generates the INSECURE test chain of sealbuild-insecure-snp-sim:
#   test-chain/ark.der   "SEV-Genoa INSECURE TEST ARK"  RSA-4096, self-signed
#   test-chain/ask.der   "SEV-Genoa INSECURE TEST ASK"  RSA-4096, signed by the ARK
#   test-chain/vcek.der  "SEV-VCEK INSECURE TEST"       P-384, signed by the ASK
#   test-chain/vcek-key.pk8.der   the VCEK private key (PKCS#8 DER)
#   test-chain/cert_chain_vcek.pem   ASK then ARK (the AMD KDS cert_chain layout)
#
# Every signature is RSASSA-PSS with SHA-384, MGF1-SHA-384, salt length 48,
# like AMD's ARK -> ASK -> VCEK chain (AMD pub. 57230, VCEK Certificate and
# KDS Interface Specification). The certificate profile mirrors AMD's Genoa
# certificates: rsaEncryption ARK/ASK keys; ARK keyUsage critical
# keyCertSign+cRLSign, subjectKeyIdentifier, basicConstraints critical CA;
# ASK subjectKeyIdentifier, authorityKeyIdentifier, basicConstraints critical
# CA pathlen 0, keyUsage critical keyCertSign; VCEK serial number 0 and only
# the AMD VCEK extensions, in AMD's order and encodings (structVersion,
# productName IA5String, SPLs as INTEGERs, hwID = the raw 64-byte chip id in
# the extension's OCTET STRING). No CRL distribution point: nothing revokes a
# test key.
#
# THESE ARE PUBLIC TEST KEYS. The VCEK private key is published next to its
# certificate, so anyone can forge reports that chain to this ARK. Never
# configure this ARK as a trust anchor outside tests.
#
# The ARK and ASK private keys are thrown away when the script ends: nothing
# at run time needs them, and regenerating replaces the whole chain. The
# values below must equal CHIP_ID_SEED and REPORTED_TCB in src/lib.rs (the
# crate's tests check that the committed certificates carry them).
#
# Usage: insecure/snp-sim/gen-test-chain.sh   (needs the openssl CLI, 3.x)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out="$here/test-chain"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The simulated chip: CHIP_ID = SHA-512 of this string.
chip_seed="sealbuild insecure snp sim chip"
chip_id=$(printf %s "$chip_seed" | openssl dgst -sha512 -r | cut -d' ' -f1)
# REPORTED_TCB, Milan/Genoa layout (byte 0 BL, 1 TEE, 6 SNP, 7 UCODE).
bl_spl=10
tee_spl=0
snp_spl=23
ucode_spl=84
# Validity of all three certificates.
start=240101000000Z
end=491231235959Z

pss=(-md sha384 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 -sigopt rsa_mgf1_md:sha384)
org="/OU=sealbuild snp-sim/O=INSECURE PUBLIC TEST KEYS - NOT AMD"

mkdir -p "$work/new"
: >"$work/index.txt"
cat >"$work/ca.cnf" <<CNF
[ca]
default_ca = sim

[sim]
database = $work/index.txt
new_certs_dir = $work/new
serial = $work/serial
default_md = sha384
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no

[policy_any]
organizationalUnitName = optional
organizationName = optional
commonName = supplied

[req]
distinguished_name = req_dn
string_mask = utf8only

[req_dn]

[ark_ext]
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
basicConstraints = critical, CA:TRUE

[ask_ext]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign

[vcek_ext]
subjectKeyIdentifier = none
authorityKeyIdentifier = none
1.3.6.1.4.1.3704.1.1 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.2 = ASN1:IA5STRING:Genoa
1.3.6.1.4.1.3704.1.3.1 = ASN1:INTEGER:$bl_spl
1.3.6.1.4.1.3704.1.3.2 = ASN1:INTEGER:$tee_spl
1.3.6.1.4.1.3704.1.3.4 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.5 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.6 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.7 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.3 = ASN1:INTEGER:$snp_spl
1.3.6.1.4.1.3704.1.3.8 = ASN1:INTEGER:$ucode_spl
1.3.6.1.4.1.3704.1.4 = DER:$chip_id
CNF

# sign NAME SERIAL_HEX EXTENSIONS [ca options...]
sign() {
    local name=$1 serial=$2 ext=$3
    shift 3
    echo "$serial" >"$work/serial"
    openssl ca -batch -notext -preserveDN -config "$work/ca.cnf" \
        -in "$work/$name.csr" -out "$work/$name.pem" -extensions "$ext" \
        -startdate "$start" -enddate "$end" "${pss[@]}" "$@" 2>"$work/$name.log" \
        || { cat "$work/$name.log" >&2; exit 1; }
}

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$work/ark.key" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$work/ask.key" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$work/vcek.key"

openssl req -new -config "$work/ca.cnf" -key "$work/ark.key" -sha384 \
    -subj "$org/CN=SEV-Genoa INSECURE TEST ARK" -out "$work/ark.csr"
openssl req -new -config "$work/ca.cnf" -key "$work/ask.key" -sha384 \
    -subj "$org/CN=SEV-Genoa INSECURE TEST ASK" -out "$work/ask.csr"
openssl req -new -config "$work/ca.cnf" -key "$work/vcek.key" -sha384 \
    -subj "$org/CN=SEV-VCEK INSECURE TEST" -out "$work/vcek.csr"

sign ark 01 ark_ext -selfsign -keyfile "$work/ark.key"
sign ask 02 ask_ext -cert "$work/ark.pem" -keyfile "$work/ark.key"
sign vcek 00 vcek_ext -cert "$work/ask.pem" -keyfile "$work/ask.key"

# Not -x509_strict: like AMD's, the VCEK has no authorityKeyIdentifier.
openssl verify -CAfile "$work/ark.pem" -untrusted "$work/ask.pem" "$work/vcek.pem" >/dev/null

mkdir -p "$out"
for c in ark ask vcek; do
    openssl x509 -in "$work/$c.pem" -outform DER -out "$out/$c.der"
done
openssl pkcs8 -topk8 -nocrypt -in "$work/vcek.key" -outform DER -out "$out/vcek-key.pk8.der"
cat "$work/ask.pem" "$work/ark.pem" >"$out/cert_chain_vcek.pem"
echo "wrote $out: ark.der ask.der vcek.der vcek-key.pk8.der cert_chain_vcek.pem"
