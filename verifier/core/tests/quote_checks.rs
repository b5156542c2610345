//! Quote checks on files tpm2-tools 5.4 wrote against swtpm (RSASSA, RSAPSS,
//! ECDSA P-256 AKs), and on quotes signed here by a software P-256 key to reach
//! the corners a real TPM does not produce: AK attribute and scheme rules,
//! high-S and short ECDSA scalars, a pcrDigest made with another hash.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod quote_support;

use p256::ecdsa::signature::hazmat::PrehashSigner;
use quote_support::*;
use sealbuild_common::tpm::{
    parse_tools_pcr_values, parse_tools_pcrs, AsymScheme, Attest, EccCurve, EccPublic, KdfScheme,
    ObjectAttribute, ObjectAttributes, PcrSelectionList, PcrValues, Public, PublicBody, RsaPublic,
    SigScheme, Signature, SymDefObject,
};
use sealbuild_common::HashAlg;
use sealbuild_verifier_core::quote::{
    check_ak_attributes, check_quote, verify_quote, verify_quote_signature, QuoteError,
    QuoteOptions,
};

const STRICT: QuoteOptions = QuoteOptions { allow_sha1: false };
const SHA1_OK: QuoteOptions = QuoteOptions { allow_sha1: true };

struct Fixture {
    ak: Public,
    attest: Vec<u8>,
    sig: Signature,
    nonce: Vec<u8>,
    pcrs: PcrValues,
}

fn fixture(ak: &str, name: &str, nonce: &str) -> Fixture {
    let dir = "tpm2-tools-5.4-swtpm";
    let ak = Public::parse_tpm2b(&data(&format!("{dir}/ak-{ak}.pub"))).unwrap();
    let attest = data(&format!("{dir}/{name}.quote"));
    let sel = Attest::parse(&attest)
        .unwrap()
        .quote()
        .unwrap()
        .pcr_select()
        .clone();
    let file = data(&format!("{dir}/{name}.pcrs"));
    let pcrs = if name.ends_with("-values") {
        parse_tools_pcr_values(&file, &sel).unwrap()
    } else {
        parse_tools_pcrs(&file, &sel).unwrap()
    };
    Fixture {
        ak,
        attest,
        sig: Signature::parse(&data(&format!("{dir}/{name}.sig"))).unwrap(),
        nonce: hex::decode(nonce).unwrap(),
        pcrs,
    }
}

fn verify(
    f: &Fixture,
    opts: &QuoteOptions,
) -> Result<sealbuild_verifier_core::quote::CheckedQuote, QuoteError> {
    verify_quote(&f.ak, &f.attest, &f.sig, &f.nonce, &f.pcrs, opts)
}

#[test]
fn tpm2_tools_quotes_verify() {
    for (ak, name, nonce, scheme) in [
        ("rsa", "rsa", "5eed0001", SigScheme::RsaSsa),
        ("rsa", "rsa-values", "5eed0002", SigScheme::RsaSsa),
        ("ecc", "ecc", "5eed0003", SigScheme::Ecdsa),
        ("pss", "pss", "5eed0004", SigScheme::RsaPss),
    ] {
        let f = fixture(ak, name, nonce);
        assert_eq!(f.sig.scheme(), scheme);
        // The SHA-1 bank in the RSA quotes needs SHA-1 allowed.
        let opts = if ak == "rsa" { SHA1_OK } else { STRICT };
        let ok = verify(&f, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ok.pcr_digest_alg, HashAlg::Sha256);
        if ak == "rsa" {
            assert!(matches!(
                verify(&f, &STRICT),
                Err(QuoteError::Sha1NotAllowed { .. })
            ));
        }
        // Mutated twins: another nonce, a flipped quote byte, a flipped signature byte.
        let mut other = f.nonce.clone();
        other[3] ^= 1;
        assert!(
            matches!(
                verify_quote(&f.ak, &f.attest, &f.sig, &other, &f.pcrs, &opts),
                Err(QuoteError::QualifyingDataMismatch { .. })
            ),
            "{name}"
        );
        for i in [0, 10, f.attest.len() / 2, f.attest.len() - 1] {
            let mut m = f.attest.clone();
            m[i] ^= 0x40;
            assert!(
                matches!(
                    verify_quote(&f.ak, &m, &f.sig, &f.nonce, &f.pcrs, &opts),
                    Err(QuoteError::BadSignature { .. })
                ),
                "{name} byte {i}"
            );
        }
        let mut s = f.sig.to_bytes();
        let last = s.len() - 1;
        s[last] ^= 1;
        let s = Signature::parse(&s).unwrap();
        assert!(
            matches!(
                verify_quote(&f.ak, &f.attest, &s, &f.nonce, &f.pcrs, &opts),
                Err(QuoteError::BadSignature { .. })
            ),
            "{name}"
        );
    }
}

