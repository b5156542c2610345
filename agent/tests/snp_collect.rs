//! SEV-SNP evidence collection without SEV-SNP hardware.
//!
//! * configfs-tsm: the collector runs its file protocol against a temporary
//!   directory while a test thread plays the kernel. A plain directory does
//!   not do what configfs does on its own, so the thread stands in:
//!   - configfs creates an entry's attribute files with the `mkdir`; the
//!     thread creates them when it sees the new directory (`provider` last,
//!     by rename, so its presence means the entry is ready);
//!   - reading `outblob` makes the kernel issue the firmware request; the
//!     read-only attributes are FIFOs, so each read of the collector blocks
//!     until the thread answers it, in the order of the protocol in
//!     `sealbuild_agent::snp::configfs`
//!     (`provider`, `privlevel_floor`, `generation`, `outblob`, `auxblob`,
//!     `generation`), and the thread sees `privlevel` and `inblob` as the
//!     collector wrote them;
//!   - configfs removes the attributes on `rmdir`; the thread unlinks them
//!     just before answering the last read it expects, so the collector's
//!     `rmdir` of the then empty directory succeeds exactly as on configfs
//!     (and fails, leaving the directory behind, if the collector reads more
//!     than the protocol says).
//!
//!   The reports are a real Milan report (virtee/sev) with REPORT_DATA and
//!   VMPL set to what was requested, re-serialised (its signature no longer
//!   verifies; the collector does not check signatures), and the host
//!   certificates a table holding the real VCEK of that platform.
//! * `/dev/sev-guest`: a test double of the device records the requests and
//!   answers in the `sev` crate's types.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_agent::evidence::{AgentError, EvidenceCollector};
use sealbuild_agent::snp::certtable::{CertTable, CertTableEntry, Guid};
use sealbuild_agent::snp::sevguest::{
    convert_response, GuestReportRequest, GuestReportResponse, MESSAGE_VERSION,
};
use sealbuild_agent::snp::{ConfigfsTsm, SevGuest, SevGuestDevice, SnpCollector};
use sealbuild_common::api::{Evidence, SnpCertKind, SnpEvidence};
use sealbuild_common::binding::snp_report_data;
use sealbuild_common::snp::AttestationReport;
use sealbuild_common::Platform;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const MILAN: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/sev-snp/virtee-sev/report_milan.bin"
));
const VCEK: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/sev-snp/virtee-sev/vcek_milan.der"
));

const BINDING: [u8; 32] = [0xb1; 32];
/// How long the fake kernel waits for the collector's next step.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// The real report with the REPORT_DATA and VMPL of a request.
fn report_for(report_data: &[u8], vmpl: u32) -> Vec<u8> {
    let mut r = AttestationReport::parse(MILAN).unwrap();
    r.report_data = report_data.try_into().unwrap();
    r.vmpl = vmpl;
    r.to_bytes()
}

fn vcek_table() -> Vec<u8> {
    CertTable {
        entries: vec![CertTableEntry {
            guid: Guid::VCEK,
            data: VCEK.to_vec(),
        }],
    }
    .to_bytes()
}

// --- the fake kernel ----------------------------------------------------------

type ReportFn = Box<dyn Fn(&[u8], u32) -> Vec<u8> + Send>;

/// What the fake kernel answers.
struct Script {
    provider: &'static str,
    privlevel_floor: Option<u32>,
    /// `None`: the entry has no `auxblob` attribute.
    auxblob: Option<Vec<u8>>,
    /// How many of the first entries see another writer (the second
    /// `generation` read is one higher than the two writes explain).
    races: usize,
    /// Builds `outblob` from `inblob` and the VMPL written to `privlevel`.
    report: ReportFn,
    /// The attribute after whose read the collector is expected to stop
    /// (its last read). `generation` means its second read.
    last: &'static str,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            provider: "sev_guest\n",
            privlevel_floor: Some(0),
            auxblob: Some(vcek_table()),
            races: 0,
            report: Box::new(report_for),
            last: "generation",
        }
    }
}

