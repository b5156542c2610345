//! Path validation rules and signature algorithms on chains generated with
//! the `openssl` command line (OpenSSL 3): every supported signature
//! algorithm verifies and its flipped twin does not; CA constraints
//! (basicConstraints, keyUsage, pathLenConstraint), unknown critical
//! extensions, validity of intermediates, depth and loop limits are enforced.
//! A missing `openssl` fails the test; it never skips.

// Test code: failures are meant to panic with a message (clippy.toml allows
// this inside #[test] functions; the helpers here need it too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_verifier_core::ekcert::{
    verify_ek_cert_chain, EkCertError, EkCertKey, TrustAnchors, VerifiedEkCert, MAX_CHAIN_LEN,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A scratch PKI made with the openssl CLI.
struct Pki {
    dir: PathBuf,
    serial: AtomicU32,
    /// The subject of each `name.csr` on disk.
    csrs: RefCell<HashMap<String, String>>,
}

#[derive(Clone, Copy)]
enum Key {
    Rsa2048,
    P256,
    P384,
}

const CA_EXT: &str = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign";
const LEAF_EXT: &str = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyEncipherment\nextendedKeyUsage=2.23.133.8.1";

impl Pki {
    fn new(tag: &str) -> Self {
        let ok = Command::new("openssl")
            .arg("version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            ok,
            "the `openssl` command is required (Debian package openssl); this test does not skip"
        );
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!("sb-pki-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            dir,
            serial: AtomicU32::new(1),
            csrs: RefCell::new(HashMap::new()),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn key(&self, name: &str, kind: Key) {
        let opt = match kind {
            Key::Rsa2048 => ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            Key::P256 => ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            Key::P384 => ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        };
        self.csrs.borrow_mut().remove(name);
        let out = self.path(&format!("{name}.key"));
        let mut args = vec!["genpkey"];
        args.extend(opt);
        args.extend(["-out", &out]);
        self.openssl(&args);
    }

    /// Issues `name` (subject `subj`, key `name.key`) signed by `issuer`
    /// (`issuer.der` + `issuer.key`), or self-signed when `issuer` is None,
    /// with extension lines `ext` and signature options `sig`; returns DER.
    fn cert(
        &self,
        name: &str,
        subj: &str,
        issuer: Option<&str>,
        ext: &str,
        sig: &[&str],
        days: u32,
    ) -> Vec<u8> {
        let (key, csr, extf, der) = (
            self.path(&format!("{name}.key")),
            self.path(&format!("{name}.csr")),
            self.path(&format!("{name}.ext")),
            self.path(&format!("{name}.der")),
        );
        // OpenSSL 3 adds key identifiers unless told not to; tests that want
        // them say so in `ext`.
        let mut ext = ext.to_string();
        if !ext.contains("subjectKeyIdentifier") {
            ext.push_str("\nsubjectKeyIdentifier=none");
        }
        if !ext.contains("authorityKeyIdentifier") {
            ext.push_str("\nauthorityKeyIdentifier=none");
        }
        std::fs::write(&extf, format!("[v]\n{ext}\n")).unwrap();
        // Re-issuing with the same key and subject reuses the CSR on disk.
        if self.csrs.borrow().get(name).map(String::as_str) != Some(subj) {
            self.openssl(&["req", "-new", "-key", &key, "-subj", subj, "-out", &csr]);
            self.csrs
                .borrow_mut()
                .insert(name.to_string(), subj.to_string());
        }
        let serial = self.serial.fetch_add(1, Ordering::Relaxed).to_string();
        let days = days.to_string();
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-extfile",
            &extf,
            "-extensions",
            "v",
            "-days",
            &days,
            "-set_serial",
            &serial,
            "-outform",
            "DER",
            "-out",
            &der,
        ];
        let (ca_der, ca_key);
        match issuer {
            Some(i) => {
                ca_der = self.path(&format!("{i}.der"));
                ca_key = self.path(&format!("{i}.key"));
                args.extend(["-CA", &ca_der, "-CAform", "DER", "-CAkey", &ca_key]);
            }
            None => args.extend(["-key", &key]),
        }
        args.extend(sig);
        self.openssl(&args);
        std::fs::read(&der).unwrap()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn verify_at(
    leaf: &[u8],
    inter: &[&Vec<u8>],
    anchors: &[&Vec<u8>],
    t: u64,
) -> Result<VerifiedEkCert, EkCertError> {
    let inter: Vec<&[u8]> = inter.iter().map(|v| v.as_slice()).collect();
    let ta = TrustAnchors::from_der(anchors.iter().map(|v| v.as_slice())).unwrap();
    verify_ek_cert_chain(leaf, &inter, &ta, t)
}

fn verify(
    leaf: &[u8],
    inter: &[&Vec<u8>],
    anchors: &[&Vec<u8>],
) -> Result<VerifiedEkCert, EkCertError> {
    verify_at(leaf, inter, anchors, now())
}

fn flip_last(d: &[u8]) -> Vec<u8> {
    let mut d = d.to_vec();
    *d.last_mut().unwrap() ^= 1;
    d
}

#[test]
fn every_supported_signature_algorithm_verifies_and_its_flipped_twin_does_not() {
    let pki = Pki::new("algs");
    pki.key("rsa_root", Key::Rsa2048);
    pki.key("p256_root", Key::P256);
    pki.key("p384_root", Key::P384);
    pki.key("leaf", Key::P256);
    let rsa_root = pki.cert("rsa_root", "/CN=RSA Root", None, CA_EXT, &["-sha256"], 30);
    let p256_root = pki.cert(
        "p256_root",
        "/CN=P-256 Root",
        None,
        CA_EXT,
        &["-sha256"],
        30,
    );
    let p384_root = pki.cert(
        "p384_root",
        "/CN=P-384 Root",
        None,
        CA_EXT,
        &["-sha384"],
        30,
    );
    let pss = |md: &'static str, salt: &'static str| -> Vec<&'static str> {
        vec![md, "-sigopt", "rsa_padding_mode:pss", "-sigopt", salt]
    };
    // (issuer, description, trust anchor, openssl signature options, OID)
    type Case<'a> = (&'a str, &'a str, &'a Vec<u8>, Vec<&'a str>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "rsa_root",
            "sha1WithRSAEncryption",
            &rsa_root,
            vec!["-sha1"],
            "1.2.840.113549.1.1.5",
        ),
        (
            "rsa_root",
            "sha256WithRSAEncryption",
            &rsa_root,
            vec!["-sha256"],
            "1.2.840.113549.1.1.11",
        ),
        (
            "rsa_root",
            "sha384WithRSAEncryption",
            &rsa_root,
            vec!["-sha384"],
            "1.2.840.113549.1.1.12",
        ),
        (
            "rsa_root",
            "sha512WithRSAEncryption",
            &rsa_root,
            vec!["-sha512"],
            "1.2.840.113549.1.1.13",
        ),
        (
            "rsa_root",
            "RSASSA-PSS SHA-256 salt 32",
            &rsa_root,
            pss("-sha256", "rsa_pss_saltlen:32"),
            "1.2.840.113549.1.1.10",
        ),
        (
            "rsa_root",
            "RSASSA-PSS SHA-384 salt 48",
            &rsa_root,
            pss("-sha384", "rsa_pss_saltlen:48"),
            "1.2.840.113549.1.1.10",
        ),
        (
            "rsa_root",
            "RSASSA-PSS SHA-512 salt 20",
            &rsa_root,
            pss("-sha512", "rsa_pss_saltlen:20"),
            "1.2.840.113549.1.1.10",
        ),
        (
            "p256_root",
            "ecdsa-with-SHA256 P-256",
            &p256_root,
            vec!["-sha256"],
            "1.2.840.10045.4.3.2",
        ),
        (
            "p256_root",
            "ecdsa-with-SHA384 P-256",
            &p256_root,
            vec!["-sha384"],
            "1.2.840.10045.4.3.3",
        ),
        (
            "p384_root",
            "ecdsa-with-SHA384 P-384",
            &p384_root,
            vec!["-sha384"],
            "1.2.840.10045.4.3.3",
        ),
        (
            "p384_root",
            "ecdsa-with-SHA512 P-384",
            &p384_root,
            vec!["-sha512"],
            "1.2.840.10045.4.3.4",
        ),
    ];
    for (i, (issuer, what, root, sig, oid)) in cases.iter().enumerate() {
        let leaf = pki.cert(
            "leaf",
            &format!("/CN=leaf {i}"),
            Some(issuer),
            LEAF_EXT,
            sig,
            10,
        );
        let v = verify(&leaf, &[], &[root]).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(matches!(v.public_key, EkCertKey::Ecc { .. }));
        assert!(v.is_ek_certificate());
        let err = verify(&flip_last(&leaf), &[], &[root]).unwrap_err();
        assert!(
            matches!(err, EkCertError::BadSignature { .. }),
            "{what}: {err}"
        );
        assert!(err.to_string().contains(oid), "{what}: {err}");
    }
    // An RSA-PSS-signed intermediate (root signs the intermediate with PSS).
    pki.key("inter", Key::P384);
    let inter = pki.cert(
        "inter",
        "/CN=PSS-signed CA",
        Some("rsa_root"),
        CA_EXT,
        &pss("-sha256", "rsa_pss_saltlen:32"),
        10,
    );
    let leaf = pki.cert(
        "leaf",
        "/CN=leaf under P-384 CA",
        Some("inter"),
        LEAF_EXT,
        &["-sha384"],
        10,
    );
    let v = verify(&leaf, &[&inter], &[&rsa_root]).unwrap();
    assert_eq!(
        v.chain,
        ["CN=leaf under P-384 CA", "CN=PSS-signed CA", "CN=RSA Root"]
    );
    assert!(matches!(
        verify(&leaf, &[&flip_last(&inter)], &[&rsa_root]),
        Err(EkCertError::BadSignature { .. })
    ));
}

