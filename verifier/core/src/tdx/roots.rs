//! The Intel SGX Root CA, built in.
//!
//! Intel "Intel® SGX PCK Certificate and Certificate Revocation List Profile
//! Specification", section "Certificate Hierarchy": the self-signed ECDSA
//! P-256 "Intel SGX Root CA" issues the PCK Platform and Processor CAs, the
//! TCB Signing certificate and the root CA CRL. The certificate lives next
//! to this file (`roots/intel_sgx_root_ca.der`, provenance and fingerprint
//! in `roots/README.md`) and is compiled in: the verifier never takes a
//! root from a quote, a collateral bundle or the network (a quote's chain
//! must end in this exact certificate).

/// The DER of the Intel SGX Root CA.
pub const INTEL_SGX_ROOT_CA_DER: &[u8] = include_bytes!("roots/intel_sgx_root_ca.der");
/// Its SHA-256 fingerprint, hex.
pub const INTEL_SGX_ROOT_CA_SHA256: &str =
    "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

/// The root a DCAP verification trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntelRoot {
    der: Vec<u8>,
    insecure_test: bool,
}

impl Default for IntelRoot {
    fn default() -> Self {
        Self::builtin()
    }
}

impl IntelRoot {
    /// Intel's root.
    pub fn builtin() -> Self {
        Self {
            der: INTEL_SGX_ROOT_CA_DER.to_vec(),
            insecure_test: false,
        }
    }

    /// An INSECURE test root (a simulated backend's): anyone holding its key
    /// can forge quotes this verifier accepts. Only with the non-default
    /// `insecure-test-roots` feature.
    #[cfg(feature = "insecure-test-roots")]
    pub fn insecure_test(der: &[u8]) -> Self {
        Self {
            der: der.to_vec(),
            insecure_test: true,
        }
    }

    /// The root's DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Whether this is an insecure test root (never in a default build).
    pub fn is_insecure_test(&self) -> bool {
        self.insecure_test
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn builtin_root_is_the_pinned_one() {
        assert_eq!(
            hex::encode(Sha256::digest(INTEL_SGX_ROOT_CA_DER)),
            INTEL_SGX_ROOT_CA_SHA256
        );
        assert!(!IntelRoot::builtin().is_insecure_test());
        // The same certificate as the copies in the test data (DER and PEM).
        let data = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/tdx/intel-roots/"
        );
        let der = std::fs::read(format!("{data}Intel_SGX_RootCA_dcap-qvl.der")).unwrap();
        assert_eq!(der, INTEL_SGX_ROOT_CA_DER);
        let pem = std::fs::read(format!("{data}Intel_SGX_RootCA_go-tdx-guest.pem")).unwrap();
        let (label, der) = der::pem::decode_vec(&pem).unwrap();
        assert_eq!(label, "CERTIFICATE");
        assert_eq!(der, INTEL_SGX_ROOT_CA_DER);
    }
}
