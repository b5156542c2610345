//! JSON Schemas (2020-12) of the API's fields that carry a bound: the same
//! constants and character sets [`super::bounds`] checks, expressed as
//! `maxLength`, `pattern`, `maxItems`, `maxProperties` and
//! `propertyNames`, so the published schema and the enforced bound cannot
//! disagree. The API types name these functions with
//! `#[schemars(schema_with = "...")]`.
//!
//! Byte fields travel as padded standard base64: a bound of `n` bytes is a
//! bound of `4 * ceil(n / 3)` characters on the string. Hex and id fields
//! are ASCII, so their character bounds are byte bounds.

use super::bounds::{
    ID_PUNCTUATION, KEY_ID_PUNCTUATION, MAX_BANKS, MAX_BANK_NAME, MAX_CERT, MAX_CERTS, MAX_HEX,
    MAX_ID, MAX_KEYS, MAX_KEY_ID, MAX_LOG, MAX_PCRS, MAX_PUBLIC_KEY, MAX_QUOTE, MAX_REPORT,
    MAX_SECRET, MAX_TPM_STRUCTURE,
};
use schemars::{json_schema, Schema, SchemaGenerator};

/// Pattern of padded standard base64 (RFC 4648 §4).
pub const BASE64_PATTERN: &str = "^[A-Za-z0-9+/]*={0,2}$";
/// Pattern of a hex string (either case).
pub const HEX_PATTERN: &str = "^[0-9A-Fa-f]*$";

/// Characters of base64 text encoding `bytes` bytes (padded).
pub const fn base64_len(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}

/// A regular-expression character class body: ASCII letters, digits and
/// `punctuation` (escaped where a class needs it).
pub fn ascii_class(punctuation: &str) -> String {
    let mut s = String::from("A-Za-z0-9");
    for c in punctuation.chars() {
        if matches!(c, '\\' | ']' | '[' | '^' | '-') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

/// Pattern of an agent or challenge id: 1–[`MAX_ID`] characters of
/// [`super::bounds::id_char`].
pub fn id_pattern() -> String {
    format!("^[{}]{{1,{MAX_ID}}}$", ascii_class(ID_PUNCTUATION))
}

/// Pattern of a key id: 1–[`MAX_KEY_ID`] characters of
/// [`super::bounds::key_char`].
pub fn key_id_pattern() -> String {
    format!("^[{}]{{1,{MAX_KEY_ID}}}$", ascii_class(KEY_ID_PUNCTUATION))
}

/// The length rule of base64 text encoding at most `max` bytes, exact:
/// up to `4 * (max / 3)` characters, or one more group of four whose
/// padding leaves at most `max % 3` bytes in it.
fn base64_length(max: usize) -> serde_json::Value {
    let whole = max / 3 * 4;
    match max % 3 {
        0 => serde_json::json!({ "maxLength": whole }),
        rest => serde_json::json!({
            "anyOf": [
                { "maxLength": whole },
                {
                    "maxLength": whole + 4,
                    // One byte in the last group: "xx=="; two: "xxx=" (or one).
                    "pattern": if rest == 1 { "==$" } else { "=$" },
                },
            ],
        }),
    }
}

/// Base64 of at most `max` bytes (`types`: `"string"` or
/// `["string", "null"]`).
fn base64_bounded(max: usize, types: serde_json::Value) -> Schema {
    let mut s = json_schema!({
        "type": types,
        "contentEncoding": "base64",
        "pattern": BASE64_PATTERN,
    });
    if let serde_json::Value::Object(rule) = base64_length(max) {
        for (k, v) in rule {
            s.insert(k, v);
        }
    }
    s
}

/// Base64 of at most `max` bytes.
fn base64(max: usize) -> Schema {
    base64_bounded(max, serde_json::json!("string"))
}

/// Optional base64 of at most `max` bytes (absent or `null` alike).
fn base64_opt(max: usize) -> Schema {
    base64_bounded(max, serde_json::json!(["string", "null"]))
}

/// Base64 without a bound of its own (responses; the body limit applies).
pub fn base64_any(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "contentEncoding": "base64",
        "pattern": BASE64_PATTERN,
    })
}

