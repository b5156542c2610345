//! The TPM backend against a real software TPM (swtpm 0.7), one private
//! swtpm per test: EK and AK creation, quotes and the PCR values they cover,
//! AK persistence, and that nothing stays loaded in the TPM.

// Test crate: the helper functions outside #[test] fns fail loudly too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod tpm_support;

use p256::ecdsa::signature::Verifier as _;
use sealbuild_agent::evidence::{AgentError, EvidenceCollector};
use sealbuild_agent::tpm::ak::name_of_public;
use sealbuild_agent::tpm::{
    AkState, AkType, EkSelection, EkType, PcrSelection, TpmBackend, TpmCollector,
};
use sealbuild_common::api::Evidence;
use sealbuild_common::HashAlg;
use sealbuild_common::Platform;
use tpm_support::*;

/// TPMA_OBJECT of an AK: fixedTPM | fixedParent | sensitiveDataOrigin |
/// userWithAuth | restricted | sign (what `tpm2_createak` also sets).
const AK_ATTRIBUTES: u32 = 0x0005_0072;

fn sel(s: &str) -> PcrSelection {
    s.parse().unwrap()
}

#[test]
fn ek_and_ak_of_every_type() {
    let tpm = Swtpm::start();
    let mut b = TpmBackend::open(&tpm.tcti()).unwrap();

    for (ek_type, alg, curve_or_bits, name_alg) in [
        (EkType::Rsa2048, 0x0001, 2048, 0x000b),
        (EkType::EccP256, 0x0023, 0x0003, 0x000b),
        (EkType::EccP384, 0x0023, 0x0004, 0x000c),
    ] {
        let ek = b.endorsement_key(EkSelection::Fixed(ek_type)).unwrap();
        assert_eq!(ek.ek_type, ek_type);
        assert!(
            ek.certificate.is_none(),
            "a fresh swtpm has no EK certificate"
        );
        let p = parse_tpm2b_public(&ek.public);
        assert_eq!(
            (p.alg, p.size_or_curve, p.name_alg),
            (alg, curve_or_bits, name_alg)
        );
        // restricted | decrypt | fixedTPM | fixedParent | sensitiveDataOrigin | adminWithPolicy
        assert_eq!(
            p.attributes & 0x0003_00b2,
            0x0003_00b2,
            "{ek_type}: {:#x}",
            p.attributes
        );
        assert_eq!(p.attributes & 0x0004_0000, 0, "{ek_type}: EK must not sign");
        assert!(
            !p.auth_policy.is_empty(),
            "{ek_type}: EK has the TCG authPolicy"
        );
        assert_eq!(ek.name, name_of_public(&ek.public).unwrap());
        // The EK is derived from the seed: the same key every time.
        let again = b.endorsement_key(EkSelection::Fixed(ek_type)).unwrap();
        assert_eq!(again.public, ek.public, "{ek_type}: EK is deterministic");
    }

    // Auto without certificates is RSA 2048.
    let auto = b.endorsement_key(EkSelection::Auto).unwrap();
    assert_eq!(auto.ek_type, EkType::Rsa2048);
    assert!(matches!(
        b.ek_certificate(EkType::Rsa2048),
        Err(AgentError::MissingEkCertificate { .. })
    ));

    for (ak_type, alg, scheme) in [(AkType::Ecc, 0x0023, 0x0018), (AkType::Rsa, 0x0001, 0x0014)] {
        for ek_type in [EkType::Rsa2048, EkType::EccP256] {
            let reg = b.register(EkSelection::Fixed(ek_type), ak_type).unwrap();
            let ak = &reg.ak;
            assert_eq!(ak.ek_name, reg.ek.name);
            let p = parse_tpm2b_public(&ak.public);
            assert_eq!(p.alg, alg, "{ak_type}");
            assert_eq!(p.name_alg, 0x000b, "{ak_type}: nameAlg SHA-256");
            assert_eq!(
                p.attributes, AK_ATTRIBUTES,
                "{ak_type}: {:#x}",
                p.attributes
            );
            assert!(p.auth_policy.is_empty());
            assert_eq!(p.symmetric, 0x0010, "{ak_type}: symmetric NULL");
            assert_eq!(
                (p.scheme, p.scheme_hash),
                (scheme, Some(0x000b)),
                "{ak_type}"
            );
            match ak_type {
                AkType::Ecc => {
                    assert_eq!(p.size_or_curve, 0x0003, "NIST P-256");
                    let (x, y) = p.ecc_xy.unwrap();
                    assert_eq!((x.len(), y.len()), (32, 32));
                }
                AkType::Rsa => {
                    assert_eq!(p.size_or_curve, 2048);
                    assert_eq!(p.unique.len(), 256);
                }
            }
            // The Name the TPM reports is nameAlg || SHA-256(TPMT_PUBLIC).
            let mut expected = vec![0x00, 0x0b];
            expected.extend(HashAlg::Sha256.digest(&ak.public[2..]));
            assert_eq!(ak.name, expected);
            // A new AK each time.
            let other = b.create_ak(ek_type, ak_type).unwrap();
            assert_ne!(other.public, ak.public);

            // Stored and loaded back, it still quotes.
            let dir = tempfile::tempdir().unwrap();
            let path = ak.save(dir.path()).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600);
            }
            let loaded = AkState::load(dir.path()).unwrap();
            assert_eq!(&loaded, ak);
            b.quote(&loaded, b"stored AK", &sel("sha256:0")).unwrap();

            let req = reg.register_request();
            assert_eq!(req.ak_public, ak.public);
            assert_eq!(req.ek_public, reg.ek.public);
            assert!(req.ek_certificate.is_none());
        }
    }
    let left = b.loaded_handles().unwrap();
    assert!(
        left.transient.is_empty() && left.sessions.is_empty(),
        "{left:?}"
    );
}

