//! The kinds of attesting environment sealbuild knows, one name each, and
//! the agent-id syntax of attesters that hardware vouches for.
//!
//! This is the one `Platform` of the code base: evidence names its platform
//! ([`crate::api::Evidence::platform`]), verified claims and policies use the
//! same value, and the verifier's registry maps it to the verifier of that
//! kind of evidence (`sealbuild-verifier-core::platform`).

use serde::{Deserialize, Serialize};

/// A kind of attesting environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// TPM 2.0 (hardware, vTPM or swtpm): quote, event logs; attesters
    /// register (EK certificate + MakeCredential).
    Tpm,
    /// AMD SEV-SNP: an attestation report signed by a VCEK/VLEK.
    Snp,
    /// Azure confidential VM on SEV-SNP or TDX: the paravisor's HCL report
    /// (with, on TDX, the TD quote of its TD report) vouches for a vTPM whose
    /// quotes and event logs follow.
    Azure,
    /// Intel TDX: a TD quote (DCAP, signed through the PCK chain to Intel's
    /// SGX root), the CCEL event log and the sealed build's RTMR3 log.
    Tdx,
}

impl Platform {
    /// Every platform, in a fixed order.
    pub const ALL: [Platform; 4] = [Self::Tpm, Self::Snp, Self::Azure, Self::Tdx];

    /// Name used in policies, results, agent ids and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tpm => "tpm",
            Self::Snp => "snp",
            Self::Azure => "azure",
            Self::Tdx => "tdx",
        }
    }

    /// How messages call it ("TPM", "SEV-SNP", "Azure", "TDX").
    pub fn title(self) -> &'static str {
        match self {
            Self::Tpm => "TPM",
            Self::Snp => "SEV-SNP",
            Self::Azure => "Azure",
            Self::Tdx => "TDX",
        }
    }

    /// The platform called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Longest label of a hardware-vouched attester id (`<platform>:<label>`).
pub const MAX_ATTESTER_LABEL: usize = 128;

/// Splits an agent id of the form `<platform>:<label>` (label: 1 to
/// [`MAX_ATTESTER_LABEL`] characters of the id set `A-Z a-z 0-9 . _ : -`,
/// [`crate::api::bounds::id_char`]). Attesters whose
/// evidence is signed by a hardware-certified key (SEV-SNP, Azure) use such
/// ids instead of registering; registered TPM agents have hex AK names,
/// which never contain a colon.
pub fn parse_attester_id(agent_id: &str) -> Option<(Platform, &str)> {
    let (platform, label) = agent_id.split_once(':')?;
    let platform = Platform::from_name(platform)?;
    let ok = !label.is_empty()
        && label.len() <= MAX_ATTESTER_LABEL
        && label.chars().all(crate::api::bounds::id_char);
    ok.then_some((platform, label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Platform::ALL {
            assert_eq!(Platform::from_name(p.name()), Some(p));
        }
        assert_eq!(Platform::from_name("tdx"), Some(Platform::Tdx));
        assert_eq!(Platform::from_name("sgx"), None);
    }

    #[test]
    fn attester_ids() {
        assert_eq!(parse_attester_id("snp:vm-1"), Some((Platform::Snp, "vm-1")));
        assert_eq!(
            parse_attester_id("azure:cvm"),
            Some((Platform::Azure, "cvm"))
        );
        assert_eq!(parse_attester_id("snp:"), None);
        assert_eq!(parse_attester_id("snp:a b"), None);
        assert_eq!(parse_attester_id("other:x"), None);
        assert_eq!(parse_attester_id("000b1234"), None);
        let long = format!("snp:{}", "x".repeat(MAX_ATTESTER_LABEL + 1));
        assert_eq!(parse_attester_id(&long), None);
    }
}
