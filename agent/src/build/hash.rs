//! Parallel streaming SHA-256 (FIPS 180-4 §6.2) of build outputs.
//!
//! Files are read in 1 MiB chunks, so memory use does not depend on file
//! sizes, and spread over a pool of `available_parallelism` threads (largest
//! files first, so one large file does not end up last). One file is always
//! hashed by one thread: SHA-256 is sequential within a message.
//!
//! On x86-64 the `sha2` crate detects the SHA extensions (SHA-NI) at run time
//! and then uses them (its `x86` backend); the optional `asm` feature only
//! replaces the portable fallback, so it is not enabled. `benches/hash_throughput.rs`
//! compares the throughput with OpenSSL.
//!
//! A file is opened with `O_NOFOLLOW | O_NONBLOCK` and must still be a
//! regular file of the size it had when listed: a file that grows or shrinks
//! while being hashed is an error, not a silently wrong digest.

use super::error::BuildError;
use super::glob::{resolve_artifacts, ArtifactFile};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Read size per `read(2)`.
pub const CHUNK: usize = 1 << 20;

/// A hashed build output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedArtifact {
    /// Path relative to the build directory, `/`-separated: the subject name.
    pub name: String,
    /// The file that was read (canonical; a symbolic link's target).
    pub path: PathBuf,
    /// Bytes hashed.
    pub size: u64,
    /// SHA-256 of the content.
    pub sha256: [u8; 32],
}

impl HashedArtifact {
    /// The digest as lowercase hex (in-toto DigestSet `sha256`).
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

/// How to hash.
#[derive(Debug, Clone, Default)]
pub struct HashOptions {
    /// Worker threads; `None` = `std::thread::available_parallelism()`.
    pub threads: Option<usize>,
    /// Show a progress bar on stderr (only if stderr is a terminal).
    pub progress: bool,
}

/// Resolves `globs` in `root` (see [`super::glob`]) and hashes the files in
/// parallel. The result is sorted by name, without duplicates.
pub fn hash_artifacts(
    root: &Path,
    globs: &[String],
    progress: bool,
) -> Result<Vec<HashedArtifact>, BuildError> {
    hash_artifacts_with(
        root,
        globs,
        &HashOptions {
            threads: None,
            progress,
        },
    )
}

/// [`hash_artifacts`] with explicit options.
pub fn hash_artifacts_with(
    root: &Path,
    globs: &[String],
    opts: &HashOptions,
) -> Result<Vec<HashedArtifact>, BuildError> {
    let files = resolve_artifacts(root, globs)?;
    let jobs: Vec<HashJob> = files
        .iter()
        .map(|f| HashJob {
            path: f.path.clone(),
            size: f.size,
        })
        .collect();
    let total: u64 = jobs.iter().map(|j| j.size).sum();
    let bar = progress_bar(opts.progress, total, jobs.len());
    let digests = hash_many(&jobs, thread_count(opts.threads), bar.as_ref());
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let digests = digests?;
    Ok(files
        .into_iter()
        .zip(digests)
        .map(
            |(ArtifactFile { name, path, size }, sha256)| HashedArtifact {
                name,
                path,
                size,
                sha256,
            },
        )
        .collect())
}

/// SHA-256 and length of one file, streamed.
pub fn sha256_file(path: &Path) -> Result<([u8; 32], u64), BuildError> {
    let mut buf = vec![0u8; CHUNK];
    let mut file = open_regular(path)?;
    let mut h = Sha256::new();
    let n = stream(&mut file, path, &mut h, &mut buf, None)?;
    Ok((h.finalize().into(), n))
}

/// A file to hash and the size it had when listed.
#[derive(Debug, Clone)]
pub(crate) struct HashJob {
    pub path: PathBuf,
    pub size: u64,
}

/// The pool size: `requested`, or the available parallelism.
pub(crate) fn thread_count(requested: Option<usize>) -> usize {
    requested
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

fn progress_bar(wanted: bool, total: u64, files: usize) -> Option<ProgressBar> {
    if !wanted || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "hashing {msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(format!("{files} files"));
    Some(bar)
}

/// Hashes `jobs` on `threads` threads; digests in the order of `jobs`. The
/// first failure stops the pool (jobs not yet started are not started); of
/// the jobs that failed, the first in `jobs` order is reported.
pub(crate) fn hash_many(
    jobs: &[HashJob],
    threads: usize,
    progress: Option<&ProgressBar>,
) -> Result<Vec<[u8; 32]>, BuildError> {
    // Largest first: the pool finishes closest to total/threads.
    let mut order: Vec<(usize, u64)> = jobs.iter().map(|j| j.size).enumerate().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let threads = threads.clamp(1, jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);

    let worker = || -> Vec<(usize, Result<[u8; 32], BuildError>)> {
        let mut buf = vec![0u8; CHUNK];
        let mut done = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some(job) = order
                .get(k)
                .and_then(|(i, _)| jobs.get(*i).map(|j| (*i, j)))
            else {
                break;
            };
            let r = hash_job(job.1, &mut buf, progress);
            if r.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            done.push((job.0, r));
        }
        done
    };

    let mut results: Vec<Option<Result<[u8; 32], BuildError>>> =
        std::iter::repeat_with(|| None).take(jobs.len()).collect();
    let mut worker_failure: Option<String> = None;
    std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(threads);
        for t in 0..threads {
            match std::thread::Builder::new()
                .name(format!("sealbuild-hash-{t}"))
                .spawn_scoped(s, worker)
            {
                Ok(h) => handles.push(h),
                Err(e) => {
                    if handles.is_empty() {
                        worker_failure = Some(format!("cannot start a thread: {e}"));
                        stop.store(true, Ordering::Relaxed);
                    }
                    // With at least one worker running, fewer threads still
                    // finish the work.
                    break;
                }
            }
        }
        for h in handles {
            match h.join() {
                Ok(done) => {
                    for (i, r) in done {
                        if let Some(slot) = results.get_mut(i) {
                            *slot = Some(r);
                        }
                    }
                }
                Err(_) => {
                    stop.store(true, Ordering::Relaxed);
                    worker_failure = Some("a hashing thread panicked".to_string());
                }
            }
        }
    });
    if let Some(w) = worker_failure {
        return Err(BuildError::Worker(w));
    }
    let mut out = Vec::with_capacity(jobs.len());
    let mut missing = false;
    for r in results {
        match r {
            Some(Ok(d)) => out.push(d),
            Some(Err(e)) => return Err(e),
            None => missing = true,
        }
    }
    if missing {
        return Err(BuildError::Worker(
            "hashing stopped before every file was hashed".to_string(),
        ));
    }
    Ok(out)
}