#[test]
fn signature_must_fit_the_ak() {
    let rsa = fixture("rsa", "rsa", "5eed0001");
    let ecc = fixture("ecc", "ecc", "5eed0003");
    let pss = fixture("pss", "pss", "5eed0004");
    // ECDSA signature with the RSA AK and vice versa.
    let err = verify_quote_signature(&rsa.ak, &ecc.attest, &ecc.sig, &STRICT).unwrap_err();
    assert!(
        matches!(&err, QuoteError::SchemeMismatch { reason, .. } if reason.contains("RSASSA-sha256")),
        "{err}"
    );
    assert!(matches!(
        verify_quote_signature(&ecc.ak, &rsa.attest, &rsa.sig, &SHA1_OK),
        Err(QuoteError::SchemeMismatch { .. })
    ));
    // An RSAPSS signature with an AK fixed to RSASSA.
    assert!(matches!(
        verify_quote_signature(&rsa.ak, &pss.attest, &pss.sig, &STRICT),
        Err(QuoteError::SchemeMismatch { .. })
    ));
    // The right scheme with another hash than the AK's.
    let relabeled = Signature::new_rsa(
        SigScheme::RsaSsa,
        HashAlg::Sha384,
        match rsa.sig.value() {
            sealbuild_common::tpm::SignatureValue::Rsa(s) => s,
            _ => unreachable!(),
        },
    )
    .unwrap();
    assert!(matches!(
        verify_quote_signature(&rsa.ak, &rsa.attest, &relabeled, &STRICT),
        Err(QuoteError::SchemeMismatch { .. })
    ));
    // With the AK's scheme NULL any RSA scheme is tried; the relabeled hash then fails the math.
    let PublicBody::Rsa(k) = rsa.ak.body() else {
        panic!()
    };
    let null_ak = Public::new(
        rsa.ak.name_alg(),
        rsa.ak.attributes(),
        rsa.ak.auth_policy(),
        PublicBody::Rsa(
            RsaPublic::new(
                SymDefObject::Null,
                AsymScheme::Null,
                k.key_bits(),
                k.raw_exponent(),
                k.modulus(),
            )
            .unwrap(),
        ),
    )
    .unwrap();
    verify_quote_signature(&null_ak, &rsa.attest, &rsa.sig, &STRICT).unwrap();
    assert!(matches!(
        verify_quote_signature(&null_ak, &rsa.attest, &relabeled, &STRICT),
        Err(QuoteError::BadSignature { .. })
    ));
    assert!(matches!(
        verify_quote_signature(&null_ak, &ecc.attest, &ecc.sig, &STRICT),
        Err(QuoteError::SchemeMismatch { .. })
    ));
    // An AK whose scheme is a decryption scheme signs nothing.
    let oaep_ak = Public::new(
        rsa.ak.name_alg(),
        rsa.ak.attributes(),
        &[],
        PublicBody::Rsa(
            RsaPublic::new(
                SymDefObject::Null,
                AsymScheme::Oaep(HashAlg::Sha256),
                2048,
                0,
                k.modulus(),
            )
            .unwrap(),
        ),
    )
    .unwrap();
    assert!(matches!(
        verify_quote_signature(&oaep_ak, &rsa.attest, &rsa.sig, &STRICT),
        Err(QuoteError::SchemeMismatch { .. })
    ));
}

