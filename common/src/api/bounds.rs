//! Bounds on every field of the agent API's requests, checked right after
//! deserialisation (the verifier's `ApiJson` extractor), before anything is
//! looked up, stored, logged or echoed. A violation names the field, the
//! bound and what was seen (sizes and the offending character, escaped;
//! never the value).
//!
//! | field | bound |
//! |---|---|
//! | `agent_id`, `challenge_id` | 1–[`MAX_ID`] characters of `A-Z a-z 0-9 . _ : -` |
//! | `nonce`, `statement_digest` | at most [`MAX_HEX`] hex digits |
//! | `keys` | at most [`MAX_KEYS`] ids, each 1–[`MAX_KEY_ID`] characters of `A-Z a-z 0-9 . _ -` |
//! | `ephemeral_public_key` | at most [`MAX_PUBLIC_KEY`] bytes |
//! | `statement` | at most [`crate::intoto::MAX_STATEMENT_LEN`] bytes |
//! | TPM quote, signature, public areas | at most [`MAX_TPM_STRUCTURE`] bytes each |
//! | PCR values | at most [`MAX_BANKS`] banks of at most [`MAX_PCRS`] PCRs; bank names 1–[`MAX_BANK_NAME`] letters and digits; values at most [`MAX_HEX`] hex digits |
//! | event log, runtime log | at most [`MAX_LOG`] bytes each |
//! | SEV-SNP report, HCL report | at most [`MAX_REPORT`] bytes |
//! | TDX quote | at most [`MAX_QUOTE`] bytes |
//! | certificates | at most [`MAX_CERTS`], each at most [`MAX_CERT`] bytes |
//! | ActivateCredential secret | at most [`MAX_SECRET`] bytes |
//!
//! The HTTP body as a whole is limited by the verifier (4 MiB). The same
//! constants and character sets make the JSON Schemas of these fields
//! ([`super::schema`]), which the verifier's OpenAPI document publishes.

use super::{
    ActivateRequest, AttestRequest, AzureEvidence, NonceRequest, RegisterRequest, SnpCertificate,
    SnpEvidence, TdxEvidence, TpmEvidence,
};
use std::collections::BTreeMap;
use thiserror::Error;

/// Longest agent or challenge id.
pub const MAX_ID: usize = 140;
/// Longest hex field (nonce, digest, PCR value): a 64-byte value.
pub const MAX_HEX: usize = 128;
/// Most keys one attestation may ask for.
pub const MAX_KEYS: usize = 32;
/// Longest key id.
pub const MAX_KEY_ID: usize = 64;
/// Largest ephemeral public key (an uncompressed P-521 point is 133 bytes).
pub const MAX_PUBLIC_KEY: usize = 133;
/// Largest TPM structure (TPMS_ATTEST, TPMT_SIGNATURE, TPM2B_PUBLIC).
pub const MAX_TPM_STRUCTURE: usize = 2048;
/// Most PCR banks.
pub const MAX_BANKS: usize = 4;
/// Longest PCR bank name (`sha256`, …).
pub const MAX_BANK_NAME: usize = 16;
/// Most PCRs per bank.
pub const MAX_PCRS: usize = 24;
/// Largest ActivateCredential secret.
pub const MAX_SECRET: usize = 64;
/// Largest event log (firmware or runtime).
pub const MAX_LOG: usize = 1024 * 1024;
/// Largest SEV-SNP or HCL report.
pub const MAX_REPORT: usize = 8192;
/// Most certificates with one piece of evidence or registration.
pub const MAX_CERTS: usize = 8;
/// Most bytes of a TDX/SGX quote (real ones, PCK chain included, are 5–8 KiB).
pub const MAX_QUOTE: usize = 16 * 1024;
/// Largest certificate.
pub const MAX_CERT: usize = 16 * 1024;

/// A field outside its bound.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {problem}")]
pub struct BoundError {
    /// The field, as a JSON path (`evidence.tpm.event_log`).
    pub field: String,
    /// What is wrong: the bound and the size or character seen.
    pub problem: String,
}

