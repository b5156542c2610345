//! Writing a quote as the files tpm2-tools 5.4 produces, so that
//! `tpm2_checkquote` (and any tool reading tpm2-tools' outputs) accepts them:
//!
//! | file | content | tpm2-tools equivalent |
//! |---|---|---|
//! | `ak.pub` | TPM2B_PUBLIC of the AK | `tpm2_createak -u` |
//! | `ak.name` | the AK's Name, raw bytes | `tpm2_createak -n` |
//! | `ek.pub` | TPM2B_PUBLIC of the EK | `tpm2_createek -u` |
//! | `quote.msg` | TPMS_ATTEST | `tpm2_quote -m` |
//! | `quote.sig` | TPMT_SIGNATURE | `tpm2_quote -s` (default `-f tss`) |
//! | `quote.pcrs` | PCR file, tpm2-tools' `serialized` layout ([`super::PcrValues::to_tpm2_tools_serialized`]) | `tpm2_quote -o` (default `-F serialized`) |
//!
//! Check: `tpm2_checkquote -u ak.pub -m quote.msg -s quote.sig -f quote.pcrs -g sha256 -q NONCE_HEX`.

use super::ak::AkState;
use super::quote::QuoteOutput;
use crate::evidence::AgentError;
use std::path::{Path, PathBuf};

/// File names written by [`write_quote_files`].
pub const AK_PUB: &str = "ak.pub";
/// See the module table.
pub const AK_NAME: &str = "ak.name";
/// See the module table.
pub const EK_PUB: &str = "ek.pub";
/// See the module table.
pub const QUOTE_MSG: &str = "quote.msg";
/// See the module table.
pub const QUOTE_SIG: &str = "quote.sig";
/// See the module table.
pub const QUOTE_PCRS: &str = "quote.pcrs";

/// Writes the files of the module table into `dir` (created if missing) and
/// returns their paths.
pub fn write_quote_files(
    dir: &Path,
    ek_public: &[u8],
    ak: &AkState,
    quote: &QuoteOutput,
) -> Result<Vec<PathBuf>, AgentError> {
    std::fs::create_dir_all(dir).map_err(|source| AgentError::OutputIo {
        path: dir.to_path_buf(),
        source,
    })?;
    let files: [(&str, Vec<u8>); 6] = [
        (AK_PUB, ak.public.clone()),
        (AK_NAME, ak.name.clone()),
        (EK_PUB, ek_public.to_vec()),
        (QUOTE_MSG, quote.attest.clone()),
        (QUOTE_SIG, quote.signature.clone()),
        (QUOTE_PCRS, quote.pcrs.to_tpm2_tools_serialized()),
    ];
    let mut written = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, &bytes).map_err(|source| AgentError::OutputIo {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
