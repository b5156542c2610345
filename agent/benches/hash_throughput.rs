//! Throughput of `build::hash_artifacts` against OpenSSL on the same files,
//! in the same run.
//!
//! Creates an output tree (default 1 GiB: 64 files of 16 MiB of pseudo-random
//! bytes) in a temporary directory, reads it once so that every contender
//! hashes from the page cache, then times (best and median of several
//! rounds; in each round every contender runs once, in rotating order):
//!
//! * `hash_artifacts` with the default pool (available parallelism);
//! * `hash_artifacts` on one thread;
//! * one `openssl dgst -sha256 FILE…` process over all files;
//! * N = available parallelism `openssl dgst` processes in parallel, the
//!   files dealt round-robin (the fair comparison for the pool).
//!
//! It checks that OpenSSL's digests equal ours, prints MB/s (10^6 bytes per
//! second) and the ratios; it never asserts a timing.
//!
//! Environment: `SEALBUILD_BENCH_BYTES` (total size; suffixes K, M, G are
//! powers of 1024), `SEALBUILD_BENCH_FILES` (default 64), `SEALBUILD_BENCH_RUNS`
//! (default 5), `SEALBUILD_BENCH_DIR` (where the temporary tree goes).
//!
//! Run: `cargo bench -p sealbuild-agent --bench hash_throughput`.

use sealbuild_agent::build::{hash_artifacts_with, HashOptions, HashedArtifact};
use std::collections::BTreeMap;
use std::error::Error;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn Error>>;

fn env_u64(name: &str, default: u64) -> Res<u64> {
    let Ok(v) = std::env::var(name) else {
        return Ok(default);
    };
    let v = v.trim();
    let (num, mult) = match v.chars().last() {
        Some('K' | 'k') => (v.get(..v.len() - 1), 1u64 << 10),
        Some('M' | 'm') => (v.get(..v.len() - 1), 1u64 << 20),
        Some('G' | 'g') => (v.get(..v.len() - 1), 1u64 << 30),
        _ => (Some(v), 1),
    };
    let n: u64 = num
        .ok_or("bad number")?
        .parse()
        .map_err(|e| format!("{name}={v}: {e}"))?;
    Ok(n.checked_mul(mult)
        .ok_or_else(|| format!("{name}={v}: too large"))?)
}

/// Writes `files` files of `size` bytes of xorshift64 output.
fn make_tree(dir: &Path, files: u64, size: u64) -> Res<Vec<PathBuf>> {
    let mut paths = Vec::new();
    let mut block = vec![0u8; 1 << 20];
    for i in 0..files {
        let p = dir.join(format!("out/part-{i:03}.bin"));
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut f = std::io::BufWriter::new(std::fs::File::create(&p)?);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ (i + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let mut left = size;
        while left > 0 {
            for chunk in block.chunks_exact_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes());
            }
            let n = usize::try_from(left.min(block.len() as u64))?;
            f.write_all(block.get(..n).ok_or("block")?)?;
            left -= n as u64;
        }
        f.flush()?;
        paths.push(p);
    }
    Ok(paths)
}

fn cpu_has_sha_ni() -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.split_whitespace().any(|w| w == "sha_ni"))
        .unwrap_or(false)
}

/// (best, median) of `times`.
fn best_median(times: &mut [Duration]) -> Res<(Duration, Duration)> {
    times.sort();
    let best = *times.first().ok_or("no run")?;
    let median = *times.get(times.len() / 2).ok_or("no run")?;
    Ok((best, median))
}