#[test]
fn ca_constraints_are_enforced() {
    let pki = Pki::new("ca");
    for k in ["root", "inter", "leaf"] {
        pki.key(k, Key::P256);
    }
    let root = pki.cert("root", "/CN=Root", None, CA_EXT, &["-sha256"], 30);
    let mk_chain = |inter_ext: &str| {
        let inter = pki.cert(
            "inter",
            "/CN=Intermediate",
            Some("root"),
            inter_ext,
            &["-sha256"],
            30,
        );
        let leaf = pki.cert(
            "leaf",
            "/CN=Leaf",
            Some("inter"),
            LEAF_EXT,
            &["-sha256"],
            10,
        );
        (inter, leaf)
    };

    let (inter, leaf) = mk_chain(CA_EXT);
    verify(&leaf, &[&inter], &[&root]).unwrap();

    let (inter, leaf) =
        mk_chain("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyCertSign");
    let err = verify(&leaf, &[&inter], &[&root]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "intermediate 'CN=Intermediate' cannot issue certificates: basicConstraints cA is false"
    );

    let (inter, leaf) = mk_chain("keyUsage=critical,keyCertSign");
    let err = verify(&leaf, &[&inter], &[&root]).unwrap_err();
    assert!(
        err.to_string().ends_with("no basicConstraints extension"),
        "{err}"
    );

    let (inter, leaf) =
        mk_chain("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature");
    let err = verify(&leaf, &[&inter], &[&root]).unwrap_err();
    assert!(
        err.to_string().ends_with("keyUsage lacks keyCertSign"),
        "{err}"
    );

    // Critical nameConstraints is not processed here, so it is refused.
    let (inter, leaf) = mk_chain(&format!(
        "{CA_EXT}\nnameConstraints=critical,permitted;DNS:example.com"
    ));
    let err = verify(&leaf, &[&inter], &[&root]).unwrap_err();
    assert!(
        matches!(&err, EkCertError::UnknownCriticalExtension { oid, .. } if oid == "2.5.29.30"),
        "{err}"
    );

    // A non-CA certificate configured as trust anchor.
    pki.key("fake", Key::P256);
    let fake = pki.cert(
        "fake",
        "/CN=Not A CA",
        None,
        "basicConstraints=critical,CA:FALSE",
        &["-sha256"],
        30,
    );
    let leaf = pki.cert("leaf", "/CN=Leaf", Some("fake"), LEAF_EXT, &["-sha256"], 10);
    let err = verify(&leaf, &[], &[&fake]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "trust anchor 'CN=Not A CA' cannot issue certificates: basicConstraints cA is false"
    );
}

