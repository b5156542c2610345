//! Test collateral for the simulated platform, in Intel's PCS formats
//! (Intel "SGX and TDX PCS API" version 4): TCB Info v3 for [`crate::FMSPC`]
//! and the TD QE Identity v2, each signed at run time with the published
//! TCB signing key over the exact bytes of the signed JSON value; the
//! issuer chains (TCB signing, root) and the two CRLs made by
//! `gen-test-chain.sh`.
//!
//! The documents are issued an hour before `now` and valid for
//! [`VALIDITY_SECS`], as Intel's are valid for about a month; a verifier
//! checking them later than that refuses them as expired, like real ones.
//!
//! Two layouts: the JSON bundle (`QuoteCollateralV3` field names, what
//! `sealbuild-verifier verify tdx --collateral F` reads) and the raw PCS
//! response files of the verifier's collateral store
//! (`<store>/tdx/<fmspc>-platform/`, what `--collateral-dir` and the service
//! read).

use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;

use crate::{
    pem_chain, qe_mrsigner, sign, SimError, FMSPC, PCE_ID, PCE_SVN, PCK_CA_DER, PCK_CRL_DER,
    QE_ATTRIBUTES, QE_ISVPRODID, QE_ISVSVN, ROOT_CRL_DER, ROOT_DER, SGX_COMPONENTS,
    TCB_SIGNING_DER, TCB_SIGNING_KEY_PKCS8_DER, TEE_TCB_SVN, TEE_TCB_SVN_OUT_OF_DATE,
};

/// How long the documents are valid: 30 days.
pub const VALIDITY_SECS: u64 = 30 * 24 * 3600;
/// The tcbEvaluationDataNumber of the test documents.
pub const TCB_EVALUATION_DATA_NUMBER: u32 = 17;
/// The advisory the OutOfDate level names.
pub const OUT_OF_DATE_ADVISORY: &str = "SIM-SA-00001";

/// Signed TCB Info and QE Identity for one issue time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCollateral {
    /// The signed `tcbInfo` value, exactly as signed.
    pub tcb_info: String,
    /// Its signature, r‖s.
    pub tcb_info_signature: [u8; 64],
    /// The signed `enclaveIdentity` value.
    pub qe_identity: String,
    /// Its signature, r‖s.
    pub qe_identity_signature: [u8; 64],
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds, the form of PCS dates.
pub fn rfc3339(secs: u64) -> String {
    sealbuild_common::intoto::format_rfc3339_utc(secs)
}

fn components(svns: &[u8]) -> serde_json::Value {
    svns.iter().map(|s| json!({ "svn": s })).collect()
}

fn upper(b: &[u8]) -> String {
    hex::encode_upper(b)
}

/// The signed TCB Info v3 body: one UpToDate level for [`SGX_COMPONENTS`] /
/// [`PCE_SVN`] / [`TEE_TCB_SVN`] and one OutOfDate level below it.
pub fn tcb_info_json(issue: u64, next: u64) -> String {
    let level = |tdx: &[u8; 16], status: &str, date: &str, advisories: &[&str]| {
        json!({
            "tcb": {
                "sgxtcbcomponents": components(&SGX_COMPONENTS),
                "pcesvn": PCE_SVN,
                "tdxtcbcomponents": components(tdx),
            },
            "tcbDate": date,
            "tcbStatus": status,
            "advisoryIDs": advisories,
        })
    };
    let module_level = |svn: u8, status: &str, date: &str| json!({ "tcb": { "isvsvn": svn }, "tcbDate": date, "tcbStatus": status });
    let signer = upper(&[0u8; 48]);
    json!({
        "id": "TDX",
        "version": 3,
        "issueDate": rfc3339(issue),
        "nextUpdate": rfc3339(next),
        "fmspc": hex::encode(FMSPC),
        "pceId": hex::encode(PCE_ID),
        "tcbType": 0,
        "tcbEvaluationDataNumber": TCB_EVALUATION_DATA_NUMBER,
        "tdxModule": {
            "mrsigner": signer,
            "attributes": "0000000000000000",
            "attributesMask": "FFFFFFFFFFFFFFFF",
        },
        "tdxModuleIdentities": [{
            "id": "TDX_01",
            "mrsigner": signer,
            "attributes": "0000000000000000",
            "attributesMask": "FFFFFFFFFFFFFFFF",
            "tcbLevels": [
                module_level(TEE_TCB_SVN[0], "UpToDate", "2025-01-01T00:00:00Z"),
                module_level(TEE_TCB_SVN_OUT_OF_DATE[0], "OutOfDate", "2024-06-01T00:00:00Z"),
            ],
        }],
        "tcbLevels": [
            level(&TEE_TCB_SVN, "UpToDate", "2025-01-01T00:00:00Z", &[]),
            level(&TEE_TCB_SVN_OUT_OF_DATE, "OutOfDate", "2024-06-01T00:00:00Z", &[OUT_OF_DATE_ADVISORY]),
        ],
    })
    .to_string()
}

