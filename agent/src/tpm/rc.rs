//! Readable descriptions of TSS2_RC response codes.
//!
//! A TSS2_RC carries the layer that produced it in bits 16–23 (TCG TSS 2.0
//! Overview and Common Structure Specification, v1.0 rev. 10, §6.1.2
//! "TSS2_RC layers" and §6.1.3 "base error codes"). Layer 0 is the TPM itself;
//! its codes are described by TCG TPM 2.0 Library Part 2 rev. 1.59 §6.6
//! (TPM_RC), where format-one codes (bit 7 set) also name the handle,
//! parameter or session they concern (Table 16).

use crate::evidence::AgentError;

/// Describes a tss-esapi error: its text, the layer and the raw code.
pub(crate) fn describe(err: &tss_esapi::Error) -> String {
    match err {
        tss_esapi::Error::WrapperError(kind) => format!("{kind} (tss-esapi wrapper error)"),
        tss_esapi::Error::Tss2Error(code) => {
            let Some(raw) = raw_code(code) else {
                return code.to_string();
            };
            let layer = (raw >> 16) & 0xff;
            match layer {
                // TPM, or a TPM code relayed by the resource manager.
                0 | 12 => {
                    let origin = if layer == 0 {
                        "TPM"
                    } else {
                        "TPM via resource manager"
                    };
                    format!("{code} [{origin}, rc {raw:#x}{}]", tpm_rc_position(raw))
                }
                _ => format!(
                    "{} [{} layer, rc {raw:#x}]",
                    base_code_text(raw & 0xffff),
                    layer_name(layer)
                ),
            }
        }
    }
}

/// Builds the `map_err` closure for a failed TPM command.
pub(crate) fn cmd(command: &'static str) -> impl Fn(tss_esapi::Error) -> AgentError {
    move |e| AgentError::TpmCommand {
        command,
        detail: describe(&e),
    }
}

/// The raw TSS2_RC value. tss-esapi 7 keeps it private but prints it as
/// "Response code value: 0x…" from the inner type's `Display`.
fn raw_code(code: &tss_esapi::constants::response_code::Tss2ResponseCode) -> Option<u32> {
    use tss_esapi::constants::response_code::Tss2ResponseCode as C;
    let text = match code {
        C::Success => return Some(0),
        C::FormatZero(z) => z.to_string(),
        C::FormatOne(o) => o.to_string(),
    };
    let hex = text.rsplit("0x").next()?;
    u32::from_str_radix(hex.trim(), 16).ok()
}

/// "…, parameter 2" etc. for format-one TPM codes (Part 2, Table 16).
fn tpm_rc_position(raw: u32) -> String {
    if raw & 0x80 == 0 {
        return String::new();
    }
    let n = (raw >> 8) & 0xf;
    if raw & 0x40 != 0 {
        format!(", parameter {n}")
    } else if n <= 7 {
        format!(", handle {n}")
    } else {
        format!(", session {}", n - 8)
    }
}

fn layer_name(layer: u32) -> String {
    match layer {
        6 => "FAPI".into(),
        7 => "ESAPI".into(),
        8 => "SAPI".into(),
        9 => "marshalling (MU)".into(),
        10 => "TCTI".into(),
        11 => "resource manager".into(),
        other => format!("TSS layer {other}"),
    }
}

/// TSS2_BASE_RC_* texts (TSS Overview §6.1.3, Table 7).
fn base_code_text(base: u32) -> String {
    let text = match base {
        1 => "general failure",
        2 => "not implemented",
        3 => "bad context",
        4 => "ABI mismatch",
        5 => "bad reference (null pointer)",
        6 => "insufficient buffer",
        7 => "bad sequence (function called in the wrong order)",
        8 => "no connection to the TPM",
        9 => "try again",
        10 => "I/O error",
        11 => "bad value",
        12 => "not permitted",
        13 => "invalid sessions",
        14 => "no decrypt parameter",
        15 => "no encrypt parameter",
        16 => "bad size",
        17 => "malformed response",
        18 => "insufficient context",
        19 => "insufficient response",
        20 => "incompatible TCTI",
        21 => "not supported",
        22 => "bad TCTI structure",
        23 => "out of memory",
        24 => "bad ESYS_TR handle",
        25 => "multiple decrypt sessions",
        26 => "multiple encrypt sessions",
        27 => "response authorization failed (HMAC mismatch)",
        other => return format!("base code {other}"),
    };
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tss_esapi::constants::response_code::Tss2ResponseCode;

    #[test]
    fn tpm_format_one_code_names_parameter() {
        // TPM_RC_VALUE (0x084) on parameter 1: 0x1c4.
        let e = tss_esapi::Error::Tss2Error(Tss2ResponseCode::from(0x1c4u32));
        let d = describe(&e);
        assert!(d.contains("rc 0x1c4"), "{d}");
        assert!(d.contains("parameter 1"), "{d}");
        assert!(d.contains("TPM"), "{d}");
    }

    #[test]
    fn tcti_layer_code_is_named() {
        // TSS2_TCTI_RC_IO_ERROR = layer 10, base 10.
        let e = tss_esapi::Error::Tss2Error(Tss2ResponseCode::from(0x000a_000au32));
        let d = describe(&e);
        assert_eq!(d, "I/O error [TCTI layer, rc 0xa000a]");
    }

    #[test]
    fn tpm_warning_code_text() {
        // TPM_RC_OBJECT_MEMORY = 0x902.
        let e = tss_esapi::Error::Tss2Error(Tss2ResponseCode::from(0x902u32));
        let d = describe(&e);
        assert!(d.contains("rc 0x902"), "{d}");
        assert!(!d.contains("parameter"), "{d}");
    }
}