#[test]
fn path_length_constraints_are_enforced() {
    let pki = Pki::new("pathlen");
    for k in ["root", "i1", "i2", "leaf"] {
        pki.key(k, Key::P256);
    }
    let root0 = pki.cert(
        "root",
        "/CN=Root",
        None,
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign",
        &["-sha256"],
        30,
    );
    let i1 = pki.cert("i1", "/CN=I1", Some("root"), CA_EXT, &["-sha256"], 30);
    let leaf = pki.cert("leaf", "/CN=Leaf", Some("i1"), LEAF_EXT, &["-sha256"], 10);
    let err = verify(&leaf, &[&i1], &[&root0]).unwrap_err();
    assert_eq!(
        err,
        EkCertError::PathLength {
            cert: "'CN=Root'".into(),
            limit: 0,
            below: 1
        }
    );
    // pathlen:0 still lets the root sign the leaf directly.
    let direct = pki.cert(
        "leaf",
        "/CN=Direct",
        Some("root"),
        LEAF_EXT,
        &["-sha256"],
        10,
    );
    verify(&direct, &[], &[&root0]).unwrap();

    // root (no limit) → I1 (pathlen:0) → I2 → leaf: I1's limit is exceeded.
    let root = pki.cert("root", "/CN=Root", None, CA_EXT, &["-sha256"], 30);
    let i1 = pki.cert(
        "i1",
        "/CN=I1",
        Some("root"),
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign",
        &["-sha256"],
        30,
    );
    let i2 = pki.cert("i2", "/CN=I2", Some("i1"), CA_EXT, &["-sha256"], 30);
    let leaf = pki.cert("leaf", "/CN=Leaf", Some("i2"), LEAF_EXT, &["-sha256"], 10);
    let err = verify(&leaf, &[&i2, &i1], &[&root]).unwrap_err();
    assert!(
        matches!(&err, EkCertError::PathLength { cert, limit: 0, below: 1 } if cert == "'CN=I1'"),
        "{err}"
    );
    // With pathlen:1 it passes.
    let i1 = pki.cert(
        "i1",
        "/CN=I1",
        Some("root"),
        "basicConstraints=critical,CA:TRUE,pathlen:1\nkeyUsage=critical,keyCertSign",
        &["-sha256"],
        30,
    );
    let i2 = pki.cert("i2", "/CN=I2", Some("i1"), CA_EXT, &["-sha256"], 30);
    let leaf = pki.cert("leaf", "/CN=Leaf", Some("i2"), LEAF_EXT, &["-sha256"], 10);
    let v = verify(&leaf, &[&i1, &i2], &[&root]).unwrap();
    assert_eq!(v.chain, ["CN=Leaf", "CN=I2", "CN=I1", "CN=Root"]);
}