#[test]
fn quotes_cover_the_pcr_values_returned() {
    let tpm = Swtpm::start();
    let mut b = TpmBackend::open(&tpm.tcti()).unwrap();
    let reg = b
        .register(EkSelection::Fixed(EkType::EccP256), AkType::Ecc)
        .unwrap();

    // Give PCRs 0..2 known non-zero values in the sha256 and sha1 banks.
    let d256 = HashAlg::Sha256.digest(b"simulated firmware");
    let d1 = HashAlg::Sha1.digest(b"simulated firmware");
    for pcr in 0..3 {
        b.extend_pcr(pcr, &[(HashAlg::Sha256, &d256), (HashAlg::Sha1, &d1)])
            .unwrap();
    }
    let expected_256 = HashAlg::Sha256.extend(&[0u8; 32], &d256);
    let expected_1 = HashAlg::Sha1.extend(&[0u8; 20], &d1);

    // 11 PCRs: more than one TPM2_PCR_Read (8 at most per call).
    let selection = sel("sha256:0,1,2,3,4,5,6,7+sha1:0,1,2");
    let q1 = b.quote(&reg.ak, &[0x11; 32], &selection).unwrap();
    let q2 = b.quote(&reg.ak, &[0x22; 32], &selection).unwrap();
    let read = b.read_pcrs(&selection).unwrap();
    assert_eq!(q1.pcrs, read);
    assert_eq!(q2.pcrs, read);
    assert_eq!(read.get(HashAlg::Sha256, 1), Some(expected_256.as_slice()));
    assert_eq!(read.get(HashAlg::Sha1, 2), Some(expected_1.as_slice()));
    assert_eq!(read.get(HashAlg::Sha256, 7), Some([0u8; 32].as_slice()));

    let (x, y) = parse_tpm2b_public(&reg.ak.public).ecc_xy.unwrap();
    let point = p256::EncodedPoint::from_affine_coordinates(
        x.as_slice().into(),
        y.as_slice().into(),
        false,
    );
    let vk = p256::ecdsa::VerifyingKey::from_encoded_point(&point).unwrap();
    for (q, nonce) in [(&q1, [0x11u8; 32]), (&q2, [0x22u8; 32])] {
        let a = parse_quote_attest(&q.attest);
        assert_eq!(a.magic, 0xff54_4347, "TPM_GENERATED_VALUE");
        assert_eq!(a.tag, 0x8018, "TPM_ST_ATTEST_QUOTE");
        assert_eq!(a.extra_data, nonce);
        assert_eq!(a.signer.len(), 34, "qualified name of the AK");
        assert_eq!(
            a.selection,
            vec![(0x000b, vec![0xff, 0, 0]), (0x0004, vec![0x07, 0, 0])]
        );
        let mut concat = Vec::new();
        for (_, _, v) in q.pcrs.iter() {
            concat.extend_from_slice(v);
        }
        assert_eq!(a.pcr_digest, HashAlg::Sha256.digest(&concat));
        // ECDSA-SHA256 signature over the TPMS_ATTEST bytes, checked outside the TPM.
        let (alg, hash, r, s) = parse_ecdsa_signature(&q.signature);
        assert_eq!((alg, hash), (0x0018, 0x000b));
        let pad = |v: &[u8]| {
            let mut out = [0u8; 32];
            out[32 - v.len()..].copy_from_slice(v);
            out
        };
        let sig = p256::ecdsa::Signature::from_scalars(pad(&r), pad(&s)).unwrap();
        vk.verify(&q.attest, &sig).unwrap();
        // and not over another message
        let mut other = q.attest.clone();
        other[10] ^= 1;
        assert!(vk.verify(&other, &sig).is_err());
    }
    assert_ne!(q1.attest, q2.attest);
    assert_ne!(q1.signature, q2.signature);

    // After another extend, a new quote reports the new value.
    b.extend_pcr(7, &[(HashAlg::Sha256, &d256)]).unwrap();
    let q3 = b.quote(&reg.ak, &[0x33; 32], &selection).unwrap();
    assert_eq!(
        q3.pcrs.get(HashAlg::Sha256, 7),
        Some(expected_256.as_slice())
    );
    assert_ne!(
        parse_quote_attest(&q3.attest).pcr_digest,
        parse_quote_attest(&q1.attest).pcr_digest
    );

    // Every bank and every PCR: 96 digests, 12 PCR_Read calls.
    let all = sel("sha1:all+sha256:all+sha384:all+sha512:all");
    let big = b.quote(&reg.ak, b"all banks", &all).unwrap();
    assert_eq!(big.pcrs.iter().count(), 96);
    assert_eq!(big.pcrs, b.read_pcrs(&all).unwrap());

    // Qualifying data over 64 bytes is refused before reaching the TPM.
    assert!(matches!(
        b.quote(&reg.ak, &[0u8; 65], &selection),
        Err(AgentError::InvalidArgument { .. })
    ));
}

