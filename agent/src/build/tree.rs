//! Deterministic digest of a directory tree: the source identity of a plain
//! directory, and of the working files of a modified git checkout.
//!
//! # Encoding (`sealbuild/tree/v1`)
//!
//! The tree below `root` is walked without following symbolic links. Every
//! entry except `root` itself becomes a record; records are sorted by their
//! path bytes (unsigned bytewise comparison of the whole relative path, as
//! `LC_ALL=C sort` does) and hashed in that order:
//!
//! ```text
//! digest = SHA-256( "sealbuild/tree/v1" || 0x00 || record_1 || … || record_n )
//!
//! record = type        1 byte: 'F' (0x46) regular file,
//!                              'L' (0x4c) symbolic link,
//!                              'D' (0x44) directory
//!       || u32be(len(path)) || path
//!                      the entry's path relative to root, components
//!                      joined by '/', no leading "./", raw bytes (not
//!                      necessarily UTF-8)
//!       || u32be(mode) st_mode & 0o7777 (permission, setuid, setgid and
//!                      sticky bits; symbolic links: as lstat(2) reports)
//!       || u64be(size) F: content length; L: length of the link target;
//!                      D: 0
//!       || payload     F: SHA-256 of the content (32 bytes);
//!                      L: the link target bytes, exactly as readlink(2)
//!                         returns them (size bytes);
//!                      D: nothing
//! ```
//!
//! Timestamps, owners, link counts and extended attributes are not part of
//! the digest: the same tree copied elsewhere (e.g. `cp -a`, `tar`) has the
//! same digest. Modes are: a tree checked out under a different umask has a
//! different digest. Other file types (fifos, sockets, devices) are refused;
//! exclude them. All integers are big-endian.
//!
//! Exclusions: a path listed in [`TreeOptions::exclude`] is left out with
//! everything below it (the entry itself included). With
//! [`TreeOptions::skip_git_dirs`], every entry named `.git` (a repository
//! directory or a gitlink file) is left out with everything below it.

use super::error::{file_kind, BuildError};
use super::hash::{hash_many, thread_count, HashJob};
use sha2::{Digest, Sha256};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// Domain separation prefix of the tree digest (followed by one NUL byte).
pub const TREE_DIGEST_DOMAIN: &[u8] = b"sealbuild/tree/v1\0";

/// What to leave out of a tree digest.
#[derive(Debug, Clone, Default)]
pub struct TreeOptions {
    /// Paths to leave out (each with everything below it): absolute, or
    /// relative to the tree's root. Paths outside the tree are ignored; they
    /// need not exist.
    pub exclude: Vec<PathBuf>,
    /// Leave out every entry named `.git`.
    pub skip_git_dirs: bool,
    /// Hashing threads; `None` = available parallelism.
    pub threads: Option<usize>,
}

/// A computed tree digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeDigest {
    /// The digest (see the module documentation).
    pub sha256: [u8; 32],
    /// Number of records hashed.
    pub entries: u64,
    /// Total bytes of regular-file content hashed.
    pub content_bytes: u64,
}

#[derive(Debug)]
enum Kind {
    File { abs: PathBuf },
    Link { target: Vec<u8> },
    Dir,
}

#[derive(Debug)]
struct Entry {
    rel: Vec<u8>,
    mode: u32,
    size: u64,
    kind: Kind,
}

