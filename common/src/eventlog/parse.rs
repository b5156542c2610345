//! Reading and writing the two record layouts of PFP 1.06 rev 52 §10:
//! `TCG_PCR_EVENT` (PCRIndex u32, EventType u32, Digest[20], EventSize u32,
//! Event[EventSize]) and `TCG_PCR_EVENT2` (PCRIndex u32, EventType u32,
//! `TPML_DIGEST_VALUES` {count u32, `TPMT_HA`[count] {hashAlg u16,
//! digest[size from the Spec ID event]}}, EventSize u32, Event[EventSize]), and
//! the `TCG_EfiSpecIdEvent` header. All little-endian.

use super::{
    AlgorithmSize, Event, EventDigest, EventLog, EventLogError, EventType, LogFormat, SpecIdEvent,
    MAX_ALGORITHMS, MAX_DIGEST_SIZE, MAX_EVENTS, MAX_EVENT_DATA, PCR_COUNT, SPEC_ID_EVENT03,
};
use crate::error::FormatError;
use crate::hash::HashAlg;
use crate::reader::{Reader, Writer};

const SHA1_SIZE: usize = 20;

struct Located {
    index: u32,
    offset: usize,
}

impl Located {
    fn err(&self, cause: FormatError) -> EventLogError {
        EventLogError {
            event: self.index,
            offset: self.offset,
            cause,
        }
    }
}

pub(super) fn parse(bytes: &[u8]) -> Result<EventLog, EventLogError> {
    let first = Located {
        index: 0,
        offset: 0,
    };
    // Offset of the first byte after which everything is zero.
    let zero_tail_start = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    if zero_tail_start == 0 {
        return Err(first.err(FormatError::unexpected(
            "TCG event log",
            "at least one event",
            if bytes.is_empty() {
                "an empty input"
            } else {
                "only zero bytes"
            },
        )));
    }
    let mut r = Reader::new(bytes);
    let head = read_pcr_event(&mut r).map_err(|e| first.err(e))?;
    let mut events = Vec::new();
    let format =
        if head.event_type == EventType::NO_ACTION && head.data.starts_with(SPEC_ID_EVENT03) {
            let spec_id = check_spec_id_header(&head).map_err(|e| first.err(e))?;
            let mut index: u32 = 1;
            while r.offset() < zero_tail_start {
                let at = Located {
                    index,
                    offset: r.offset(),
                };
                if events.len() + 1 >= MAX_EVENTS {
                    return Err(at.err(too_many_events()));
                }
                let event = read_pcr_event2(&mut r, &spec_id, index, check_pcr);
                events.push(event.map_err(|e| at.err(e))?);
                index = index.saturating_add(1);
            }
            LogFormat::CryptoAgile { spec_id }
        } else {
            let mut next = Some(head);
            let mut index: u32 = 0;
            loop {
                let raw = match next.take() {
                    Some(raw) => raw,
                    None if r.offset() < zero_tail_start => {
                        let at = Located {
                            index,
                            offset: r.offset(),
                        };
                        if events.len() >= MAX_EVENTS {
                            return Err(at.err(too_many_events()));
                        }
                        read_pcr_event(&mut r).map_err(|e| at.err(e))?
                    }
                    None => break,
                };
                let at = Located {
                    index,
                    offset: raw.offset,
                };
                check_pcr(raw.pcr, raw.event_type).map_err(|e| at.err(e))?;
                events.push(Event {
                    index,
                    pcr: raw.pcr,
                    event_type: raw.event_type,
                    digests: vec![EventDigest {
                        alg_id: HashAlg::Sha1.alg_id(),
                        digest: raw.digest.to_vec(),
                    }],
                    data: raw.data.to_vec(),
                });
                index = index.saturating_add(1);
            }
            LogFormat::LegacySha1
        };
    let trailing_zero_padding = r.remaining();
    Ok(EventLog::from_parts(format, events, trailing_zero_padding))
}

