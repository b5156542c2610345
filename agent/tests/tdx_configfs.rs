//! Intel TDX evidence collection without TDX hardware.
//!
//! * configfs-tsm: the collector runs its file protocol against a temporary
//!   directory while a test thread plays the kernel: when a new entry
//!   appears it creates `inblob` (a plain file the collector writes) and
//!   the read-only attributes `generation` and `outblob` as FIFOs, then
//!   `provider` (a FIFO, renamed into place last, so its presence means the
//!   entry is ready). Each read of the collector blocks until the thread
//!   answers it, in the order of `sealbuild_agent::tdx::configfs`
//!   (`provider`, `generation`, `outblob`, `generation`); just before the
//!   last answer the thread unlinks the attributes, as configfs does on
//!   `rmdir`, so the collector's `rmdir` succeeds only if it read no more
//!   than the protocol says. The quote is trustee's real `tdx_quote_4.dat`
//!   with REPORT_DATA (what the collector wrote to `inblob`) and RTMR3 (the
//!   fake register's value) patched in and re-serialised; its signature no
//!   longer verifies, and the collector does not check signatures.
//! * RTMR3: the tsm-mr attribute is a FIFO served by a thread that keeps a
//!   register: an opened-for-write turn is an extension
//!   (`new = SHA-384(old || digest)`), an opened-for-read turn shows the
//!   value.
//! * CCEL: go-tdx-guest's real table and log area.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_agent::evidence::{AgentError, EvidenceCollector};
use sealbuild_agent::tdx::{check_quote, CcelPaths, ConfigfsTsm, Rtmr, TdxCollector};
use sealbuild_common::api::Evidence;
use sealbuild_common::binding::snp_report_data;
use sealbuild_common::cel::{CelLog, RuntimeEvent};
use sealbuild_common::tdx::Quote;
use sealbuild_common::HashAlg;
use sha2::{Digest, Sha384};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const QUOTE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/tdx/trustee/tdx_quote_4.dat"
));
const SGX_QUOTE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/tdx/dcap-qvl/sgx_quote"
));
const CCEL_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/tdx/go-tdx-guest/ccel"
);

const BINDING: [u8; 32] = [0xb1; 32];
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

type Register = Arc<Mutex<[u8; 48]>>;

fn zero_register() -> Register {
    Arc::new(Mutex::new([0; 48]))
}

/// How the fake kernel answers one entry.
#[derive(Clone)]
struct EntryScript {
    provider: &'static str,
    /// Added to `generation` between the collector's two reads (1: only its
    /// own `inblob` write; more: another writer raced).
    advance: u64,
    /// REPORT_DATA of the answer; `None`: what the collector wrote.
    report_data: Option<[u8; 64]>,
}

impl EntryScript {
    fn normal() -> Self {
        Self {
            provider: "tdx_guest",
            advance: 1,
            report_data: None,
        }
    }
}

/// What the fake kernel saw of one entry.
#[derive(Debug)]
struct Seen {
    entry: PathBuf,
    inblob: Vec<u8>,
}

fn mkfifo(path: &Path) {
    // mkfifo(2) directly: no child process inherits other tests' FIFOs.
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap_or_else(|e| panic!("mkfifo {}: {e}", path.display()));
}

/// Opens a FIFO for writing once the collector opens it for reading.
fn writer(path: &Path) -> std::fs::File {
    let start = Instant::now();
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Ok(f) => return f,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {}
            Err(e) => panic!("{}: {e}", path.display()),
        }
        assert!(
            start.elapsed() < STEP_TIMEOUT,
            "the collector never read {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn answer(path: &Path, bytes: &[u8]) {
    writer(path).write_all(bytes).unwrap();
}