/// Computes the tree digest of `root` (a directory; its own canonical path is
/// walked).
pub fn tree_digest(root: &Path, opts: &TreeOptions) -> Result<TreeDigest, BuildError> {
    let root = root
        .canonicalize()
        .map_err(|e| BuildError::io("resolving", root, e))?;
    let meta = std::fs::metadata(&root).map_err(|e| BuildError::io("reading", &root, e))?;
    if !meta.is_dir() {
        return Err(BuildError::SourcePath {
            path: root,
            reason: "not a directory".to_string(),
        });
    }
    let mut excluded: Vec<Vec<u8>> = Vec::new();
    for ex in &opts.exclude {
        if let Some(rel) = relative_inside(&root, &root, ex)? {
            if rel.as_os_str().is_empty() {
                return Err(BuildError::SourcePath {
                    path: ex.clone(),
                    reason: format!(
                        "excluding it would exclude the whole tree {}",
                        root.display()
                    ),
                });
            }
            excluded.push(rel.as_os_str().as_bytes().to_vec());
        }
    }
    let is_excluded = |rel: &[u8]| {
        excluded.iter().any(|ex| {
            rel.strip_prefix(ex.as_slice())
                .is_some_and(|rest| rest.is_empty() || rest.first() == Some(&b'/'))
        })
    };

    let mut entries: Vec<Entry> = Vec::new();
    let mut stack: Vec<(PathBuf, Vec<u8>)> = vec![(root.clone(), Vec::new())];
    while let Some((dir, rel_dir)) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|e| BuildError::io("listing", &dir, e))?;
        for item in rd {
            let item = item.map_err(|e| BuildError::io("listing", &dir, e))?;
            let name = item.file_name();
            let abs = item.path();
            let mut rel = rel_dir.clone();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(name.as_bytes());
            if (opts.skip_git_dirs && name.as_bytes() == b".git") || is_excluded(&rel) {
                continue;
            }
            // DirEntry::metadata does not follow symbolic links (lstat).
            let m = item
                .metadata()
                .map_err(|e| BuildError::io("reading", &abs, e))?;
            let ft = m.file_type();
            let mode = m.permissions().mode() & 0o7777;
            if ft.is_file() {
                entries.push(Entry {
                    rel,
                    mode,
                    size: m.len(),
                    kind: Kind::File { abs },
                });
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&abs)
                    .map_err(|e| BuildError::io("reading link", &abs, e))?
                    .into_os_string()
                    .into_vec();
                entries.push(Entry {
                    rel,
                    mode,
                    size: target.len() as u64,
                    kind: Kind::Link { target },
                });
            } else if ft.is_dir() {
                entries.push(Entry {
                    rel: rel.clone(),
                    mode,
                    size: 0,
                    kind: Kind::Dir,
                });
                stack.push((abs, rel));
            } else {
                return Err(BuildError::UnsupportedFileType {
                    path: abs,
                    kind: file_kind(&ft),
                });
            }
        }
    }
    entries.sort_by(|a, b| a.rel.cmp(&b.rel));

    let jobs: Vec<HashJob> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::File { abs } => Some(HashJob {
                path: abs.clone(),
                size: e.size,
            }),
            _ => None,
        })
        .collect();
    let content_bytes = jobs.iter().map(|j| j.size).sum();
    let mut digests = hash_many(&jobs, thread_count(opts.threads), None)?.into_iter();

    let mut h = Sha256::new();
    h.update(TREE_DIGEST_DOMAIN);
    for e in &entries {
        let len = u32::try_from(e.rel.len()).map_err(|_| BuildError::SourcePath {
            path: PathBuf::from(std::ffi::OsStr::from_bytes(&e.rel)),
            reason: "path longer than 2^32-1 bytes".to_string(),
        })?;
        let tag = match e.kind {
            Kind::File { .. } => b'F',
            Kind::Link { .. } => b'L',
            Kind::Dir => b'D',
        };
        h.update([tag]);
        h.update(len.to_be_bytes());
        h.update(&e.rel);
        h.update(e.mode.to_be_bytes());
        h.update(e.size.to_be_bytes());
        match &e.kind {
            Kind::File { abs } => {
                let d = digests.next().ok_or_else(|| {
                    BuildError::Worker(format!("no digest for {}", abs.display()))
                })?;
                h.update(d);
            }
            Kind::Link { target } => h.update(target),
            Kind::Dir => {}
        }
    }
    Ok(TreeDigest {
        sha256: h.finalize().into(),
        entries: entries.len() as u64,
        content_bytes,
    })
}

/// `path` (absolute, or relative to `base`) relative to `root`, or `None` if
/// it is not inside `root`. `root` and `base` must be canonical. The part of
/// `path` that exists is canonicalized (symbolic links resolved); the rest is
/// normalized lexically, so paths that do not exist yet (an output directory
/// before the build) work.
pub(crate) fn relative_inside(
    root: &Path,
    base: &Path,
    path: &Path,
) -> Result<Option<PathBuf>, BuildError> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    let resolved = canonicalize_lenient(&abs)?;
    Ok(resolved.strip_prefix(root).ok().map(Path::to_path_buf))
}

fn canonicalize_lenient(abs: &Path) -> Result<PathBuf, BuildError> {
    // Find the longest prefix that exists.
    let comps: Vec<Component<'_>> = abs.components().collect();
    for split in (0..=comps.len()).rev() {
        let (head, tail) = comps.split_at_checked(split).unwrap_or((&comps, &[]));
        let prefix: PathBuf = head.iter().collect();
        if prefix.as_os_str().is_empty() {
            continue;
        }
        match prefix.canonicalize() {
            Ok(mut out) => {
                for c in tail {
                    match c {
                        Component::ParentDir => {
                            out.pop();
                        }
                        Component::CurDir => {}
                        other => out.push(other.as_os_str()),
                    }
                }
                return Ok(out);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => continue,
            Err(e) => return Err(BuildError::io("resolving", prefix, e)),
        }
    }
    Err(BuildError::SourcePath {
        path: abs.to_path_buf(),
        reason: "no part of the path exists".to_string(),
    })
}