pub(super) fn too_many_events() -> FormatError {
    FormatError::TooLarge {
        field: "number of events",
        size: MAX_EVENTS + 1,
        max: MAX_EVENTS,
    }
}

/// One `TCG_PCR_EVENT` record, borrowed from the input.
pub(super) struct RawPcrEvent<'a> {
    pub(super) offset: usize,
    pub(super) pcr: u32,
    pub(super) event_type: EventType,
    pub(super) digest: [u8; SHA1_SIZE],
    pub(super) data: &'a [u8],
}

/// Reads one `TCG_PCR_EVENT` record (the SHA-1 layout of the first record).
pub(super) fn read_pcr_event<'a>(r: &mut Reader<'a>) -> Result<RawPcrEvent<'a>, FormatError> {
    let offset = r.offset();
    let pcr = r.u32_le("TCG_PCR_EVENT.PCRIndex")?;
    let event_type = EventType(r.u32_le("TCG_PCR_EVENT.EventType")?);
    let digest = r.array::<SHA1_SIZE>("TCG_PCR_EVENT.Digest")?;
    let data = r.vec_u32_le("TCG_PCR_EVENT.EventSize", MAX_EVENT_DATA)?;
    Ok(RawPcrEvent {
        offset,
        pcr,
        event_type,
        digest,
        data,
    })
}

/// The TPM rule for `PCRIndex` (see the module docs of [`super`]).
fn check_pcr(pcr: u32, event_type: EventType) -> Result<(), FormatError> {
    if pcr >= PCR_COUNT && event_type != EventType::NO_ACTION {
        return Err(FormatError::unexpected(
            "PCRIndex",
            format!("0..={} for an extended event ({event_type})", PCR_COUNT - 1),
            pcr,
        ));
    }
    Ok(())
}

/// Checks the first record as the crypto-agile Spec ID header (PCR 0, zero
/// SHA-1 digest, a well-formed `TCG_EfiSpecIdEvent`).
fn check_spec_id_header(head: &RawPcrEvent<'_>) -> Result<SpecIdEvent, FormatError> {
    if head.pcr != 0 {
        return Err(FormatError::unexpected(
            "Spec ID event PCRIndex",
            0,
            head.pcr,
        ));
    }
    check_spec_id_digest_and_data(head)
}

/// The Spec ID header's checks other than its `PCRIndex`: the zero SHA-1
/// digest and a well-formed `TCG_EfiSpecIdEvent`.
pub(super) fn check_spec_id_digest_and_data(
    head: &RawPcrEvent<'_>,
) -> Result<SpecIdEvent, FormatError> {
    if head.digest != [0u8; SHA1_SIZE] {
        return Err(FormatError::unexpected(
            "Spec ID event Digest",
            "20 zero bytes",
            hex::encode(head.digest),
        ));
    }
    parse_spec_id(head.data)
}