fn hash_job(
    job: &HashJob,
    buf: &mut [u8],
    progress: Option<&ProgressBar>,
) -> Result<[u8; 32], BuildError> {
    let mut file = open_regular(&job.path)?;
    let mut h = Sha256::new();
    let n = stream(&mut file, &job.path, &mut h, buf, progress)?;
    if n != job.size {
        return Err(BuildError::ChangedWhileHashing {
            path: job.path.clone(),
            expected: job.size,
            got: n,
        });
    }
    Ok(h.finalize().into())
}

/// Opens `path` without following a final symbolic link and without blocking
/// on a fifo, and checks it is a regular file.
fn open_regular(path: &Path) -> Result<std::fs::File, BuildError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| BuildError::io("opening", path, e))?;
    let m = file
        .metadata()
        .map_err(|e| BuildError::io("reading", path, e))?;
    if !m.is_file() {
        return Err(BuildError::io(
            "hashing",
            path,
            std::io::Error::other(format!(
                "no longer a regular file ({})",
                super::error::file_kind(&m.file_type())
            )),
        ));
    }
    Ok(file)
}

/// Feeds the whole of `file` into `h`; returns the number of bytes read.
fn stream(
    file: &mut std::fs::File,
    path: &Path,
    h: &mut Sha256,
    buf: &mut [u8],
    progress: Option<&ProgressBar>,
) -> Result<u64, BuildError> {
    let mut total: u64 = 0;
    loop {
        let n = match file.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BuildError::io("reading", path, e)),
        };
        let chunk = buf.get(..n).ok_or_else(|| {
            BuildError::io(
                "reading",
                path,
                std::io::Error::other("read returned more than the buffer"),
            )
        })?;
        h.update(chunk);
        total = total.saturating_add(n as u64);
        if let Some(p) = progress {
            p.inc(n as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_whose_size_changed_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        let jobs = [HashJob {
            path: p.clone(),
            size: 11,
        }];
        match hash_many(&jobs, 2, None) {
            Err(BuildError::ChangedWhileHashing {
                path,
                expected,
                got,
            }) => {
                assert_eq!((path, expected, got), (p, 11, 10));
            }
            other => panic!("expected ChangedWhileHashing, got {other:?}"),
        }
    }

    #[test]
    fn a_failure_stops_the_pool_and_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let mut jobs = Vec::new();
        for i in 0..20 {
            let p = d.path().join(format!("{i}"));
            std::fs::write(&p, vec![b'x'; i * 1000]).unwrap();
            jobs.push(HashJob {
                path: p,
                size: (i * 1000) as u64,
            });
        }
        assert_eq!(hash_many(&jobs, 3, None).unwrap().len(), 20);
        jobs[5].path = d.path().join("missing-a");
        jobs[12].path = d.path().join("missing-b");
        for threads in [1, 2, 7] {
            match hash_many(&jobs, threads, None) {
                Err(BuildError::Io { path, .. }) => {
                    // Whichever failed first stops the pool; the error
                    // names a file that really failed.
                    assert!(path.ends_with("missing-a") || path.ends_with("missing-b"));
                }
                other => panic!("expected Io, got {other:?}"),
            }
        }
    }

    #[test]
    fn links_and_fifos_are_not_opened_as_files() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("t");
        std::fs::write(&target, b"x").unwrap();
        let link = d.path().join("l");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(open_regular(&link), Err(BuildError::Io { .. })));
        let fifo = d.path().join("p");
        let st = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo (coreutils) is needed by this test");
        assert!(st.success());
        // O_NONBLOCK: opening does not wait for a writer; the type check refuses it.
        assert!(matches!(open_regular(&fifo), Err(BuildError::Io { .. })));
    }
}