fn wait_for_new_entry(root: &Path, seen: &mut HashSet<PathBuf>) -> PathBuf {
    let start = Instant::now();
    loop {
        for e in std::fs::read_dir(root).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && seen.insert(p.clone()) {
                return p;
            }
        }
        assert!(start.elapsed() < STEP_TIMEOUT, "no entry was created");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn quote_for(report_data: &[u8], rtmr3: [u8; 48]) -> Vec<u8> {
    let mut q = Quote::parse(QUOTE).unwrap();
    let sealbuild_common::tdx::QuoteBody::Td(td) = &mut q.body else {
        panic!("not a TD quote")
    };
    td.report_data = report_data.try_into().unwrap();
    td.rtmr[3] = rtmr3;
    q.to_bytes()
}

fn serve_entry(root: &Path, seen: &mut HashSet<PathBuf>, s: &EntryScript, reg: &Register) -> Seen {
    let dir = wait_for_new_entry(root, seen);
    let attrs = ["inblob", "generation", "outblob", "provider"].map(|a| dir.join(a));
    std::fs::write(&attrs[0], b"").unwrap();
    mkfifo(&attrs[1]);
    mkfifo(&attrs[2]);
    let tmp = root.join(".provider-tmp");
    mkfifo(&tmp);
    std::fs::rename(&tmp, &attrs[3]).unwrap();
    let unlink_all = || attrs.iter().for_each(|a| std::fs::remove_file(a).unwrap());

    if s.provider != "tdx_guest" {
        let mut f = writer(&attrs[3]);
        unlink_all();
        f.write_all(format!("{}\n", s.provider).as_bytes()).unwrap();
        return Seen {
            entry: dir,
            inblob: vec![],
        };
    }
    answer(&attrs[3], b"tdx_guest\n");
    answer(&attrs[1], b"41\n");
    // The collector opens outblob only after writing inblob.
    let mut out = writer(&attrs[2]);
    let inblob = std::fs::read(&attrs[0]).unwrap();
    let report_data = s.report_data.map_or(inblob.clone(), |r| r.to_vec());
    let rtmr3 = *reg.lock().unwrap();
    out.write_all(&quote_for(&report_data, rtmr3)).unwrap();
    drop(out);
    let mut g = writer(&attrs[1]);
    unlink_all();
    g.write_all(format!("{}\n", 41 + s.advance).as_bytes())
        .unwrap();
    Seen { entry: dir, inblob }
}

/// Plays the kernel for `scripts.len()` entries; the receiver gets what
/// it saw.
fn kernel(root: &Path, scripts: Vec<EntryScript>, reg: Register) -> mpsc::Receiver<Vec<Seen>> {
    let (tx, rx) = mpsc::channel();
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        let mut seen = HashSet::new();
        let log = scripts
            .iter()
            .map(|s| serve_entry(&root, &mut seen, s, &reg))
            .collect();
        let _ = tx.send(log);
    });
    rx
}

/// The register behind a FIFO: `ops` turns, `true` = the collector
/// extends, `false` = it reads. Consecutive extensions arrive through one
/// read end kept open (the collector may reopen the FIFO for its next
/// write before this thread saw the end of the previous one), 48 bytes
/// each; it is closed before a read turn.
fn register(path: &Path, ops: Vec<bool>, reg: Register) -> mpsc::Receiver<()> {
    mkfifo(path);
    let (tx, rx) = mpsc::channel();
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let mut reader: Option<std::fs::File> = None;
        for extend in ops {
            if extend {
                // The reader stays open across extensions (closing it
                // could discard a digest written meanwhile); between two
                // writers a read sees end-of-file, so it polls until the
                // next writer's 48 bytes arrived.
                let f = reader.get_or_insert_with(|| std::fs::File::open(&path).unwrap());
                let mut digest = [0u8; 48];
                let mut filled = 0;
                let start = Instant::now();
                while filled < digest.len() {
                    match f.read(&mut digest[filled..]).unwrap() {
                        0 => {
                            assert!(start.elapsed() < STEP_TIMEOUT, "no extension arrived");
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        n => filled += n,
                    }
                }
                let mut r = reg.lock().unwrap();
                let new = Sha384::new()
                    .chain_update(*r)
                    .chain_update(digest)
                    .finalize();
                r.copy_from_slice(&new);
            } else {
                reader = None;
                let value = *reg.lock().unwrap();
                answer(&path, &value);
            }
        }
        let _ = tx.send(());
    });
    rx
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    rtmr3: PathBuf,
    ccel: CcelPaths,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tsm/report");
    std::fs::create_dir_all(&root).unwrap();
    let ccel = CcelPaths {
        table: dir.path().join("CCEL"),
        data: dir.path().join("data-CCEL"),
    };
    Setup {
        rtmr3: dir.path().join("rtmr3:sha384"),
        root,
        ccel,
        _dir: dir,
    }
}

fn collector(s: &Setup, attempts: u32) -> TdxCollector {
    let source = ConfigfsTsm::new(&s.root)
        .with_max_attempts(attempts)
        .with_attribute_wait(STEP_TIMEOUT);
    TdxCollector::new(Box::new(source), s.ccel.clone(), Rtmr::new(&s.rtmr3))
}

fn empty(root: &Path) -> bool {
    std::fs::read_dir(root).unwrap().next().is_none()
}