/// Parses `TCG_EfiSpecIdEvent` (the event data of the first record).
pub(super) fn parse_spec_id(data: &[u8]) -> Result<SpecIdEvent, FormatError> {
    let mut r = Reader::new(data);
    let signature = r.take(16, "TCG_EfiSpecIdEvent.signature")?;
    if signature != SPEC_ID_EVENT03 {
        return Err(FormatError::unexpected(
            "TCG_EfiSpecIdEvent.signature",
            "\"Spec ID Event03\\0\"",
            hex::encode(signature),
        ));
    }
    let platform_class = r.u32_le("TCG_EfiSpecIdEvent.platformClass")?;
    let spec_version_minor = r.u8("TCG_EfiSpecIdEvent.specVersionMinor")?;
    let spec_version_major = r.u8("TCG_EfiSpecIdEvent.specVersionMajor")?;
    let spec_errata = r.u8("TCG_EfiSpecIdEvent.specErrata")?;
    let uintn_size = r.u8("TCG_EfiSpecIdEvent.uintnSize")?;
    if (spec_version_major, spec_version_minor) != (2, 0) {
        return Err(FormatError::unexpected(
            "TCG_EfiSpecIdEvent.specVersion",
            "2.0",
            format!("{spec_version_major}.{spec_version_minor}"),
        ));
    }
    if !matches!(uintn_size, 1 | 2) {
        return Err(FormatError::unexpected(
            "TCG_EfiSpecIdEvent.uintnSize",
            "1 (UINT32) or 2 (UINT64)",
            uintn_size,
        ));
    }
    let count = r.u32_le("TCG_EfiSpecIdEvent.numberOfAlgorithms")?;
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if count == 0 || count > MAX_ALGORITHMS {
        return Err(FormatError::unexpected(
            "TCG_EfiSpecIdEvent.numberOfAlgorithms",
            format!("1..={MAX_ALGORITHMS}"),
            count,
        ));
    }
    let mut algorithms: Vec<AlgorithmSize> = Vec::with_capacity(count);
    for _ in 0..count {
        let alg_id = r.u16_le("TCG_EfiSpecIdEventAlgorithmSize.algorithmId")?;
        let digest_size = r.u16_le("TCG_EfiSpecIdEventAlgorithmSize.digestSize")?;
        if algorithms.iter().any(|a| a.alg_id == alg_id) {
            return Err(FormatError::unexpected(
                "TCG_EfiSpecIdEventAlgorithmSize.algorithmId",
                "each algorithm listed once",
                format!("0x{alg_id:04x} twice"),
            ));
        }
        let expected = HashAlg::from_alg_id(alg_id, "alg").ok().map(HashAlg::size);
        match expected {
            Some(size) if size != usize::from(digest_size) => {
                return Err(FormatError::unexpected(
                    "TCG_EfiSpecIdEventAlgorithmSize.digestSize",
                    format!("{size} for TPM_ALG_ID 0x{alg_id:04x}"),
                    digest_size,
                ));
            }
            None if digest_size == 0 || usize::from(digest_size) > MAX_DIGEST_SIZE => {
                return Err(FormatError::unexpected(
                    "TCG_EfiSpecIdEventAlgorithmSize.digestSize",
                    format!("1..={MAX_DIGEST_SIZE}"),
                    digest_size,
                ));
            }
            _ => {}
        }
        algorithms.push(AlgorithmSize {
            alg_id,
            digest_size,
        });
    }
    let vendor_size = r.u8("TCG_EfiSpecIdEvent.vendorInfoSize")?;
    let vendor_info = r
        .take(usize::from(vendor_size), "TCG_EfiSpecIdEvent.vendorInfo")?
        .to_vec();
    r.finish("TCG_EfiSpecIdEvent")?;
    Ok(SpecIdEvent {
        platform_class,
        spec_version_minor,
        spec_version_major,
        spec_errata,
        uintn_size,
        algorithms,
        vendor_info,
    })
}

/// What a log allows in `PCRIndex`, checked right after the event type is
/// read (before the digests): the TPM's PCR rule, or the CC MR index rule of a
/// CCEL ([`super::ccel`]).
pub(super) type IndexRule = fn(u32, EventType) -> Result<(), FormatError>;