/// What the fake kernel saw of one entry.
#[derive(Debug, Default, Clone)]
struct EntryLog {
    dir: PathBuf,
    privlevel: Option<String>,
    inblob: Option<Vec<u8>>,
}

struct FakeKernel {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(Vec<EntryLog>, Vec<String>)>,
}

impl FakeKernel {
    fn start(root: &Path, script: Script) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_path_buf();
        let flag = stop.clone();
        let handle = std::thread::spawn(move || kernel_main(&root, &script, &flag));
        Self { stop, handle }
    }

    /// Stops the thread; returns the entries it served and its complaints.
    fn finish(self) -> (Vec<EntryLog>, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap()
    }
}

fn kernel_main(root: &Path, script: &Script, stop: &AtomicBool) -> (Vec<EntryLog>, Vec<String>) {
    let mut entries: Vec<EntryLog> = Vec::new();
    let mut failures = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let new = std::fs::read_dir(root).ok().and_then(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.is_dir() && !entries.iter().any(|l| &l.dir == p))
        });
        match new {
            Some(dir) => {
                let racing = entries.len() < script.races;
                let mut log = EntryLog {
                    dir: dir.clone(),
                    ..Default::default()
                };
                if let Err(e) = serve_entry(&dir, script, racing, &mut log, stop) {
                    failures.push(format!("{}: {e}", dir.display()));
                }
                entries.push(log);
            }
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    (entries, failures)
}

fn mkfifo(path: &Path) -> Result<(), String> {
    // mkfifo(2) directly: no child process inherits other tests' FIFOs.
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .map_err(|e| format!("mkfifo {}: {e}", path.display()))
}

/// Opens FIFO `path` for writing once the collector has opened it for
/// reading.
fn wait_for_reader(path: &Path, stop: &AtomicBool) -> Result<std::fs::File, String> {
    let start = Instant::now();
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Ok(f) => return Ok(f),
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {}
            Err(e) => return Err(format!("opening {} for writing: {e}", path.display())),
        }
        if stop.load(Ordering::SeqCst) || start.elapsed() > STEP_TIMEOUT {
            return Err(format!(
                "the collector never read {} (protocol order broken?)",
                path.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn write_fifo(mut f: std::fs::File, data: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut rest = data;
    let start = Instant::now();
    while !rest.is_empty() {
        match f.write(rest) {
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if start.elapsed() > STEP_TIMEOUT {
                    return Err("the collector stopped reading".into());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(format!("writing a FIFO: {e}")),
        }
    }
    Ok(())
}

fn unlink_all(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        std::fs::remove_file(e.path()).unwrap();
    }
}

fn serve_entry(
    dir: &Path,
    script: &Script,
    racing: bool,
    log: &mut EntryLog,
    stop: &AtomicBool,
) -> Result<(), String> {
    // What configfs would have created with the directory.
    for writable in ["inblob", "privlevel"] {
        std::fs::write(dir.join(writable), b"").map_err(|e| e.to_string())?;
    }
    let mut order = vec!["provider"];
    if script.privlevel_floor.is_some() {
        order.push("privlevel_floor");
    }
    order.extend(["generation", "outblob"]);
    if script.auxblob.is_some() {
        order.push("auxblob");
    }
    order.push("generation");
    for name in order.iter().skip(1) {
        if !dir.join(name).exists() {
            mkfifo(&dir.join(name))?;
        }
    }
    mkfifo(&dir.join("provider.new"))?;
    std::fs::rename(dir.join("provider.new"), dir.join("provider")).map_err(|e| e.to_string())?;

    let mut generation_reads = 0;
    for name in order {
        let writer = wait_for_reader(&dir.join(name), stop)?;
        let data = match name {
            "provider" => script.provider.as_bytes().to_vec(),
            "privlevel_floor" => format!("{}\n", script.privlevel_floor.unwrap()).into_bytes(),
            "generation" => {
                generation_reads += 1;
                // A fresh entry starts at 0; the collector's two writes make 2.
                let value = match (generation_reads, racing) {
                    (1, _) => 0,
                    (_, false) => 2,
                    (_, true) => 3,
                };
                format!("{value}\n").into_bytes()
            }
            "outblob" => {
                // The collector has finished its writes when it reads here.
                let privlevel = std::fs::read_to_string(dir.join("privlevel")).unwrap();
                let inblob = std::fs::read(dir.join("inblob")).unwrap();
                let vmpl = privlevel.trim().parse().unwrap_or(u32::MAX);
                let out = (script.report)(&inblob, vmpl);
                log.privlevel = Some(privlevel);
                log.inblob = Some(inblob);
                out
            }
            "auxblob" => script.auxblob.clone().unwrap(),
            other => unreachable!("{other}"),
        };
        let last = name == script.last && (name != "generation" || generation_reads == 2);
        if last {
            unlink_all(dir);
        }
        write_fifo(writer, &data)?;
        if last {
            return Ok(());
        }
    }
    Err(format!(
        "the script's last read {:?} never came",
        script.last
    ))
}

/// Runs `collect` on another thread so a protocol deadlock fails the test
/// instead of hanging it.
fn collect(mut collector: SnpCollector) -> Result<Evidence, AgentError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(collector.collect(&BINDING));
    });
    rx.recv_timeout(STEP_TIMEOUT * 2)
        .expect("collect did not finish: the collector and the fake kernel deadlocked")
}