#[test]
fn leaf_critical_extensions() {
    let pki = Pki::new("crit");
    pki.key("root", Key::P256);
    pki.key("leaf", Key::P256);
    let root = pki.cert("root", "/CN=Root", None, CA_EXT, &["-sha256"], 30);
    // TPM EK quirks are accepted: empty subject with a critical SAN holding
    // the TCG directoryName, TCG EKU. (OpenSSL drops the text up to the
    // first '.' of a dirName field name, hence the "1." prefixes.)
    let tcg = format!(
        "{LEAF_EXT}\nsubjectAltName=critical,dirName:tpm\n[tpm]\n1.2.23.133.2.1=id:53424C44\n2.2.23.133.2.2=sealbuild-test\n3.2.23.133.2.3=id:00010002"
    );
    let leaf = pki.cert("leaf", "/", Some("root"), &tcg, &["-sha256"], 10);
    let v = verify(&leaf, &[], &[&root]).unwrap();
    assert_eq!(v.subject, "");
    let tpm = v.tpm.unwrap();
    assert_eq!(tpm.manufacturer_ascii().as_deref(), Some("SBLD"));
    assert_eq!(tpm.model.as_deref(), Some("sealbuild-test"));
    assert_eq!(tpm.version_id(), Some(0x0001_0002));

    // An unknown critical extension is reported; the same one non-critical is not.
    let leaf = pki.cert(
        "leaf",
        "/CN=Leaf",
        Some("root"),
        &format!("{LEAF_EXT}\n1.3.6.1.4.1.55555.1=critical,ASN1:NULL"),
        &["-sha256"],
        10,
    );
    let err = verify(&leaf, &[], &[&root]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "certificate 'CN=Leaf': unsupported critical extension 1.3.6.1.4.1.55555.1"
    );
    let leaf = pki.cert(
        "leaf",
        "/CN=Leaf",
        Some("root"),
        &format!("{LEAF_EXT}\n1.3.6.1.4.1.55555.1=ASN1:NULL"),
        &["-sha256"],
        10,
    );
    verify(&leaf, &[], &[&root]).unwrap();
    // Critical certificatePolicies are not processed: refused.
    let leaf = pki.cert(
        "leaf",
        "/CN=Leaf",
        Some("root"),
        &format!("{LEAF_EXT}\ncertificatePolicies=critical,1.2.3.4"),
        &["-sha256"],
        10,
    );
    let err = verify(&leaf, &[], &[&root]).unwrap_err();
    assert!(
        err.to_string()
            .contains("unsupported critical extension 2.5.29.32"),
        "{err}"
    );
    // A leaf that is a CA is refused.
    let leaf = pki.cert("leaf", "/CN=Leaf", Some("root"), CA_EXT, &["-sha256"], 10);
    assert!(matches!(
        verify(&leaf, &[], &[&root]),
        Err(EkCertError::LeafIsCa { .. })
    ));
}