/// Reads one `TCG_PCR_EVENT2` record with the digests the Spec ID header
/// declares, `index_rule` deciding which `PCRIndex` values are allowed.
pub(super) fn read_pcr_event2(
    r: &mut Reader<'_>,
    spec: &SpecIdEvent,
    index: u32,
    index_rule: IndexRule,
) -> Result<Event, FormatError> {
    let pcr = r.u32_le("TCG_PCR_EVENT2.PCRIndex")?;
    let event_type = EventType(r.u32_le("TCG_PCR_EVENT2.EventType")?);
    index_rule(pcr, event_type)?;
    let count = r.u32_le("TPML_DIGEST_VALUES.count")?;
    if usize::try_from(count).ok() != Some(spec.algorithms.len()) {
        return Err(FormatError::unexpected(
            "TPML_DIGEST_VALUES.count",
            format!(
                "{} (the algorithms of the Spec ID event)",
                spec.algorithms.len()
            ),
            count,
        ));
    }
    let mut digests: Vec<EventDigest> = Vec::with_capacity(spec.algorithms.len());
    for _ in 0..count {
        let alg_id = r.u16_le("TPMT_HA.hashAlg")?;
        let size = spec.digest_size(alg_id).ok_or_else(|| {
            let listed: Vec<String> = spec
                .algorithms
                .iter()
                .map(|a| format!("0x{:04x}", a.alg_id))
                .collect();
            FormatError::unexpected(
                "TPMT_HA.hashAlg",
                format!("an algorithm of the Spec ID event ({})", listed.join(", ")),
                format!("0x{alg_id:04x}"),
            )
        })?;
        if digests.iter().any(|d| d.alg_id == alg_id) {
            return Err(FormatError::unexpected(
                "TPMT_HA.hashAlg",
                "each algorithm once per event",
                format!("0x{alg_id:04x} twice"),
            ));
        }
        let digest = r.take(size, "TPMT_HA.digest")?.to_vec();
        digests.push(EventDigest { alg_id, digest });
    }
    let data = r
        .vec_u32_le("TCG_PCR_EVENT2.EventSize", MAX_EVENT_DATA)?
        .to_vec();
    Ok(Event {
        index,
        pcr,
        event_type,
        digests,
        data,
    })
}

/// Serialized `TCG_EfiSpecIdEvent`.
pub(super) fn spec_id_bytes(spec: &SpecIdEvent) -> Vec<u8> {
    let mut w = Writer::new();
    w.bytes(SPEC_ID_EVENT03)
        .u32_le(spec.platform_class)
        .u8(spec.spec_version_minor)
        .u8(spec.spec_version_major)
        .u8(spec.spec_errata)
        .u8(spec.uintn_size)
        .u32_le(len_u32(spec.algorithms.len()));
    for a in &spec.algorithms {
        w.u16_le(a.alg_id).u16_le(a.digest_size);
    }
    w.u8(u8::try_from(spec.vendor_info.len()).unwrap_or(u8::MAX))
        .bytes(&spec.vendor_info);
    w.into_vec()
}

/// Lengths held by a parsed or built log fit (event data ≤ 1 MiB, ≤ 16
/// algorithms); a hand-made oversized value saturates and then fails to parse.
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub(super) fn to_bytes(log: &EventLog) -> Vec<u8> {
    let mut w = Writer::new();
    match log.format() {
        LogFormat::CryptoAgile { spec_id } => {
            let header = spec_id_bytes(spec_id);
            w.u32_le(0)
                .u32_le(EventType::NO_ACTION.0)
                .bytes(&[0u8; SHA1_SIZE])
                .u32_le(len_u32(header.len()))
                .bytes(&header);
            for e in log.events() {
                w.u32_le(e.pcr)
                    .u32_le(e.event_type.0)
                    .u32_le(len_u32(e.digests.len()));
                for d in &e.digests {
                    w.u16_le(d.alg_id).bytes(&d.digest);
                }
                w.u32_le(len_u32(e.data.len())).bytes(&e.data);
            }
        }
        LogFormat::LegacySha1 => {
            for e in log.events() {
                w.u32_le(e.pcr).u32_le(e.event_type.0);
                let sha1 = e.digest(HashAlg::Sha1).unwrap_or(&[0u8; SHA1_SIZE]);
                w.bytes(sha1).u32_le(len_u32(e.data.len())).bytes(&e.data);
            }
        }
    }
    w.bytes(&vec![0u8; log.trailing_zero_padding()]);
    w.into_vec()
}