#[test]
fn protocol_binds_report_data_and_removes_the_entry() {
    let s = setup();
    let reg = zero_register();
    let rx = kernel(&s.root, vec![EntryScript::normal()], reg);
    let mut c = collector(&s, 3).with_agent_id("tdx:builder-1");
    assert_eq!(c.agent_id().as_deref(), Some("tdx:builder-1"));
    assert!(c.registration().unwrap().is_none());
    let Evidence::Tdx(ev) = c.collect(&BINDING).unwrap() else {
        panic!("not TDX evidence")
    };
    let seen = rx.recv_timeout(STEP_TIMEOUT).unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].inblob, snp_report_data(&BINDING).to_vec());
    let q = Quote::parse(&ev.quote).unwrap();
    let rd = q.body.report_data();
    assert_eq!(&rd[..32], &BINDING);
    assert_eq!(rd[32..], [0u8; 32]);
    assert!(ev.ccel.is_none(), "no CCEL files: none sent");
    assert!(ev.runtime_log.is_none());
    assert!(!seen[0].entry.exists() && empty(&s.root), "entry removed");
    assert!(c.evidence_source().contains("configfs-tsm"));
}

#[test]
fn generation_race_retries_with_a_fresh_entry() {
    let s = setup();
    let raced = EntryScript {
        advance: 2,
        ..EntryScript::normal()
    };
    let rx = kernel(&s.root, vec![raced, EntryScript::normal()], zero_register());
    let mut c = collector(&s, 3);
    c.collect(&BINDING).unwrap();
    let seen = rx.recv_timeout(STEP_TIMEOUT).unwrap();
    assert_eq!(seen.len(), 2);
    assert_ne!(seen[0].entry, seen[1].entry, "a fresh entry after a race");
    assert!(empty(&s.root), "both entries removed");
}

#[test]
fn generation_race_in_every_attempt_is_an_error() {
    let s = setup();
    let raced = EntryScript {
        advance: 3,
        ..EntryScript::normal()
    };
    let _rx = kernel(&s.root, vec![raced.clone(), raced], zero_register());
    let err = collector(&s, 2).collect(&BINDING).unwrap_err();
    assert!(
        matches!(
            err,
            AgentError::TdxGenerationRace {
                attempts: 2,
                expected: 42,
                got: 44,
                ..
            }
        ),
        "{err}"
    );
    assert!(empty(&s.root));
}

#[test]
fn wrong_provider_refused() {
    let s = setup();
    let sev = EntryScript {
        provider: "sev_guest",
        ..EntryScript::normal()
    };
    let _rx = kernel(&s.root, vec![sev], zero_register());
    let err = collector(&s, 3).collect(&BINDING).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, AgentError::Configfs { .. }), "{msg}");
    assert!(
        msg.contains("\"sev_guest\"") && msg.contains("tdx_guest"),
        "{msg}"
    );
    assert!(empty(&s.root), "entry removed after the refusal");
}

#[test]
fn report_data_mismatch_refused() {
    let s = setup();
    let other = EntryScript {
        report_data: Some([7; 64]),
        ..EntryScript::normal()
    };
    let _rx = kernel(&s.root, vec![other], zero_register());
    let err = collector(&s, 3).collect(&BINDING).unwrap_err();
    assert!(
        matches!(err, AgentError::TdxReportDataMismatch { .. }),
        "{err}"
    );
    assert!(err
        .to_string()
        .contains(&hex::encode(snp_report_data(&BINDING))));
}

#[test]
fn malformed_and_sgx_quotes_refused() {
    let rd = [0u8; 64];
    let err = check_quote(&QUOTE[..600], &rd, "test").unwrap_err();
    assert!(matches!(err, AgentError::TdxMalformedQuote { .. }), "{err}");
    let err = check_quote(SGX_QUOTE, &rd, "test").unwrap_err();
    assert!(err.to_string().contains("SGX"), "{err}");
}

#[test]
fn ccel_read_checked_and_sent() {
    let s = setup();
    let table = std::fs::read(format!("{CCEL_DIR}/ccel_table.dat")).unwrap();
    let data = std::fs::read(format!("{CCEL_DIR}/ccel_data.dat")).unwrap();
    // Only the log area: parsed on its own.
    std::fs::write(&s.ccel.data, &data).unwrap();
    assert_eq!(s.ccel.read().unwrap().as_deref(), Some(data.as_slice()));
    // With its table, through the collector.
    std::fs::write(&s.ccel.table, &table).unwrap();
    let _rx = kernel(&s.root, vec![EntryScript::normal()], zero_register());
    let Evidence::Tdx(ev) = collector(&s, 3).collect(&BINDING).unwrap() else {
        panic!("not TDX evidence")
    };
    assert_eq!(ev.ccel.as_deref(), Some(data.as_slice()));
    // A log area shorter than the table's LAML.
    std::fs::write(&s.ccel.data, &data[..data.len() - 1]).unwrap();
    let err = s.ccel.read().unwrap_err();
    assert!(matches!(err, AgentError::Ccel { .. }), "{err}");
    // Garbage.
    std::fs::write(&s.ccel.data, vec![0x41; data.len()]).unwrap();
    let err = s.ccel.read().unwrap_err();
    assert!(err.to_string().contains("data-CCEL"), "{err}");
    // A broken table.
    let mut bad = table.clone();
    bad[9] ^= 1;
    std::fs::write(&s.ccel.table, &bad).unwrap();
    std::fs::write(&s.ccel.data, &data).unwrap();
    let err = s.ccel.read().unwrap_err();
    assert!(
        err.to_string()
            .contains(&s.ccel.table.display().to_string()),
        "{err}"
    );
}