fn err(field: &str, problem: String) -> BoundError {
    BoundError {
        field: field.to_string(),
        problem,
    }
}

/// Requests whose fields have bounds.
pub trait Bounded {
    /// Checks every field against its bound.
    fn check_bounds(&self) -> Result<(), BoundError>;
}

fn bytes(field: &str, v: &[u8], max: usize) -> Result<(), BoundError> {
    if v.len() > max {
        return Err(err(field, format!("at most {max} bytes, got {}", v.len())));
    }
    Ok(())
}

fn escaped(c: char) -> String {
    c.escape_default().to_string()
}

fn chars(
    field: &str,
    v: &str,
    max: usize,
    allowed: fn(char) -> bool,
    what: &str,
) -> Result<(), BoundError> {
    if v.is_empty() || v.len() > max {
        return Err(err(
            field,
            format!("1 to {max} characters of {what}, got {} bytes", v.len()),
        ));
    }
    if let Some(c) = v.chars().find(|c| !allowed(*c)) {
        return Err(err(
            field,
            format!("only {what}, got the character '{}'", escaped(c)),
        ));
    }
    Ok(())
}

/// Punctuation allowed in agent and challenge ids, besides ASCII letters
/// and digits.
pub const ID_PUNCTUATION: &str = "._:-";
/// Punctuation allowed in key ids, besides ASCII letters and digits.
pub const KEY_ID_PUNCTUATION: &str = "._-";

/// The id character set: `A-Z a-z 0-9 . _ : -` (no spaces, controls or
/// escapes: ids appear in logs and audit entries verbatim).
pub fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ID_PUNCTUATION.contains(c)
}

/// The key id character set: `A-Z a-z 0-9 . _ -`.
pub fn key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || KEY_ID_PUNCTUATION.contains(c)
}

fn id(field: &str, v: &str) -> Result<(), BoundError> {
    chars(field, v, MAX_ID, id_char, "A-Z a-z 0-9 . _ : -")
}

fn hex(field: &str, v: &str) -> Result<(), BoundError> {
    if v.len() > MAX_HEX {
        return Err(err(
            field,
            format!("at most {MAX_HEX} hex digits, got {} bytes", v.len()),
        ));
    }
    if let Some(c) = v.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(err(
            field,
            format!("hex digits only, got the character '{}'", escaped(c)),
        ));
    }
    Ok(())
}

fn certs(field: &str, v: &[SnpCertificate]) -> Result<(), BoundError> {
    if v.len() > MAX_CERTS {
        return Err(err(
            field,
            format!("at most {MAX_CERTS} certificates, got {}", v.len()),
        ));
    }
    for (i, c) in v.iter().enumerate() {
        bytes(&format!("{field}[{i}].der"), &c.der, MAX_CERT)?;
    }
    Ok(())
}

fn pcrs(field: &str, v: &BTreeMap<String, BTreeMap<u32, String>>) -> Result<(), BoundError> {
    if v.len() > MAX_BANKS {
        return Err(err(
            field,
            format!("at most {MAX_BANKS} banks, got {}", v.len()),
        ));
    }
    for (bank, values) in v {
        if bank.is_empty()
            || bank.len() > MAX_BANK_NAME
            || !bank.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(err(
                field,
                format!(
                    "bank names are 1 to {MAX_BANK_NAME} letters and digits, got {} bytes",
                    bank.len()
                ),
            ));
        }
        if values.len() > MAX_PCRS {
            return Err(err(
                &format!("{field}.{bank}"),
                format!("at most {MAX_PCRS} PCRs, got {}", values.len()),
            ));
        }
        for (pcr, value) in values {
            hex(&format!("{field}.{bank}.{pcr}"), value)?;
        }
    }
    Ok(())
}