fn configfs_collector(root: &Path, vmpl: u32) -> SnpCollector {
    SnpCollector::new(Box::new(ConfigfsTsm::new(root)), vmpl).unwrap()
}

/// Runs one collection against the fake kernel.
fn run(
    script: Script,
    source: ConfigfsTsm,
    vmpl: u32,
) -> (Result<Evidence, AgentError>, Vec<EntryLog>, PathBuf) {
    let root = source.root().to_path_buf();
    let kernel = FakeKernel::start(&root, script);
    let result = collect(SnpCollector::new(Box::new(source), vmpl).unwrap());
    let (entries, failures) = kernel.finish();
    assert!(failures.is_empty(), "fake kernel: {failures:?}");
    let left: Vec<_> = std::fs::read_dir(&root).unwrap().collect();
    assert!(left.is_empty(), "entries left behind: {left:?}");
    (result, entries, root)
}

fn snp(ev: Evidence) -> SnpEvidence {
    match ev {
        Evidence::Snp(e) => e,
        other => panic!("expected SNP evidence, got {other:?}"),
    }
}

// --- configfs-tsm ----------------------------------------------------------------

#[test]
fn configfs_happy_path() {
    let dir = tempfile::tempdir().unwrap();
    let (result, entries, root) = run(Script::default(), ConfigfsTsm::new(dir.path()), 0);
    let ev = snp(result.unwrap());
    let report = AttestationReport::parse(&ev.report).unwrap();
    assert_eq!(report.report_data, snp_report_data(&BINDING));
    assert_eq!(ev.certificates.len(), 1);
    assert_eq!(ev.certificates[0].kind, SnpCertKind::Vcek);
    assert_eq!(ev.certificates[0].der, VCEK);
    // One entry, under the root, with the request written to it.
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].dir.parent(), Some(root.as_path()));
    assert_eq!(
        entries[0].inblob.as_deref(),
        Some(&snp_report_data(&BINDING)[..])
    );
    assert_eq!(entries[0].privlevel.as_deref(), Some("0\n"));
    assert!(!entries[0].dir.exists());
}

#[test]
fn configfs_writes_the_requested_vmpl() {
    let dir = tempfile::tempdir().unwrap();
    let script = Script {
        privlevel_floor: Some(1),
        ..Script::default()
    };
    let (result, entries, _) = run(script, ConfigfsTsm::new(dir.path()), 2);
    let ev = snp(result.unwrap());
    assert_eq!(entries[0].privlevel.as_deref(), Some("2\n"));
    assert_eq!(AttestationReport::parse(&ev.report).unwrap().vmpl, 2);
}