#[test]
fn collector_binds_the_binding_digest() {
    let tpm = Swtpm::start();
    let mut b = TpmBackend::open(&tpm.tcti()).unwrap();
    let reg = b
        .register(EkSelection::Fixed(EkType::EccP256), AkType::Ecc)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("binary_bios_measurements");
    std::fs::write(&log, b"log bytes").unwrap();

    let mut c = TpmCollector::new(b, reg.ak.clone(), sel("sha256:0,1"), Some(log));
    assert_eq!(c.platform(), Platform::Tpm);
    let binding = [0x5a; 32];
    let Evidence::Tpm(ev) = c.collect(&binding).unwrap() else {
        unreachable!("TPM collector")
    };
    assert_eq!(parse_quote_attest(&ev.quote).extra_data, binding);
    assert_eq!(ev.event_log.as_deref(), Some(&b"log bytes"[..]));
    assert_eq!(ev.pcrs["sha256"].len(), 2);
    assert_eq!(ev.pcrs["sha256"][&0], hex::encode([0u8; 32]));

    // No event log (as on swtpm): absence is reported as None, not an error.
    std::fs::remove_file(dir.path().join("binary_bios_measurements")).unwrap();
    let Evidence::Tpm(ev) = c.collect(&binding).unwrap() else {
        unreachable!("TPM collector")
    };
    assert!(ev.event_log.is_none());
    assert_eq!(parse_quote_attest(&ev.quote).extra_data, binding);
}