/// `openssl dgst -sha256` over `groups` of files, one process per group, all
/// at once; path → hex digest.
fn openssl(groups: &[Vec<PathBuf>]) -> Res<BTreeMap<PathBuf, String>> {
    let mut children = Vec::new();
    for g in groups.iter().filter(|g| !g.is_empty()) {
        let child = Command::new("openssl")
            .args(["dgst", "-sha256"])
            .args(g)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run openssl (is it installed?): {e}"))?;
        children.push(child);
    }
    let mut out = BTreeMap::new();
    for c in children {
        let o = c.wait_with_output()?;
        if !o.status.success() {
            return Err(format!("openssl failed: {}", o.status).into());
        }
        for line in String::from_utf8(o.stdout)?.lines() {
            // SHA2-256(PATH)= HEX
            let (head, hex) = line.rsplit_once("= ").ok_or("openssl output")?;
            let path = head
                .split_once('(')
                .and_then(|(_, p)| p.strip_suffix(')'))
                .ok_or("openssl output")?;
            out.insert(PathBuf::from(path), hex.to_string());
        }
    }
    Ok(out)
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn main() -> Res<()> {
    let total = env_u64("SEALBUILD_BENCH_BYTES", 1 << 30)?;
    let files = env_u64("SEALBUILD_BENCH_FILES", 64)?.max(1);
    let runs = usize::try_from(env_u64("SEALBUILD_BENCH_RUNS", 5)?)?;
    let size = total / files;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = match std::env::var_os("SEALBUILD_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    println!(
        "hash_throughput: {files} files x {size} bytes = {} MiB, {threads} hardware threads, CPU sha_ni: {}",
        (files * size) >> 20,
        if cpu_has_sha_ni() { "yes" } else { "no" }
    );
    let t = Instant::now();
    let paths = make_tree(dir.path(), files, size)?;
    let bytes = files * size;
    println!("  wrote the tree in {:.1} s", t.elapsed().as_secs_f64());
    // Warm the page cache for everybody (and check OpenSSL is there).
    let reference = openssl(std::slice::from_ref(&paths))?;

    let globs = vec!["out/*.bin".to_string()];
    let ours = |threads: usize| -> Res<Vec<HashedArtifact>> {
        Ok(hash_artifacts_with(
            dir.path(),
            &globs,
            &HashOptions {
                threads: Some(threads),
                progress: false,
            },
        )?)
    };
    let mut groups = vec![Vec::new(); threads];
    for (i, p) in paths.iter().enumerate() {
        if let Some(g) = groups.get_mut(i % threads) {
            g.push(p.clone());
        }
    }
    let single = [paths.clone()];

    // The contenders take turns within each round, so that load from other
    // processes on the machine spreads over all of them.
    const NAMES: usize = 4;
    let mut times: [Vec<Duration>; NAMES] = Default::default();
    let mut hashed = Vec::new();
    for round in 0..runs.max(1) {
        for k in 0..NAMES {
            let which = (round + k) % NAMES;
            let t = Instant::now();
            match which {
                0 => hashed = ours(threads)?,
                1 => {
                    ours(1)?;
                }
                2 => {
                    openssl(&single)?;
                }
                _ => {
                    openssl(&groups)?;
                }
            }
            if let Some(v) = times.get_mut(which) {
                v.push(t.elapsed());
            }
        }
    }
    let [t_pool, t_one, t_ossl1, t_ossln] = &mut times;
    let (pool_best, pool_med) = best_median(t_pool)?;
    let (one_best, one_med) = best_median(t_one)?;
    let (ossl1_best, ossl1_med) = best_median(t_ossl1)?;
    let (ossln_best, ossln_med) = best_median(t_ossln)?;

    // Same digests as OpenSSL.
    let mut mismatches = 0;
    for a in &hashed {
        if reference.get(&a.path).map(String::as_str) != Some(a.sha256_hex().as_str()) {
            eprintln!("  MISMATCH {}: ours {}", a.name, a.sha256_hex());
            mismatches += 1;
        }
    }
    if mismatches > 0 || hashed.len() != paths.len() {
        return Err(format!(
            "{mismatches} digests differ from OpenSSL's ({} hashed, {} files)",
            hashed.len(),
            paths.len()
        )
        .into());
    }

    println!("  {runs} interleaved runs each, page cache hot; MB/s = 10^6 bytes/s (best | median)");
    let rows = [
        (
            format!("hash_artifacts, {threads} threads"),
            pool_best,
            pool_med,
        ),
        ("hash_artifacts, 1 thread".to_string(), one_best, one_med),
        (
            "openssl dgst -sha256, 1 process".to_string(),
            ossl1_best,
            ossl1_med,
        ),
        (
            format!("openssl dgst -sha256, {threads} processes"),
            ossln_best,
            ossln_med,
        ),
    ];
    for (name, best, med) in &rows {
        println!(
            "  {name:<40} {:>8.0} MB/s | {:>8.0} MB/s",
            mbps(bytes, *best),
            mbps(bytes, *med)
        );
    }
    let ratio = |a: Duration, b: Duration| b.as_secs_f64() / a.as_secs_f64();
    println!("  ratios (best times; target >= 0.90):");
    println!(
        "    pool / openssl {threads} processes  {:.2}",
        ratio(pool_best, ossln_best)
    );
    println!(
        "    pool / openssl 1 process     {:.2}",
        ratio(pool_best, ossl1_best)
    );
    println!(
        "    1 thread / openssl 1 process {:.2}",
        ratio(one_best, ossl1_best)
    );
    println!("  all {} digests equal OpenSSL's", hashed.len());
    Ok(())
}