#[test]
fn configfs_vmpl_below_floor_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let script = Script {
        privlevel_floor: Some(2),
        last: "privlevel_floor",
        ..Script::default()
    };
    let (result, entries, _) = run(script, ConfigfsTsm::new(dir.path()), 1);
    let msg = result.unwrap_err().to_string();
    assert!(msg.contains("privlevel_floor"), "{msg}");
    assert!(msg.contains("VMPL 1 requested"), "{msg}");
    assert!(msg.contains("below 2"), "{msg}");
    assert_eq!(entries[0].inblob, None);
}

#[test]
fn configfs_without_auxblob_gives_no_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let script = Script {
        auxblob: None,
        privlevel_floor: None,
        ..Script::default()
    };
    let (result, _, _) = run(script, ConfigfsTsm::new(dir.path()), 0);
    let ev = snp(result.unwrap());
    assert!(ev.certificates.is_empty());
    // An empty auxblob (the host supplied nothing) is the same.
    let dir = tempfile::tempdir().unwrap();
    let script = Script {
        auxblob: Some(Vec::new()),
        ..Script::default()
    };
    let (result, _, _) = run(script, ConfigfsTsm::new(dir.path()), 0);
    assert!(snp(result.unwrap()).certificates.is_empty());
}

#[test]
fn configfs_generation_change_is_retried_in_a_fresh_entry() {
    let dir = tempfile::tempdir().unwrap();
    let script = Script {
        races: 1,
        ..Script::default()
    };
    let (result, entries, _) = run(script, ConfigfsTsm::new(dir.path()), 0);
    let ev = snp(result.unwrap());
    assert_eq!(
        AttestationReport::parse(&ev.report).unwrap().report_data,
        snp_report_data(&BINDING)
    );
    assert_eq!(entries.len(), 2);
    assert_ne!(entries[0].dir, entries[1].dir);
}

#[test]
fn configfs_persistent_generation_change_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let script = Script {
        races: usize::MAX,
        ..Script::default()
    };
    let source = ConfigfsTsm::new(dir.path()).with_max_attempts(3);
    let (result, entries, _) = run(script, source, 0);
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            AgentError::SnpGenerationRace {
                attempts: 3,
                expected: 2,
                got: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("another writer"), "{err}");
    assert_eq!(entries.len(), 3);
}

#[test]
fn configfs_wrong_provider_refused() {
    let dir = tempfile::tempdir().unwrap();
    let script = Script {
        provider: "tdx_guest\n",
        last: "provider",
        ..Script::default()
    };
    let (result, entries, _) = run(script, ConfigfsTsm::new(dir.path()), 0);
    let err = result.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, AgentError::Configfs { .. }), "{msg}");
    assert!(msg.contains("\"sev_guest\""), "{msg}");
    assert!(msg.contains("\"tdx_guest\""), "{msg}");
    assert!(msg.contains("provider"), "{msg}");
    // Nothing was written to the entry.
    assert_eq!(entries[0].inblob, None);
}