/// The signed TD QE Identity v2 body.
pub fn qe_identity_json(issue: u64, next: u64) -> String {
    json!({
        "id": "TD_QE",
        "version": 2,
        "issueDate": rfc3339(issue),
        "nextUpdate": rfc3339(next),
        "tcbEvaluationDataNumber": TCB_EVALUATION_DATA_NUMBER,
        "miscselect": "00000000",
        "miscselectMask": "FFFFFFFF",
        "attributes": upper(&QE_ATTRIBUTES),
        "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
        "mrsigner": upper(&qe_mrsigner()),
        "isvprodid": QE_ISVPRODID,
        "tcbLevels": [
            { "tcb": { "isvsvn": QE_ISVSVN }, "tcbDate": "2025-01-01T00:00:00Z", "tcbStatus": "UpToDate" },
        ],
    })
    .to_string()
}

/// TCB Info and QE Identity issued an hour before `now` (Unix seconds),
/// valid for [`VALIDITY_SECS`].
pub fn collateral(now: u64) -> Result<SimCollateral, SimError> {
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, TCB_SIGNING_KEY_PKCS8_DER)
        .map_err(|_| SimError::Key {
            what: "the TCB signing key",
        })?;
    let issue = now.saturating_sub(3600);
    let next = now.saturating_add(VALIDITY_SECS);
    let tcb_info = tcb_info_json(issue, next);
    let qe_identity = qe_identity_json(issue, next);
    Ok(SimCollateral {
        tcb_info_signature: sign(&key, "TCB Info", tcb_info.as_bytes())?,
        qe_identity_signature: sign(&key, "QE Identity", qe_identity.as_bytes())?,
        tcb_info,
        qe_identity,
    })
}

/// The folder of the simulated platform inside a collateral store.
pub fn store_subdir() -> String {
    format!("tdx/{}-platform", hex::encode(FMSPC))
}

impl SimCollateral {
    /// The JSON bundle (`QuoteCollateralV3` field names; CRLs as hex DER).
    pub fn bundle_json(&self) -> Vec<u8> {
        let tcb_chain = pem_chain(&[TCB_SIGNING_DER, ROOT_DER]);
        json!({
            "pck_crl_issuer_chain": pem_chain(&[PCK_CA_DER, ROOT_DER]),
            "root_ca_crl": hex::encode(ROOT_CRL_DER),
            "pck_crl": hex::encode(PCK_CRL_DER),
            "tcb_info_issuer_chain": tcb_chain,
            "tcb_info": self.tcb_info,
            "tcb_info_signature": hex::encode(self.tcb_info_signature),
            "qe_identity_issuer_chain": tcb_chain,
            "qe_identity": self.qe_identity,
            "qe_identity_signature": hex::encode(self.qe_identity_signature),
        })
        .to_string()
        .into_bytes()
    }

    /// The raw PCS responses, as (file name, bytes) of the store's folder.
    pub fn pcs_files(&self) -> Vec<(&'static str, Vec<u8>)> {
        let tcb_chain = pem_chain(&[TCB_SIGNING_DER, ROOT_DER]).into_bytes();
        vec![
            (
                "tcbinfo.json",
                format!(
                    "{{\"tcbInfo\":{},\"signature\":\"{}\"}}",
                    self.tcb_info,
                    hex::encode(self.tcb_info_signature)
                )
                .into_bytes(),
            ),
            ("tcbinfo-issuer-chain.pem", tcb_chain.clone()),
            (
                "qeidentity.json",
                format!(
                    "{{\"enclaveIdentity\":{},\"signature\":\"{}\"}}",
                    self.qe_identity,
                    hex::encode(self.qe_identity_signature)
                )
                .into_bytes(),
            ),
            ("qeidentity-issuer-chain.pem", tcb_chain),
            ("pckcrl.der", PCK_CRL_DER.to_vec()),
            (
                "pckcrl-issuer-chain.pem",
                pem_chain(&[PCK_CA_DER, ROOT_DER]).into_bytes(),
            ),
            ("rootcrl.der", ROOT_CRL_DER.to_vec()),
        ]
    }
}
