//! What Linux says about a process in `/proc/<pid>/`: resident memory and
//! threads (`status`), CPU time (`stat`), and this process's open-files
//! limit (`limits`).

use serde::Serialize;
use std::path::PathBuf;
use thiserror::Error;

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on
/// every Linux architecture sealbuild runs on).
const USER_HZ: f64 = 100.0;

/// Why a `/proc` file could not be read.
#[derive(Debug, Error)]
pub enum ProcError {
    /// The file could not be read (the process is gone, or no /proc).
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A field is missing or not a number.
    #[error("{path}: no {field}")]
    Field {
        /// The file.
        path: PathBuf,
        /// The field.
        field: &'static str,
    },
}

/// Resident memory and threads of a process at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ProcSample {
    /// VmRSS in MiB.
    pub rss_mib: f64,
    /// RssAnon in MiB: the part of VmRSS that is not the binary's and the
    /// libraries' pages (heap, stacks).
    pub anon_mib: f64,
    /// Threads.
    pub threads: u64,
}

impl ProcSample {
    /// The larger of each field.
    pub fn max(self, other: ProcSample) -> ProcSample {
        ProcSample {
            rss_mib: self.rss_mib.max(other.rss_mib),
            anon_mib: self.anon_mib.max(other.anon_mib),
            threads: self.threads.max(other.threads),
        }
    }
}

fn read(path: PathBuf) -> Result<(PathBuf, String), ProcError> {
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok((path, t)),
        Err(source) => Err(ProcError::Read { path, source }),
    }
}

/// `VmRSS`, `RssAnon` and `Threads` of `/proc/<pid>/status`.
pub fn sample(pid: u32) -> Result<ProcSample, ProcError> {
    let (path, text) = read(PathBuf::from(format!("/proc/{pid}/status")))?;
    parse_status(&text).ok_or(ProcError::Field {
        path,
        field: "VmRSS, RssAnon or Threads",
    })
}

fn status_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn parse_status(text: &str) -> Option<ProcSample> {
    Some(ProcSample {
        rss_mib: status_field(text, "VmRSS")? as f64 / 1024.0,
        anon_mib: status_field(text, "RssAnon")? as f64 / 1024.0,
        threads: status_field(text, "Threads")?,
    })
}

/// User plus system CPU seconds the process has used (`/proc/<pid>/stat`).
pub fn cpu_seconds(pid: u32) -> Result<f64, ProcError> {
    let (path, text) = read(PathBuf::from(format!("/proc/{pid}/stat")))?;
    parse_stat_cpu(&text).ok_or(ProcError::Field {
        path,
        field: "utime and stime",
    })
}

fn parse_stat_cpu(text: &str) -> Option<f64> {
    // The command name (field 2) is in parentheses and may hold spaces:
    // fields are counted after its last ')'. utime and stime are fields 14
    // and 15, so the 12th and 13th after it (field 3 is the first).
    let rest = text.get(text.rfind(')')?.checked_add(1)?..)?;
    let mut f = rest.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// How many CPUs process `pid` may run on (`Cpus_allowed_list` of
/// `/proc/<pid>/status`, e.g. `0-1,4`): fewer than the machine's when it
/// is pinned with taskset.
pub fn allowed_cpus(pid: u32) -> Option<usize> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_cpu_list(
        text.lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?
            .trim(),
    )
}

fn parse_cpu_list(list: &str) -> Option<usize> {
    let mut n = 0usize;
    for part in list.split(',') {
        n += match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                b.checked_sub(a)?.checked_add(1)?
            }
            None => {
                part.parse::<usize>().ok()?;
                1
            }
        };
    }
    (n > 0).then_some(n)
}

/// The machine's 1-minute load average (`/proc/loadavg`): other work on
/// the cores a benchmark shares.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// This process's soft limit of open files, when /proc says it.
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.get("Max open files".len()..)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_stat_parse() {
        let status =
            "Name:\tsealbuild-verif\nVmPeak:\t  100 kB\nVmRSS:\t   20480 kB\nRssAnon:\t    1536 kB\nThreads:\t7\n";
        assert_eq!(
            parse_status(status),
            Some(ProcSample {
                rss_mib: 20.0,
                anon_mib: 1.5,
                threads: 7
            })
        );
        assert_eq!(parse_status("VmRSS: 1 kB\n"), None);
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1 2 3";
        assert_eq!(parse_stat_cpu(stat), Some(3.0));
        assert_eq!(parse_stat_cpu("42 (x) S 1"), None);
    }

    #[test]
    fn cpu_lists_count() {
        assert_eq!(parse_cpu_list("0"), Some(1));
        assert_eq!(parse_cpu_list("0-1"), Some(2));
        assert_eq!(parse_cpu_list("0-3,8,10-11"), Some(7));
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn this_process_can_be_read() {
        let me = std::process::id();
        let s = sample(me).unwrap();
        assert!(
            s.rss_mib > 0.0 && s.anon_mib > 0.0 && s.anon_mib <= s.rss_mib && s.threads >= 1,
            "{s:?}"
        );
        assert!(cpu_seconds(me).unwrap() >= 0.0);
        assert!(open_files_limit().unwrap() > 0);
        assert!(load_average().unwrap() >= 0.0);
        // Affinity; a cgroup quota may make the parallelism smaller still.
        let parallelism = std::thread::available_parallelism().unwrap().get();
        assert!(allowed_cpus(me).unwrap() >= parallelism);
        assert!(matches!(sample(u32::MAX), Err(ProcError::Read { .. })));
    }
}
