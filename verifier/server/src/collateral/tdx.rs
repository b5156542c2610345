//! Intel TDX DCAP collateral on disk: one directory of raw Intel PCS API v4
//! responses per FMSPC and PCK CA, the layout `verify tdx --collateral-dir`
//! reads, inside the collateral store next to SEV-SNP's:
//!
//! ```text
//! <store>/tdx/<fmspc as 12 hex digits>-<platform|processor>/
//!     tcbinfo.json                  GET /tdx/certification/v4/tcb?fmspc=…  (body)
//!     tcbinfo-issuer-chain.pem      its TCB-Info-Issuer-Chain header
//!     qeidentity.json               GET /tdx/certification/v4/qe/identity  (body)
//!     qeidentity-issuer-chain.pem   its SGX-Enclave-Identity-Issuer-Chain header
//!     pckcrl.der                    GET /sgx/certification/v4/pckcrl?ca=…  (DER, PEM or hex)
//!     pckcrl-issuer-chain.pem       its SGX-PCK-CRL-Issuer-Chain header (optional)
//!     rootcrl.der                   the Intel SGX Root CA CRL
//! ```
//!
//! Reading parses the documents (`TdxCollateral::from_pcs_responses`); their
//! signatures, issuer chains and validity are checked at verification time
//! against the built-in Intel SGX Root CA, so a stale or forged directory is
//! a rejection with its reason, never trusted. `sealbuild-verifier
//! collateral fetch tdx --quote F [--base-url URL]` fills the directory from
//! Intel PCS v4 or a PCCS ([`super::pcs`]); copying PCS or PCCS answers in
//! by hand works as well. Verification never fetches.

use super::{CollateralError, Result};
use sealbuild_verifier_core::tdx::{PckCa, PcsResponses, TdxCollateral};
use std::path::{Path, PathBuf};

/// `<store>/tdx/<fmspc>-<ca>`.
pub fn dir_for(store_root: &Path, fmspc: &[u8; 6], ca: PckCa) -> PathBuf {
    store_root
        .join("tdx")
        .join(format!("{}-{}", hex::encode(fmspc), ca.as_str()))
}

fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).map_err(|e| CollateralError::io("reading", p, e))
}

/// Reads and parses a directory in the layout above.
pub fn read_dir(dir: &Path) -> Result<TdxCollateral> {
    if !dir.is_dir() {
        return Err(CollateralError::io(
            "reading TDX collateral directory",
            dir,
            std::io::Error::other("not a directory"),
        ));
    }
    let f = |n: &str| read(&dir.join(n));
    let pck_chain = dir.join("pckcrl-issuer-chain.pem");
    let pck_chain = if pck_chain.is_file() {
        Some(read(&pck_chain)?)
    } else {
        None
    };
    let (tcb, tcb_chain) = (f("tcbinfo.json")?, f("tcbinfo-issuer-chain.pem")?);
    let (qe, qe_chain) = (f("qeidentity.json")?, f("qeidentity-issuer-chain.pem")?);
    let (pck_crl, root_crl) = (f("pckcrl.der")?, f("rootcrl.der")?);
    TdxCollateral::from_pcs_responses(&PcsResponses {
        tcb_info: &tcb,
        tcb_info_issuer_chain: &tcb_chain,
        qe_identity: &qe,
        qe_identity_issuer_chain: &qe_chain,
        pck_crl: &pck_crl,
        pck_crl_issuer_chain: pck_chain.as_deref(),
        root_ca_crl: &root_crl,
    })
    .map_err(|e| CollateralError::Malformed {
        what: dir.display().to_string(),
        expected: "Intel PCS v4 TCB Info, QE Identity, PCK CRL and root CA CRL".into(),
        got: e.to_string(),
    })
}
