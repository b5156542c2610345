//! AMD's certificate revocation lists for SEV-SNP.
//!
//! AMD "VCEK Certificate and KDS Interface Specification" (publication
//! 57230), revision 0.50, §"KDS Interface": `/vcek/v1/<Product>/crl` and
//! `/vlek/v1/<Product>/crl` serve a DER X.509 v2 CRL (IETF RFC 5280 §5)
//! signed by the product's ARK with RSASSA-PSS. Its scope is what the ARK
//! issued, i.e. the ASK and the ASVK: a VCEK or VLEK is issued by those, and
//! every VCEK carries serial number 0, so revocation of an endorsement key is
//! expressed by revoking its intermediate.
//!
//! [`check_crl`] verifies the CRL's signature with the ARK, that it is current
//! at the verification time (thisUpdate ≤ time ≤ nextUpdate — a CRL without
//! nextUpdate, or past it, is refused: a stale list proves nothing), and
//! that the intermediate's serial number is not listed
//! ([`crate::ekcert::crl`], the one CRL implementation). Bytes and a time
//! in; fetching is the collateral fetcher's job. [`super::SnpChainCache`]
//! keeps CRLs whose signature verified, by their bytes and the ARK's.

pub use crate::ekcert::crl::CrlError;
use crate::ekcert::crl::{verify_crl, VerifiedCrl};

/// A CRL that verified and did not list the intermediate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlStatus {
    /// thisUpdate (Unix seconds).
    pub this_update: u64,
    /// nextUpdate (Unix seconds).
    pub next_update: u64,
    /// Number of entries in the list.
    pub revoked_entries: usize,
}

/// Checks `crl_der` against the ARK and the ASK/ASVK at `at_unix_secs`.
pub fn check_crl(
    crl_der: &[u8],
    ark_der: &[u8],
    intermediate_der: &[u8],
    at_unix_secs: u64,
) -> Result<CrlStatus, CrlError> {
    let crl = verify_crl(crl_der, ark_der, at_unix_secs, SCOPE)?;
    status(&crl, intermediate_der)
}

/// The scope named in SEV-SNP CRL errors.
pub(crate) const SCOPE: &str = "SEV-SNP CRL";

/// [`check_crl`] after the CRL verified and was found current.
pub(crate) fn status(crl: &VerifiedCrl, intermediate_der: &[u8]) -> Result<CrlStatus, CrlError> {
    crl.check_not_revoked(intermediate_der)?;
    Ok(CrlStatus {
        this_update: crl.this_update,
        next_update: crl.next_update,
        revoked_entries: crl.revoked.len(),
    })
}