#[test]
fn ak_attributes_are_named() {
    let rsa = fixture("rsa", "rsa", "5eed0001");
    check_ak_attributes(&rsa.ak).unwrap();
    let with = |attrs: ObjectAttributes| {
        Public::new(rsa.ak.name_alg(), attrs, &[], rsa.ak.body().clone()).unwrap()
    };
    use ObjectAttribute::*;
    let cases: [(&[ObjectAttribute], &[&str], &[&str]); 4] = [
        (
            &[SignEncrypt, FixedTpm, FixedParent, SensitiveDataOrigin],
            &["restricted"],
            &[],
        ),
        (
            &[
                Restricted,
                SignEncrypt,
                FixedTpm,
                FixedParent,
                SensitiveDataOrigin,
                Decrypt,
            ],
            &[],
            &["decrypt"],
        ),
        (
            &[UserWithAuth, Decrypt],
            &[
                "restricted",
                "sign",
                "fixedTPM",
                "fixedParent",
                "sensitiveDataOrigin",
            ],
            &["decrypt"],
        ),
        (
            &[
                Restricted,
                SignEncrypt,
                FixedParent,
                SensitiveDataOrigin,
                NoDa,
            ],
            &["fixedTPM"],
            &[],
        ),
    ];
    for (set, want_missing, want_unexpected) in cases {
        let err = check_ak_attributes(&with(ObjectAttributes::from_attributes(set))).unwrap_err();
        let QuoteError::AkAttributes {
            missing,
            unexpected,
            ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(missing, want_missing);
        assert_eq!(unexpected, want_unexpected);
        for name in want_missing.iter().chain(want_unexpected) {
            assert!(err.to_string().contains(name), "{err}");
        }
    }
    // verify_quote applies the attribute check.
    let weak = with(ObjectAttributes::from_attributes(&[
        SignEncrypt,
        FixedTpm,
        FixedParent,
        SensitiveDataOrigin,
    ]));
    assert!(matches!(
        verify_quote(
            &weak,
            &rsa.attest,
            &rsa.sig,
            &rsa.nonce,
            &rsa.pcrs,
            &SHA1_OK
        ),
        Err(QuoteError::AkAttributes { .. })
    ));
}

/// A software "TPM": a P-256 key that signs TPMS_ATTEST bytes we build.
struct SoftAk {
    key: p256::ecdsa::SigningKey,
    public: Public,
}

impl SoftAk {
    fn new(scheme: AsymScheme) -> Self {
        let key = p256::ecdsa::SigningKey::from_bytes(&[0x5e; 32].into()).unwrap();
        let point = key.verifying_key().to_encoded_point(false);
        let attrs = ObjectAttributes::from_attributes(&[
            ObjectAttribute::Restricted,
            ObjectAttribute::SignEncrypt,
            ObjectAttribute::FixedTpm,
            ObjectAttribute::FixedParent,
            ObjectAttribute::SensitiveDataOrigin,
        ]);
        let body = EccPublic::new(
            SymDefObject::Null,
            scheme,
            EccCurve::NistP256,
            KdfScheme::Null,
            point.x().unwrap(),
            point.y().unwrap(),
        )
        .unwrap();
        let public = Public::new(HashAlg::Sha256, attrs, &[], PublicBody::Ecc(body)).unwrap();
        Self { key, public }
    }

    fn sign(&self, hash: HashAlg, msg: &[u8]) -> p256::ecdsa::Signature {
        self.key.sign_prehash(&hash.digest(msg)).unwrap()
    }
}

/// TPMS_ATTEST of a quote with the given nonce, selection and pcrDigest.
fn quote_bytes(nonce: &[u8], sel: &PcrSelectionList, pcr_digest: &[u8]) -> Vec<u8> {
    let mut b = vec![0xff, 0x54, 0x43, 0x47, 0x80, 0x18];
    b.extend_from_slice(&[0x00, 0x22, 0x00, 0x0b]);
    b.extend_from_slice(&[0x11; 32]);
    b.extend_from_slice(&(nonce.len() as u16).to_be_bytes());
    b.extend_from_slice(nonce);
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    b.extend_from_slice(&[0x20, 0x19, 0x10, 0x23, 0x00, 0x16, 0x36, 0x36]);
    b.extend_from_slice(&sel.to_bytes());
    b.extend_from_slice(&(pcr_digest.len() as u16).to_be_bytes());
    b.extend_from_slice(pcr_digest);
    Attest::parse(&b).unwrap();
    b
}

fn soft_values() -> (PcrSelectionList, PcrValues) {
    let sel = PcrSelectionList::parse_tools_spec("sha256:0,1,7").unwrap();
    let mut v = PcrValues::new();
    for i in [0, 1, 7] {
        v.insert(HashAlg::Sha256, i, &HashAlg::Sha256.digest(&[i as u8]))
            .unwrap();
    }
    (sel, v)
}

#[test]
fn ecdsa_high_s_and_short_scalars_verify() {
    // TPMs do not normalise s to the lower half, and may drop leading zero
    // bytes of r and s; both must verify.
    let ak = SoftAk::new(AsymScheme::Ecdsa(HashAlg::Sha256));
    let (sel, v) = soft_values();
    let nonce = [7u8; 32];
    let mut seen_short = false;
    for n in 0u16..2000 {
        let attest = quote_bytes(
            &[&nonce[..], &n.to_be_bytes()].concat(),
            &sel,
            &v.digest(&sel, HashAlg::Sha256).unwrap(),
        );
        let sig = ak.sign(HashAlg::Sha256, &attest);
        let (r, s) = sig.split_bytes();
        let high = p256::ecdsa::Signature::from_scalars(*sig.r(), -*sig.s()).unwrap();
        let (_, hs) = high.split_bytes();
        for s_bytes in [&s[..], &hs[..]] {
            let tpm_sig = Signature::new_ecdsa(HashAlg::Sha256, strip(&r), strip(s_bytes)).unwrap();
            verify_quote_signature(&ak.public, &attest, &tpm_sig, &STRICT).unwrap();
        }
        if r[0] == 0 || s[0] == 0 {
            seen_short = true;
            // A scalar longer than the field is refused, even with a zero prefix.
            let long_r = [&[0u8][..], &r[..]].concat();
            let bad = Signature::new_ecdsa(HashAlg::Sha256, &long_r, &s).unwrap();
            assert!(matches!(
                verify_quote_signature(&ak.public, &attest, &bad, &STRICT),
                Err(QuoteError::Format(_))
            ));
            break;
        }
    }
    assert!(
        seen_short,
        "no signature with a leading zero byte in 2000 tries"
    );
}

fn strip(b: &[u8]) -> &[u8] {
    let zeros = b.iter().take_while(|&&x| x == 0).count();
    &b[zeros..]
}

#[test]
fn pcr_digest_must_use_the_signing_hash() {
    let ak = SoftAk::new(AsymScheme::Ecdsa(HashAlg::Sha256));
    let (sel, v) = soft_values();
    let attest = quote_bytes(b"n", &sel, &v.digest(&sel, HashAlg::Sha384).unwrap());
    let (r, s) = ak.sign(HashAlg::Sha256, &attest).split_bytes();
    let sig = Signature::new_ecdsa(HashAlg::Sha256, &r, &s).unwrap();
    // On its own the quote's contents are consistent (a SHA-384 pcrDigest) …
    let a = verify_quote_signature(&ak.public, &attest, &sig, &STRICT).unwrap();
    assert_eq!(
        check_quote(&a, b"n", &v, &STRICT).unwrap().pcr_digest_alg,
        HashAlg::Sha384
    );
    // … but TPM2_Quote would have used the signing hash.
    assert_eq!(
        verify_quote(&ak.public, &attest, &sig, b"n", &v, &STRICT).unwrap_err(),
        QuoteError::PcrDigestHash {
            digest_hash: HashAlg::Sha384,
            signature_hash: HashAlg::Sha256
        }
    );
}

#[test]
fn sha1_digests_and_signatures_follow_the_policy() {
    let ak = SoftAk::new(AsymScheme::Null);
    let (sel, v) = soft_values();
    // SHA-1 pcrDigest over SHA-256 PCRs, signed ECDSA-SHA1.
    let attest = quote_bytes(b"n", &sel, &v.digest(&sel, HashAlg::Sha1).unwrap());
    let (r, s) = ak.sign(HashAlg::Sha1, &attest).split_bytes();
    let sig = Signature::new_ecdsa(HashAlg::Sha1, &r, &s).unwrap();
    let err = verify_quote(&ak.public, &attest, &sig, b"n", &v, &STRICT).unwrap_err();
    assert!(
        matches!(&err, QuoteError::Sha1NotAllowed { what } if what.contains("ECDSA-sha1")),
        "{err}"
    );
    let a = verify_quote_signature(&ak.public, &attest, &sig, &SHA1_OK).unwrap();
    assert!(
        matches!(check_quote(&a, b"n", &v, &STRICT), Err(QuoteError::Sha1NotAllowed { what }) if what.contains("pcrDigest"))
    );
    verify_quote(&ak.public, &attest, &sig, b"n", &v, &SHA1_OK).unwrap();
    // An empty SHA-1 bank in the selection is not a use of SHA-1.
    let sel2 = PcrSelectionList::parse_tools_spec("sha256:0,1,7+sha1:none").unwrap();
    let attest = quote_bytes(b"n", &sel2, &v.digest(&sel2, HashAlg::Sha256).unwrap());
    let (r, s) = ak.sign(HashAlg::Sha256, &attest).split_bytes();
    verify_quote(
        &ak.public,
        &attest,
        &Signature::new_ecdsa(HashAlg::Sha256, &r, &s).unwrap(),
        b"n",
        &v,
        &STRICT,
    )
    .unwrap();
}

#[test]
fn pcr_digest_of_odd_size_is_refused() {
    let ak = SoftAk::new(AsymScheme::Ecdsa(HashAlg::Sha256));
    let (sel, v) = soft_values();
    let attest = quote_bytes(b"n", &sel, &[]);
    let (r, s) = ak.sign(HashAlg::Sha256, &attest).split_bytes();
    let sig = Signature::new_ecdsa(HashAlg::Sha256, &r, &s).unwrap();
    let a = verify_quote_signature(&ak.public, &attest, &sig, &STRICT).unwrap();
    assert!(matches!(
        check_quote(&a, b"n", &v, &STRICT),
        Err(QuoteError::PcrDigestSize { len: 0, .. })
    ));
}

#[test]
fn rsapss_accepts_digest_and_maximum_salt_lengths_only() {
    // Current TPMs (swtpm above) use a salt as long as the digest; older TPM
    // firmware used the largest salt the key allows. Both verify; others do not.
    use rand::SeedableRng;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    // A fixed 2048-bit key (the provider refuses RSA keys under 2048 bits).
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/keys/openssl/rsa2048.pem"
    ))
    .unwrap();
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap();
    let modulus = key.n().to_bytes_be();
    let attrs = ObjectAttributes::from_attributes(&[
        ObjectAttribute::Restricted,
        ObjectAttribute::SignEncrypt,
        ObjectAttribute::FixedTpm,
        ObjectAttribute::FixedParent,
        ObjectAttribute::SensitiveDataOrigin,
    ]);
    let body = RsaPublic::new(
        SymDefObject::Null,
        AsymScheme::RsaPss(HashAlg::Sha256),
        2048,
        0,
        &modulus,
    )
    .unwrap();
    let ak = Public::new(HashAlg::Sha256, attrs, &[], PublicBody::Rsa(body)).unwrap();
    let (sel, v) = soft_values();
    let attest = quote_bytes(b"pss", &sel, &v.digest(&sel, HashAlg::Sha256).unwrap());
    let digest = HashAlg::Sha256.digest(&attest);
    let max_salt = 256 - 32 - 2;
    for (salt, ok) in [
        (32usize, true),
        (max_salt, true),
        (0, false),
        (20, false),
        (max_salt - 1, false),
    ] {
        let s = key
            .sign_with_rng(
                &mut rng,
                rsa::Pss::new_with_salt::<sha2::Sha256>(salt),
                &digest,
            )
            .unwrap();
        let sig = Signature::new_rsa(SigScheme::RsaPss, HashAlg::Sha256, &s).unwrap();
        let res = verify_quote(&ak, &attest, &sig, b"pss", &v, &STRICT);
        assert_eq!(res.is_ok(), ok, "salt {salt}: {res:?}");
        if !ok {
            assert!(matches!(
                res,
                Err(QuoteError::BadSignature {
                    scheme: SigScheme::RsaPss,
                    ..
                })
            ));
        }
    }
}