#[test]
fn configfs_report_data_mismatch_refused() {
    let dir = tempfile::tempdir().unwrap();
    let script = Script {
        // The real report, made for someone else's REPORT_DATA.
        report: Box::new(|_, _| MILAN.to_vec()),
        ..Script::default()
    };
    let (result, _, _) = run(script, ConfigfsTsm::new(dir.path()), 0);
    let err = result.unwrap_err();
    assert!(
        matches!(err, AgentError::SnpReportDataMismatch { .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains("configfs-tsm"), "{msg}");
    assert!(
        msg.contains(&hex::encode(snp_report_data(&BINDING))),
        "{msg}"
    );
    let milan_data = &MILAN[0x50..0x90];
    assert!(msg.contains(&hex::encode(milan_data)), "{msg}");
}

#[test]
fn configfs_malformed_report_and_certificates_refused() {
    let dir = tempfile::tempdir().unwrap();
    let script = Script {
        report: Box::new(|d, v| report_for(d, v)[..1183].to_vec()),
        ..Script::default()
    };
    let (result, _, _) = run(script, ConfigfsTsm::new(dir.path()), 0);
    let err = result.unwrap_err();
    assert!(
        matches!(err, AgentError::SnpMalformedReport { .. }),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut table = vcek_table();
    table.pop();
    let script = Script {
        auxblob: Some(table),
        ..Script::default()
    };
    let (result, _, _) = run(script, ConfigfsTsm::new(dir.path()), 0);
    let err = result.unwrap_err();
    assert!(matches!(err, AgentError::SnpCertTable { .. }), "{err}");
    assert!(err.to_string().contains("auxblob"), "{err}");
}

#[test]
fn configfs_unknown_certificate_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let other = Guid([0x11; 16]);
    let table = CertTable {
        entries: vec![
            CertTableEntry {
                guid: other,
                data: vec![1, 2, 3],
            },
            CertTableEntry {
                guid: Guid::VCEK,
                data: VCEK.to_vec(),
            },
        ],
    };
    let script = Script {
        auxblob: Some(table.to_bytes()),
        ..Script::default()
    };
    let (result, _, _) = run(script, ConfigfsTsm::new(dir.path()), 0);
    let ev = snp(result.unwrap());
    assert_eq!(ev.certificates.len(), 1);
    assert_eq!(ev.certificates[0].kind, SnpCertKind::Vcek);
}

#[test]
fn configfs_missing_root_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("config/tsm/report");
    let mut c = configfs_collector(&root, 0);
    assert_eq!(c.platform(), Platform::Snp);
    let err = c.collect(&BINDING).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, AgentError::ConfigfsEntry { .. }), "{msg}");
    assert!(msg.contains(&root.display().to_string()), "{msg}");
    assert!(msg.contains("CONFIG_TSM_REPORTS"), "{msg}");
}