/// An agent or challenge id.
pub fn id(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_ID,
        "pattern": id_pattern(),
    })
}

/// A hex field (nonce, digest).
pub fn hex(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "maxLength": MAX_HEX,
        "pattern": HEX_PATTERN,
    })
}

/// An optional hex field.
pub fn hex_opt(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["string", "null"],
        "maxLength": MAX_HEX,
        "pattern": HEX_PATTERN,
    })
}

/// The key ids an attestation asks for (absent = every granted key).
pub fn key_ids_opt(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["array", "null"],
        "maxItems": MAX_KEYS,
        "items": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_KEY_ID,
            "pattern": key_id_pattern(),
        },
    })
}

/// A TPM structure (TPMS_ATTEST, TPMT_SIGNATURE, TPM2B_PUBLIC).
pub fn tpm_structure(_: &mut SchemaGenerator) -> Schema {
    base64(MAX_TPM_STRUCTURE)
}

/// An ephemeral HPKE public key.
pub fn public_key(_: &mut SchemaGenerator) -> Schema {
    base64(MAX_PUBLIC_KEY)
}

/// The ActivateCredential secret.
pub fn secret(_: &mut SchemaGenerator) -> Schema {
    base64(MAX_SECRET)
}

/// An SEV-SNP or HCL report.
pub fn report(_: &mut SchemaGenerator) -> Schema {
    base64(MAX_REPORT)
}

/// A TDX/SGX quote.
pub fn quote(_: &mut SchemaGenerator) -> Schema {
    base64(MAX_QUOTE)
}

/// An optional TDX quote.
pub fn quote_opt(_: &mut SchemaGenerator) -> Schema {
    base64_opt(MAX_QUOTE)
}

/// One DER certificate.
pub fn certificate(_: &mut SchemaGenerator) -> Schema {
    base64(MAX_CERT)
}

/// An optional DER certificate.
pub fn certificate_opt(_: &mut SchemaGenerator) -> Schema {
    base64_opt(MAX_CERT)
}

/// A list of DER certificates.
pub fn certificate_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "maxItems": MAX_CERTS,
        "items": base64(MAX_CERT),
    })
}

/// An optional event log (firmware or runtime).
pub fn log_opt(_: &mut SchemaGenerator) -> Schema {
    base64_opt(MAX_LOG)
}

/// The optional build statement.
pub fn statement_opt(_: &mut SchemaGenerator) -> Schema {
    base64_opt(crate::intoto::MAX_STATEMENT_LEN)
}

/// PCR values: bank name → PCR index → hex value.
pub fn pcrs(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "maxProperties": MAX_BANKS,
        "propertyNames": {
            "pattern": format!("^[A-Za-z0-9]{{1,{MAX_BANK_NAME}}}$"),
        },
        "additionalProperties": {
            "type": "object",
            "maxProperties": MAX_PCRS,
            "propertyNames": { "pattern": "^[0-9]{1,10}$" },
            "additionalProperties": {
                "type": "string",
                "maxLength": MAX_HEX,
                "pattern": HEX_PATTERN,
            },
        },
    })
}

/// A list of SEV-SNP certificates (at most [`MAX_CERTS`]).
pub fn snp_certificates(g: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "maxItems": MAX_CERTS,
        "items": g.subschema_for::<super::SnpCertificate>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_lengths() {
        assert_eq!(base64_len(0), 0);
        assert_eq!(base64_len(1), 4);
        assert_eq!(base64_len(3), 4);
        assert_eq!(base64_len(4), 8);
        assert_eq!(base64_len(64), 88);
    }

    #[test]
    fn patterns_name_the_character_sets() {
        assert_eq!(id_pattern(), format!("^[A-Za-z0-9._:\\-]{{1,{MAX_ID}}}$"));
        assert_eq!(
            key_id_pattern(),
            format!("^[A-Za-z0-9._\\-]{{1,{MAX_KEY_ID}}}$")
        );
    }
}
