//! Shared helpers of the azure-sim tests: a private swtpm per test, tpm2-tools
//! runs against it, the simulator's test chain as a verifier would load it,
//! and a real Azure AK modulus.
//!
//! Test support only: a failing helper stops the test with a message.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::Output;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use sealbuild_common::snp::SnpProduct;
use sealbuild_insecure_snp_sim::InsecureSimulatedSnp;
use sealbuild_verifier_core::azure::hcl::HclReport;
use sealbuild_verifier_core::snp::AmdRoots;

pub use sealbuild_tests::repo;

/// Now, Unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The DER certificates of a PEM text, in order.
pub fn pem_certs(pem: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut b64 = None::<String>;
    for line in pem.lines().map(str::trim) {
        match (line, &mut b64) {
            ("-----BEGIN CERTIFICATE-----", None) => b64 = Some(String::new()),
            ("-----END CERTIFICATE-----", Some(s)) => {
                out.push(
                    base64::engine::general_purpose::STANDARD
                        .decode(&s)
                        .unwrap(),
                );
                b64 = None;
            }
            (l, Some(s)) => s.push_str(l),
            _ => {}
        }
    }
    out
}

/// AMD's roots plus the INSECURE snp-sim test chain, loaded like the
/// verifier loads `snp_insecure_test_chain` (verifier/server/src/evidence.rs
/// `insecure_roots`): the KDS-style PEM file, ASK then ARK, trusted for Genoa.
pub fn roots_with_test_chain() -> AmdRoots {
    let path = repo().join("insecure/snp-sim/test-chain/cert_chain_vcek.pem");
    let pem = std::fs::read_to_string(&path).unwrap();
    let certs = pem_certs(&pem);
    let [ask, ark] = certs.as_slice() else {
        panic!(
            "{}: expected ASK then ARK, got {} certificates",
            path.display(),
            certs.len()
        );
    };
    assert_eq!(ark.as_slice(), InsecureSimulatedSnp::ark_der());
    assert_eq!(ask.as_slice(), InsecureSimulatedSnp::ask_der());
    AmdRoots::builtin().with_insecure_test_chain(SnpProduct::Genoa, ark, ask)
}

/// `(n, e)` of the HCLAkPub of the real Azure report in tests/data (a real
/// vTPM AK, RSA-2048).
pub fn real_azure_ak() -> (Vec<u8>, Vec<u8>) {
    let bytes = std::fs::read(repo().join("tests/data/azure/az-snp-vtpm/hcl-report.bin")).unwrap();
    let ak = HclReport::parse(&bytes).unwrap().ak_pub().unwrap();
    (ak.n, ak.e)
}

/// A swtpm with a fresh state, killed when dropped: the shared test
/// support's blank TPM, with tpm2-tools helpers.
pub struct Swtpm(pub sealbuild_tests::Tpm);

impl Swtpm {
    /// Starts a swtpm on an empty state.
    pub fn start() -> Self {
        Self(sealbuild_tests::Tpm::blank())
    }

    /// TCTI string for tpm2-tools.
    pub fn tcti(&self) -> String {
        self.0.tcti_string()
    }

    /// A path in the test's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.dir.path().join(name)
    }

    /// Runs a tpm2-tools command against this swtpm.
    pub fn tpm2(&self, tool: &str, args: &[&str]) -> Output {
        self.0.tpm2(tool, args)
    }

    /// Like [`Swtpm::tpm2`] but requires success; returns stdout.
    pub fn tpm2_ok(&self, tool: &str, args: &[&str]) -> String {
        self.0.tpm2_ok(tool, args)
    }

    /// Flushes transient objects and sessions.
    pub fn flush(&self) {
        self.0.flush()
    }

    /// The raw value of a fixed TPM property.
    pub fn fixed_property(&self, name: &str) -> u64 {
        self.0.fixed_property(name)
    }
}