#[test]
fn configfs_root_without_kernel_times_out_and_cleans_up() {
    // A plain directory: mkdir works, but no attributes ever appear.
    let dir = tempfile::tempdir().unwrap();
    let source = ConfigfsTsm::new(dir.path()).with_attribute_wait(Duration::from_millis(50));
    let mut c = SnpCollector::new(Box::new(source), 0).unwrap();
    let msg = c.collect(&BINDING).unwrap_err().to_string();
    assert!(msg.contains("provider"), "{msg}");
    assert!(msg.contains("configfs-tsm report directory"), "{msg}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

// --- /dev/sev-guest ------------------------------------------------------------------

type Respond = Box<dyn FnMut(&GuestReportRequest) -> GuestReportResponse + Send>;

/// A device that records what it is sent.
struct FakeDevice {
    sent: Arc<Mutex<Vec<GuestReportRequest>>>,
    respond: Respond,
}

impl SevGuestDevice for FakeDevice {
    fn request(&mut self, request: &GuestReportRequest) -> Result<GuestReportResponse, AgentError> {
        self.sent.lock().unwrap().push(request.clone());
        Ok((self.respond)(request))
    }
    fn name(&self) -> String {
        "fake-sev-guest".into()
    }
}

fn fake(respond: Respond) -> (FakeDevice, Arc<Mutex<Vec<GuestReportRequest>>>) {
    let sent = Arc::new(Mutex::new(Vec::new()));
    (
        FakeDevice {
            sent: sent.clone(),
            respond,
        },
        sent,
    )
}

fn entry(
    cert_type: sev::firmware::host::CertType,
    data: &[u8],
) -> sev::firmware::host::CertTableEntry {
    sev::firmware::host::CertTableEntry {
        cert_type,
        data: data.to_vec(),
    }
}

#[test]
fn sev_guest_request_encoding() {
    for (host_certificates, ioctl) in [(false, "SNP_GET_REPORT"), (true, "SNP_GET_EXT_REPORT")] {
        let (device, sent) = fake(Box::new(|r| GuestReportResponse {
            report: report_for(&r.report_data, r.vmpl),
            certificates: None,
        }));
        let source = SevGuest::new(device, host_certificates);
        let mut c = SnpCollector::new(Box::new(source), 3).unwrap();
        snp(c.collect(&BINDING).unwrap());
        let sent = sent.lock().unwrap();
        assert_eq!(
            *sent,
            vec![GuestReportRequest {
                message_version: 1,
                report_data: snp_report_data(&BINDING),
                vmpl: 3,
                extended: host_certificates,
            }]
        );
        assert_eq!(MESSAGE_VERSION, 1);
        assert_eq!(sent[0].ioctl_name(), ioctl);
        // REPORT_DATA = binding || 32 zero bytes.
        assert_eq!(&sent[0].report_data[..32], &BINDING);
        assert_eq!(sent[0].report_data[32..], [0u8; 32]);
    }
}

#[test]
fn sev_guest_response_conversion() {
    use sev::firmware::host::CertType;
    let other = uuid::Uuid::parse_str("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0").unwrap();
    let (device, _) = fake(Box::new(move |r| GuestReportResponse {
        report: report_for(&r.report_data, r.vmpl),
        certificates: Some(vec![
            entry(CertType::ARK, b"ark"),
            entry(CertType::ASK, b"ask"),
            entry(CertType::VCEK, VCEK),
            entry(CertType::VLEK, b"vlek"),
            entry(CertType::CRL, b"crl"),
            entry(CertType::OTHER(other), b"other"),
        ]),
    }));
    let mut c = SnpCollector::new(Box::new(SevGuest::new(device, true)), 0).unwrap();
    let ev = snp(c.collect(&BINDING).unwrap());
    // The report bytes pass through unchanged: 1184 bytes that parse.
    assert_eq!(ev.report, report_for(&snp_report_data(&BINDING), 0));
    assert_eq!(ev.report.len(), 1184);
    let kinds: Vec<_> = ev.certificates.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            SnpCertKind::Ark,
            SnpCertKind::Ask,
            SnpCertKind::Vcek,
            SnpCertKind::Vlek
        ]
    );
    assert_eq!(ev.certificates[2].der, VCEK);

    let converted = convert_response(
        GuestReportResponse {
            report: vec![1, 2, 3],
            certificates: Some(vec![
                entry(CertType::CRL, b"crl"),
                entry(CertType::OTHER(other), b"x"),
            ]),
        },
        "dev",
    )
    .unwrap();
    assert_eq!(converted.report, [1, 2, 3]);
    assert!(converted.certificates.is_empty());
    assert_eq!(
        converted.unknown_certificates,
        vec![
            Guid::parse_str("92f81bc3-5811-4d3d-97ff-d19f88dc67ea").unwrap(),
            Guid(*other.as_bytes()),
        ]
    );
    let none = convert_response(
        GuestReportResponse {
            report: vec![],
            certificates: None,
        },
        "dev",
    )
    .unwrap();
    assert!(none.certificates.is_empty() && none.unknown_certificates.is_empty());
}

#[test]
fn sev_guest_empty_certificate_refused() {
    use sev::firmware::host::CertType;
    let err = convert_response(
        GuestReportResponse {
            report: vec![],
            certificates: Some(vec![entry(CertType::VCEK, b"")]),
        },
        "dev",
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("length 0 for the vcek entry"),
        "{err}"
    );
}

#[test]
fn sev_guest_wrong_report_refused() {
    // A device answering with a report made for another request.
    let (device, _) = fake(Box::new(|_| GuestReportResponse {
        report: MILAN.to_vec(),
        certificates: None,
    }));
    let mut c = SnpCollector::new(Box::new(SevGuest::new(device, false)), 0).unwrap();
    let err = c.collect(&BINDING).unwrap_err();
    assert!(
        matches!(err, AgentError::SnpReportDataMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("fake-sev-guest"), "{err}");
}