fn tpm(field: &str, t: &TpmEvidence) -> Result<(), BoundError> {
    bytes(&format!("{field}.quote"), &t.quote, MAX_TPM_STRUCTURE)?;
    bytes(
        &format!("{field}.signature"),
        &t.signature,
        MAX_TPM_STRUCTURE,
    )?;
    pcrs(&format!("{field}.pcrs"), &t.pcrs)?;
    if let Some(l) = &t.event_log {
        bytes(&format!("{field}.event_log"), l, MAX_LOG)?;
    }
    if let Some(l) = &t.runtime_log {
        bytes(&format!("{field}.runtime_log"), l, MAX_LOG)?;
    }
    Ok(())
}

impl Bounded for RegisterRequest {
    fn check_bounds(&self) -> Result<(), BoundError> {
        bytes("ek_public", &self.ek_public, MAX_TPM_STRUCTURE)?;
        if let Some(c) = &self.ek_certificate {
            bytes("ek_certificate", c, MAX_CERT)?;
        }
        if self.ek_intermediates.len() > MAX_CERTS {
            return Err(err(
                "ek_intermediates",
                format!(
                    "at most {MAX_CERTS} certificates, got {}",
                    self.ek_intermediates.len()
                ),
            ));
        }
        for (i, c) in self.ek_intermediates.iter().enumerate() {
            bytes(&format!("ek_intermediates[{i}]"), c, MAX_CERT)?;
        }
        bytes("ak_public", &self.ak_public, MAX_TPM_STRUCTURE)
    }
}

impl Bounded for ActivateRequest {
    fn check_bounds(&self) -> Result<(), BoundError> {
        id("agent_id", &self.agent_id)?;
        id("challenge_id", &self.challenge_id)?;
        bytes("secret", &self.secret, MAX_SECRET)
    }
}

impl Bounded for NonceRequest {
    fn check_bounds(&self) -> Result<(), BoundError> {
        id("agent_id", &self.agent_id)
    }
}

impl Bounded for AttestRequest {
    fn check_bounds(&self) -> Result<(), BoundError> {
        id("agent_id", &self.agent_id)?;
        hex("nonce", &self.nonce)?;
        bytes(
            "ephemeral_public_key",
            &self.ephemeral_public_key,
            MAX_PUBLIC_KEY,
        )?;
        if let Some(d) = &self.statement_digest {
            hex("statement_digest", d)?;
        }
        if let Some(s) = &self.statement {
            bytes("statement", s, crate::intoto::MAX_STATEMENT_LEN)?;
        }
        if let Some(keys) = &self.keys {
            if keys.len() > MAX_KEYS {
                return Err(err(
                    "keys",
                    format!("at most {MAX_KEYS} key ids, got {}", keys.len()),
                ));
            }
            for (i, k) in keys.iter().enumerate() {
                chars(
                    &format!("keys[{i}]"),
                    k,
                    MAX_KEY_ID,
                    key_char,
                    "A-Z a-z 0-9 . _ -",
                )?;
            }
        }
        let path = format!("evidence.{}", self.evidence.platform());
        self.evidence.bounds().check_bounds_at(&path)
    }
}

/// Evidence of one platform, bounded under a JSON path (`evidence.tpm`).
pub trait BoundedEvidence {
    /// Checks every field against its bound; `path` prefixes field names.
    fn check_bounds_at(&self, path: &str) -> Result<(), BoundError>;
}

impl BoundedEvidence for TpmEvidence {
    fn check_bounds_at(&self, path: &str) -> Result<(), BoundError> {
        tpm(path, self)
    }
}

impl BoundedEvidence for SnpEvidence {
    fn check_bounds_at(&self, path: &str) -> Result<(), BoundError> {
        bytes(&format!("{path}.report"), &self.report, MAX_REPORT)?;
        certs(&format!("{path}.certificates"), &self.certificates)
    }
}

impl BoundedEvidence for TdxEvidence {
    fn check_bounds_at(&self, path: &str) -> Result<(), BoundError> {
        bytes(&format!("{path}.quote"), &self.quote, MAX_QUOTE)?;
        if let Some(l) = &self.ccel {
            bytes(&format!("{path}.ccel"), l, MAX_LOG)?;
        }
        if let Some(l) = &self.runtime_log {
            bytes(&format!("{path}.runtime_log"), l, MAX_LOG)?;
        }
        Ok(())
    }
}