#[test]
fn intermediate_validity_is_enforced() {
    let pki = Pki::new("time");
    for k in ["root", "inter", "leaf"] {
        pki.key(k, Key::P256);
    }
    let root = pki.cert("root", "/CN=Root", None, CA_EXT, &["-sha256"], 30);
    let inter = pki.cert(
        "inter",
        "/CN=Short-lived CA",
        Some("root"),
        CA_EXT,
        &["-sha256"],
        1,
    );
    let leaf = pki.cert(
        "leaf",
        "/CN=Leaf",
        Some("inter"),
        LEAF_EXT,
        &["-sha256"],
        20,
    );
    let v = verify(&leaf, &[&inter], &[&root]).unwrap();
    // Three days later the leaf is still valid, its issuer is not.
    let err = verify_at(&leaf, &[&inter], &[&root], v.not_before + 3 * 86_400).unwrap_err();
    assert!(
        matches!(&err, EkCertError::Expired { cert, .. } if cert == "'CN=Short-lived CA'"),
        "{err}"
    );
    // And the root expires after 30 days.
    let err = verify_at(&leaf, &[], &[&inter], v.not_before + 3 * 86_400).unwrap_err();
    assert!(matches!(err, EkCertError::Expired { .. }), "{err}");
}

#[test]
fn depth_limit_and_loops_terminate() {
    let pki = Pki::new("depth");
    pki.key("root", Key::P256);
    let root = pki.cert("root", "/CN=Root", None, CA_EXT, &["-sha256"], 30);
    // root → I0 → … → I6 → leaf is 9 certificates: refused; without I6
    // (leaf under I5) it is 8 = MAX_CHAIN_LEN: accepted.
    let mut inters = Vec::new();
    let mut issuer = "root".to_string();
    for i in 0..7 {
        let name = format!("i{i}");
        pki.key(&name, Key::P256);
        inters.push(pki.cert(
            &name,
            &format!("/CN=I{i}"),
            Some(&issuer),
            CA_EXT,
            &["-sha256"],
            30,
        ));
        issuer = name;
    }
    pki.key("leaf", Key::P256);
    let deep = pki.cert("leaf", "/CN=Deep", Some("i6"), LEAF_EXT, &["-sha256"], 10);
    let ok = pki.cert("leaf", "/CN=Ok", Some("i5"), LEAF_EXT, &["-sha256"], 10);
    let refs: Vec<&Vec<u8>> = inters.iter().collect();
    let v = verify(&ok, &refs, &[&root]).unwrap();
    assert_eq!(v.chain.len(), MAX_CHAIN_LEN);
    let err = verify(&deep, &refs, &[&root]).unwrap_err();
    assert!(
        matches!(err, EkCertError::ChainTooLong { max: 8, .. }),
        "{err}"
    );

    // A and B issue each other (same key for A and its self-signed seed).
    pki.key("a", Key::P256);
    pki.key("b", Key::P256);
    pki.cert("a", "/CN=A", None, CA_EXT, &["-sha256"], 30); // a.der: self-signed seed
    let b = pki.cert("b", "/CN=B", Some("a"), CA_EXT, &["-sha256"], 30);
    let a = pki.cert("a", "/CN=A", Some("b"), CA_EXT, &["-sha256"], 30);
    let leaf = pki.cert("leaf", "/CN=Looped", Some("a"), LEAF_EXT, &["-sha256"], 10);
    let err = verify(&leaf, &[&a, &b, &a], &[&root]).unwrap_err();
    assert!(matches!(err, EkCertError::NoIssuer { .. }), "{err}");
}

#[test]
fn too_many_candidate_issuers_stop_the_search() {
    let pki = Pki::new("budget");
    pki.key("root", Key::P256);
    let root = pki.cert("root", "/CN=Root", None, CA_EXT, &["-sha256"], 30);
    pki.key("real", Key::P256);
    pki.cert("real", "/CN=Popular", None, CA_EXT, &["-sha256"], 30);
    pki.key("leaf", Key::P256);
    let leaf = pki.cert("leaf", "/CN=Leaf", Some("real"), LEAF_EXT, &["-sha256"], 10);
    // 65 distinct impostors named like the issuer (one wrong key, distinct
    // serial numbers).
    pki.key("fake", Key::P256);
    let fakes: Vec<Vec<u8>> = (0..65)
        .map(|_| pki.cert("fake", "/CN=Popular", None, CA_EXT, &["-sha256"], 30))
        .collect();
    let refs: Vec<&Vec<u8>> = fakes.iter().collect();
    let err = verify(&leaf, &refs, &[&root]).unwrap_err();
    assert_eq!(err, EkCertError::TooManyCandidates(64));
}