fn events() -> Vec<RuntimeEvent> {
    vec![
        RuntimeEvent::source("git+https://example.org/hello@0123abcd"),
        RuntimeEvent::command(&["make".to_string(), "all".to_string()]),
    ]
}

#[test]
fn rtmr3_extension_and_log_replay() {
    let s = setup();
    let reg = zero_register();
    // begin: read, 2 extensions; end: 1 extension, read.
    let done = register(&s.rtmr3, vec![false, true, true, true, false], reg.clone());
    let _rx = kernel(&s.root, vec![EntryScript::normal()], reg.clone());
    let mut c = collector(&s, 3);
    assert_eq!(
        c.build_parameters().get("runtimeRtmr"),
        Some(&serde_json::json!(3))
    );
    c.begin_runtime_log(&events()).unwrap();
    c.end_runtime_log(&RuntimeEvent::statement(&[9; 32]))
        .unwrap();
    done.recv_timeout(STEP_TIMEOUT).unwrap();
    let value = *reg.lock().unwrap();
    assert_ne!(value, [0u8; 48]);

    let evidence = c.collect(&BINDING).unwrap();
    let Evidence::Tdx(ev) = &evidence else {
        panic!("not TDX evidence")
    };
    let log = CelLog::parse(ev.runtime_log.as_deref().unwrap()).unwrap();
    assert_eq!(log.records.len(), 3);
    for r in &log.records {
        assert_eq!(r.pcr, 3, "the handle names RTMR3");
        assert_eq!(
            r.digests.keys().copied().collect::<Vec<_>>(),
            [HashAlg::Sha384]
        );
    }
    assert_eq!(log.replay(HashAlg::Sha384)[&3], value.to_vec());
    let q = Quote::parse(&ev.quote).unwrap();
    assert_eq!(q.td_report().unwrap().rtmr[3], value);

    let dir = tempfile::tempdir().unwrap();
    c.write_evidence(&evidence, dir.path()).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("quote.dat")).unwrap(),
        ev.quote
    );
    assert_eq!(
        std::fs::read(dir.path().join("runtime-log.cel.json")).unwrap(),
        ev.runtime_log.clone().unwrap()
    );
}

#[test]
fn rtmr3_not_zero_refused_and_foreign_extension_detected() {
    let s = setup();
    let reg: Register = Arc::new(Mutex::new([1; 48]));
    let _done = register(&s.rtmr3, vec![false], reg);
    let mut c = collector(&s, 3);
    let err = c.begin_runtime_log(&events()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, AgentError::Rtmr { .. }), "{msg}");
    assert!(msg.contains("one sealed build per boot"), "{msg}");

    // Another process extends between our extensions: end() reads back a
    // value the log does not explain.
    let s = setup();
    let reg = zero_register();
    let _done = register(&s.rtmr3, vec![false, true, true, true, true, false], reg);
    let mut c = collector(&s, 3);
    c.begin_runtime_log(&events()).unwrap();
    Rtmr::new(&s.rtmr3).extend(&[5; 48]).unwrap();
    let err = c
        .end_runtime_log(&RuntimeEvent::statement(&[9; 32]))
        .unwrap_err();
    assert!(err.to_string().contains("another process"), "{err}");
}

#[test]
fn quote_rtmr3_must_match_the_log() {
    let s = setup();
    let reg = zero_register();
    let _done = register(&s.rtmr3, vec![false, true, true, true, false], reg);
    // The kernel's quote shows another register than the one extended.
    let _rx = kernel(&s.root, vec![EntryScript::normal()], zero_register());
    let mut c = collector(&s, 3);
    c.begin_runtime_log(&events()).unwrap();
    c.end_runtime_log(&RuntimeEvent::statement(&[9; 32]))
        .unwrap();
    let err = c.collect(&BINDING).unwrap_err();
    assert!(matches!(err, AgentError::TdxRtmrMismatch { .. }), "{err}");
}

#[test]
fn open_explains_a_missing_configfs() {
    let s = setup();
    let options = sealbuild_agent::tdx::TdxOptions {
        configfs_root: s.root.join("absent"),
        ..Default::default()
    };
    let err = sealbuild_agent::tdx::TdxCollector::open(&options).unwrap_err();
    assert!(err.to_string().contains("Linux >= 6.7"), "{err}");
}