impl BoundedEvidence for AzureEvidence {
    fn check_bounds_at(&self, path: &str) -> Result<(), BoundError> {
        bytes(&format!("{path}.hcl_report"), &self.hcl_report, MAX_REPORT)?;
        certs(&format!("{path}.certificates"), &self.certificates)?;
        if let Some(q) = &self.td_quote {
            bytes(&format!("{path}.td_quote"), q, MAX_QUOTE)?;
        }
        tpm(&format!("{path}.tpm"), &self.tpm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Evidence;

    fn attest() -> AttestRequest {
        AttestRequest {
            agent_id: "snp:build-vm.7".into(),
            nonce: "ab".repeat(32),
            ephemeral_public_key: vec![4; 32],
            statement_digest: None,
            statement: None,
            evidence: Evidence::Snp(SnpEvidence {
                report: vec![0; 1184],
                certificates: vec![],
            }),
            keys: Some(vec!["build-signing".into()]),
        }
    }

    fn field(r: &AttestRequest) -> String {
        r.check_bounds().unwrap_err().field
    }

    #[test]
    fn a_normal_request_passes_and_each_bound_names_its_field() {
        attest().check_bounds().unwrap();
        let mut r = attest();
        r.agent_id = "a".repeat(MAX_ID + 1);
        assert_eq!(field(&r), "agent_id");
        let mut r = attest();
        r.agent_id = "snp:x\ny".into();
        let e = r.check_bounds().unwrap_err();
        assert_eq!(e.field, "agent_id");
        // The newline is shown escaped, never raw.
        assert!(
            e.problem.contains("'\\n'") && !e.problem.contains('\n'),
            "{e}"
        );
        let mut r = attest();
        r.agent_id = "snp:\u{1b}[31m".into();
        assert_eq!(field(&r), "agent_id");
        let mut r = attest();
        r.nonce = "zz".into();
        assert_eq!(field(&r), "nonce");
        let mut r = attest();
        r.keys = Some(vec!["x".into(); MAX_KEYS + 1]);
        assert_eq!(field(&r), "keys");
        let mut r = attest();
        r.keys = Some(vec!["ok".into(), "bad key".into()]);
        assert_eq!(field(&r), "keys[1]");
        let mut r = attest();
        r.evidence = Evidence::Snp(SnpEvidence {
            report: vec![0; MAX_REPORT + 1],
            certificates: vec![],
        });
        assert_eq!(field(&r), "evidence.snp.report");
        let mut r = attest();
        r.ephemeral_public_key = vec![0; MAX_PUBLIC_KEY + 1];
        assert_eq!(field(&r), "ephemeral_public_key");
    }

    #[test]
    fn tpm_evidence_bounds() {
        let mut pcrs = BTreeMap::new();
        pcrs.insert(
            "sha256".to_string(),
            (0..25u32).map(|i| (i, "00".repeat(32))).collect(),
        );
        let mut r = attest();
        r.evidence = Evidence::Tpm(TpmEvidence {
            quote: vec![0; 100],
            signature: vec![0; 100],
            pcrs,
            event_log: None,
            runtime_log: None,
        });
        assert_eq!(field(&r), "evidence.tpm.pcrs.sha256");
        let mut r = attest();
        r.evidence = Evidence::Tpm(TpmEvidence {
            quote: vec![0; 100],
            signature: vec![0; 100],
            pcrs: BTreeMap::new(),
            event_log: Some(vec![0; MAX_LOG + 1]),
            runtime_log: None,
        });
        assert_eq!(field(&r), "evidence.tpm.event_log");
    }

    #[test]
    fn ids_of_every_kind_fit() {
        for ok in [
            "000b".to_string() + &"ab".repeat(32),
            "snp:build-vm-7".into(),
            "azure:cvm.example.com".into(),
        ] {
            let n = NonceRequest {
                agent_id: ok.clone(),
            };
            assert!(n.check_bounds().is_ok(), "{ok}");
        }
        let empty = NonceRequest {
            agent_id: String::new(),
        };
        assert!(empty.check_bounds().is_err());
    }
}