#[test]
fn nothing_stays_loaded_on_success_or_error() {
    let tpm = Swtpm::start();
    let mut b = TpmBackend::open(&tpm.tcti()).unwrap();
    let assert_clean = |b: &mut TpmBackend, when: &str| {
        let left = b.loaded_handles().unwrap();
        assert!(
            left.transient.is_empty() && left.sessions.is_empty(),
            "{when}: still loaded: {left:?}"
        );
    };
    assert_clean(&mut b, "at start");
    let reg = b
        .register(EkSelection::Fixed(EkType::EccP256), AkType::Ecc)
        .unwrap();
    assert_clean(&mut b, "after register");
    let selection = sel("sha256:0,1,2,3,4,5,6,7,8,9");
    for i in 0..25u8 {
        b.quote(&reg.ak, &[i; 16], &selection).unwrap();
    }
    assert_clean(&mut b, "after 25 quotes");

    // Error paths inside the TPM.
    // 1. A corrupted private blob fails TPM2_Load (integrity check).
    let mut bad = reg.ak.clone();
    let last = bad.private.len() - 1;
    bad.private[last] ^= 0x01;
    let e = b.quote(&bad, b"x", &selection).unwrap_err();
    assert!(
        matches!(e, AgentError::TpmCommand { command, .. } if command.starts_with("Load")),
        "{e}"
    );
    assert!(
        e.to_string().contains("rc 0x"),
        "names the response code: {e}"
    );
    assert_clean(&mut b, "after a failed load");
    // 2. A credential that does not decrypt fails ActivateCredential with
    //    the EK, the AK and the policy session loaded.
    let id = [&[0u8, 34][..], &[0u8, 32][..], &[7u8; 32][..]].concat();
    let secret = [&[0x01u8, 0x00][..], &[9u8; 256][..]].concat();
    let e = b.activate_credential(&reg.ak, &id, &secret).unwrap_err();
    assert!(
        matches!(
            e,
            AgentError::TpmCommand {
                command: "ActivateCredential",
                ..
            }
        ),
        "{e}"
    );
    assert_clean(&mut b, "after a failed activation");
    // 3. An AK recorded under another EK is refused after the EK was created.
    let mut other = reg.ak.clone();
    other.ek_name[5] ^= 0xff;
    assert!(matches!(
        b.quote(&other, b"x", &selection),
        Err(AgentError::EkMismatch { .. })
    ));
    assert_clean(&mut b, "after an EK mismatch");
    // 4. The AK blob presented under another (RSA) EK: TPM2_Load refuses it.
    let rsa_ek = b
        .endorsement_key(EkSelection::Fixed(EkType::Rsa2048))
        .unwrap();
    let mut wrong_parent = reg.ak.clone();
    wrong_parent.ek_type = EkType::Rsa2048;
    wrong_parent.ek_name = rsa_ek.name;
    let e = b.quote(&wrong_parent, b"x", &selection).unwrap_err();
    assert!(
        matches!(e, AgentError::TpmCommand { command, .. } if command.starts_with("Load")),
        "{e}"
    );
    assert_clean(&mut b, "after a wrong parent");
    drop(b);

    // And seen from another client (tpm2-tools) after the agent is gone.
    let out = tpm.tpm2_ok("tpm2_getcap", &["handles-transient"]);
    assert!(out.trim().is_empty(), "transient handles left: {out}");
    let out = tpm.tpm2_ok("tpm2_getcap", &["handles-loaded-session"]);
    assert!(out.trim().is_empty(), "sessions left: {out}");
}

#[test]
fn open_says_which_tcti_failed() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tcti = format!("swtpm:host=127.0.0.1,port={port}").parse().unwrap();
    let e = TpmBackend::open(&tcti).unwrap_err();
    assert!(matches!(e, AgentError::TctiOpen { .. }), "{e}");
    let text = e.to_string();
    assert!(text.contains(&format!("port={port}")), "{text}");
    assert!(text.contains("TCTI layer"), "{text}");
}
