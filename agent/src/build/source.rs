//! Source identity: what was built, named so that a relying party can check
//! it, and measured into the runtime event log before the build starts.
//!
//! # Git checkouts
//!
//! A source directory is a git checkout when it or one of its ancestors holds
//! a `.git` entry; then `git` must work on it (a checkout that git cannot read,
//! e.g. "dubious ownership", is an error, never silently a plain directory).
//! The identity comes from the `git` program, run with every `GIT_*`
//! environment variable removed, `GIT_OPTIONAL_LOCKS=0`, `LC_ALL=C` and
//! `-c core.fsmonitor=false -c core.fileMode=true`:
//!
//! * `commit` = `git rev-parse --verify HEAD^{commit}`, `tree` =
//!   `git rev-parse --verify HEAD^{tree}` (SHA-1 or SHA-256 object names);
//! * `remote` = `git remote get-url origin` when `origin` exists, with
//!   credentials removed (`https://user:token@host/…` → `https://host/…`;
//!   for other schemes only a password is removed);
//! * `subdir` = the source directory relative to the top level of the
//!   checkout, when they differ;
//! * the checkout is **dirty** when `git status --porcelain=v1 -z
//!   --untracked-files=normal --ignore-submodules=none` (limited by the
//!   exclusions) lists anything (modified, staged, deleted or untracked
//!   files, submodules not at the recorded commit), or when `git ls-files -v`
//!   shows an index entry marked assume-unchanged or skip-worktree (both hide
//!   modifications from `git status`).
//!
//! A clean checkout is named by its commit (in-toto DigestSet `gitCommit`).
//! A dirty checkout is **not** named by its commit: the sources that were
//! built are not the commit's. It is named by the [tree digest](super::tree)
//! of the checkout's top-level directory as it is on disk, every `.git`
//! entry and the exclusions left out, ignored files *included*; `HEAD` is
//! kept only as the base it was modified from.
//!
//! Files ignored by `.gitignore` do not make a checkout dirty and are not part
//! of a commit's identity, yet a build can read them (stale caches, vendored
//! binaries): a sealed build should start from a fresh clone.
//!
//! # Plain directories
//!
//! Any other directory is named by its tree digest (see [`super::tree`] for
//! the exact encoding).
//!
//! # The identity string
//!
//! [`SourceIdentity::identity_string`] is the one line measured into the
//! runtime register before the build, in one of three forms (values are
//! percent-encoded: every byte outside `A-Z a-z 0-9 - . _ ~ / : @ + ,` becomes
//! `%XX`; an absent value is `-`):
//!
//! ```text
//! sealbuild-source/v1 git commit=<hex> tree=<hex> subdir=<path|-> remote=<url|->
//! sealbuild-source/v1 git-dirty base=<hex> worktree-sha256=<hex> subdir=<path|-> remote=<url|->
//! sealbuild-source/v1 tree sha256=<hex>
//! ```
//!
//! Local paths of the build machine are deliberately not part of it: the same
//! sources give the same string wherever they are built.
//!
//! Names follow the in-toto Attestation Framework v1, DigestSet field type
//! v1.1 (`gitCommit`, `gitTree`, `sha256`), and the `git+<url>@<commit>`
//! resource URI convention of SLSA Provenance v1 `resolvedDependencies`.

use super::error::BuildError;
use super::tree::{relative_inside, tree_digest, TreeOptions};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Version prefix of [`SourceIdentity::identity_string`].
pub const IDENTITY_PREFIX: &str = "sealbuild-source/v1";

/// DigestSet algorithm name of the tree digest, as returned by
/// [`SourceIdentity::digest`].
///
/// in-toto DigestSet v1.1 reserves the plain hash names for "cases when the
/// method of serialization is obvious or well known"; the tree digest's
/// serialization is this project's (see [`super::tree`]). A consumer that
/// sees `sha256` must therefore know it names a `sealbuild/tree/v1` digest of
/// a directory (the resource URI is a `file:` directory).
pub const TREE_DIGEST_ALG: &str = "sha256";

/// What to leave out of the source identity.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// Paths left out of tree digests and of the git dirtiness check (e.g.
    /// the output directory when it is inside the source): absolute, or
    /// relative to the source directory; they need not exist.
    pub exclude: Vec<PathBuf>,
}

/// The state of a git checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitState {
    /// The working files are exactly `HEAD`'s (ignored files aside).
    Clean,
    /// Something differs from `HEAD`.
    Dirty {
        /// Tree digest of the working files (see the module documentation).
        worktree_sha256: [u8; 32],
    },
}

/// The identity of a git checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// `HEAD`'s commit, lowercase hex (40 or 64 digits).
    pub commit: String,
    /// `HEAD`'s tree, lowercase hex.
    pub tree: String,
    /// The `origin` remote's URL, credentials removed.
    pub remote: Option<String>,
    /// Canonical top-level directory of the checkout.
    pub toplevel: PathBuf,
    /// The source directory relative to `toplevel` (`/`-separated), when it
    /// is a subdirectory.
    pub subdir: Option<String>,
    /// Clean or dirty.
    pub state: GitState,
}

/// The identity of a plain directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeSource {
    /// Canonical path of the directory.
    pub path: PathBuf,
    /// Its tree digest.
    pub sha256: [u8; 32],
    /// Records in the digest.
    pub entries: u64,
}

/// What was built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceIdentity {
    /// A git checkout.
    Git(GitSource),
    /// A directory that is not in a git checkout.
    Tree(TreeSource),
}

impl SourceIdentity {
    /// `"git"` or `"tree"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Git(_) => "git",
            Self::Tree(_) => "tree",
        }
    }

    /// Whether this is a git checkout with modifications.
    pub fn dirty(&self) -> bool {
        matches!(
            self,
            Self::Git(GitSource {
                state: GitState::Dirty { .. },
                ..
            })
        )
    }

    /// The resource URI: `git+<remote>@<commit>[#<subdir>]` for a clean
    /// checkout (`git+file://<toplevel>@<commit>` without a remote);
    /// `file://<path>` of the tree that was digested otherwise (a dirty
    /// checkout: its top level). Paths are percent-encoded.
    pub fn uri(&self) -> String {
        match self {
            Self::Git(g) => match &g.state {
                GitState::Clean => {
                    let repo = match &g.remote {
                        Some(r) => r.clone(),
                        None => format!("file://{}", pct(g.toplevel.as_os_str().as_bytes())),
                    };
                    let frag = g
                        .subdir
                        .as_ref()
                        .map(|s| format!("#{}", pct(s.as_bytes())))
                        .unwrap_or_default();
                    format!("git+{repo}@{}{frag}", g.commit)
                }
                GitState::Dirty { .. } => {
                    format!("file://{}", pct(g.toplevel.as_os_str().as_bytes()))
                }
            },
            Self::Tree(t) => format!("file://{}", pct(t.path.as_os_str().as_bytes())),
        }
    }

    /// The one digest that names the source: `("gitCommit", commit)` for a
    /// clean checkout, `(TREE_DIGEST_ALG, tree digest)` otherwise.
    pub fn digest(&self) -> (&'static str, String) {
        match self {
            Self::Git(g) => match &g.state {
                GitState::Clean => ("gitCommit", g.commit.clone()),
                GitState::Dirty { worktree_sha256 } => {
                    (TREE_DIGEST_ALG, hex::encode(worktree_sha256))
                }
            },
            Self::Tree(t) => (TREE_DIGEST_ALG, hex::encode(t.sha256)),
        }
    }

    /// Every digest that names the source (a DigestSet): a clean checkout
    /// adds `gitTree`.
    pub fn digest_set(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![self.digest()];
        if let Self::Git(GitSource {
            tree,
            state: GitState::Clean,
            ..
        }) = self
        {
            v.push(("gitTree", tree.clone()));
        }
        v
    }

    /// The exact string measured into the runtime register (see the module
    /// documentation).
    pub fn identity_string(&self) -> String {
        let opt = |v: &Option<String>| v.as_ref().map_or("-".to_string(), |s| pct(s.as_bytes()));
        match self {
            Self::Git(g) => match &g.state {
                GitState::Clean => format!(
                    "{IDENTITY_PREFIX} git commit={} tree={} subdir={} remote={}",
                    g.commit,
                    g.tree,
                    opt(&g.subdir),
                    opt(&g.remote)
                ),
                GitState::Dirty { worktree_sha256 } => format!(
                    "{IDENTITY_PREFIX} git-dirty base={} worktree-sha256={} subdir={} remote={}",
                    g.commit,
                    hex::encode(worktree_sha256),
                    opt(&g.subdir),
                    opt(&g.remote)
                ),
            },
            Self::Tree(t) => format!("{IDENTITY_PREFIX} tree sha256={}", hex::encode(t.sha256)),
        }
    }
}

/// Percent-encodes every byte outside `A-Z a-z 0-9 - . _ ~ / : @ + ,`.
fn pct(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~/:@+,".contains(&b) {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Removes credentials from a remote URL: for `http`/`https` the whole
/// user-info part, for other `scheme://` URLs the password only. scp-like
/// (`user@host:path`) and local remotes are returned as they are.
pub fn redact_remote(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at_checked(i).unwrap_or((rest, "")),
        None => (rest, ""),
    };
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let http = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    if http {
        format!("{scheme}://{host}{path}")
    } else {
        let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
        format!("{scheme}://{user}@{host}{path}")
    }
}

/// [`identify_source`] with only exclusions (absolute, or relative to `dir`).
pub fn identify(dir: &Path, exclude: &[PathBuf]) -> Result<SourceIdentity, BuildError> {
    identify_source(
        dir,
        &SourceOptions {
            exclude: exclude.to_vec(),
        },
    )
}

/// Identifies the sources in `dir` (see the module documentation).
pub fn identify_source(dir: &Path, opts: &SourceOptions) -> Result<SourceIdentity, BuildError> {
    let dir = dir
        .canonicalize()
        .map_err(|e| BuildError::io("resolving the source directory", dir, e))?;
    if !std::fs::metadata(&dir).is_ok_and(|m| m.is_dir()) {
        return Err(BuildError::SourcePath {
            path: dir,
            reason: "not a directory".to_string(),
        });
    }
    match git_marker(&dir) {
        Some(marker) => identify_git(&dir, &marker, opts).map(SourceIdentity::Git),
        None => {
            let t = tree_digest(
                &dir,
                &TreeOptions {
                    exclude: absolute_excludes(&dir, &opts.exclude),
                    skip_git_dirs: false,
                    threads: None,
                },
            )?;
            Ok(SourceIdentity::Tree(TreeSource {
                path: dir,
                sha256: t.sha256,
                entries: t.entries,
            }))
        }
    }
}

fn absolute_excludes(base: &Path, exclude: &[PathBuf]) -> Vec<PathBuf> {
    exclude
        .iter()
        .map(|p| {
            if p.is_absolute() {
                p.clone()
            } else {
                base.join(p)
            }
        })
        .collect()
}

/// The nearest `.git` entry at or above `dir`.
fn git_marker(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|a| a.join(".git"))
        .find(|m| std::fs::symlink_metadata(m).is_ok())
}

struct Git<'a> {
    dir: &'a Path,
    marker: &'a Path,
}

impl Git<'_> {
    fn command(&self, args: &[&OsStr]) -> Command {
        let mut c = Command::new("git");
        for (k, _) in std::env::vars_os() {
            if k.as_bytes().starts_with(b"GIT_") {
                c.env_remove(&k);
            }
        }
        c.env("GIT_OPTIONAL_LOCKS", "0")
            .env("LC_ALL", "C")
            .arg("-C")
            .arg(self.dir)
            .args(["-c", "core.fsmonitor=false", "-c", "core.fileMode=true"])
            .args(args)
            .stdin(std::process::Stdio::null());
        c
    }

    fn args_text(args: &[&OsStr]) -> String {
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs git; `Ok((success, stdout, stderr))`.
    fn run(&self, args: &[&OsStr]) -> Result<(bool, Vec<u8>, String), BuildError> {
        let out = self
            .command(args)
            .output()
            .map_err(|source| BuildError::GitUnavailable {
                dir: self.dir.to_path_buf(),
                marker: self.marker.to_path_buf(),
                source,
            })?;
        Ok((
            out.status.success(),
            out.stdout,
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }

    /// Runs git and requires success.
    fn ok(&self, args: &[&str]) -> Result<Vec<u8>, BuildError> {
        let os: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        self.ok_os(&os)
    }

    fn ok_os(&self, args: &[&OsStr]) -> Result<Vec<u8>, BuildError> {
        let (success, stdout, stderr) = self.run(args)?;
        if success {
            Ok(stdout)
        } else {
            Err(BuildError::Git {
                args: Self::args_text(args),
                dir: self.dir.to_path_buf(),
                detail: if stderr.is_empty() {
                    "failed without a message".to_string()
                } else {
                    stderr
                },
            })
        }
    }

    /// An object name on one line.
    fn object_name(&self, args: &[&str]) -> Result<String, BuildError> {
        let out = self.ok(args)?;
        let s = String::from_utf8_lossy(&out);
        let s = s.trim_end_matches('\n');
        let valid = (s.len() == 40 || s.len() == 64)
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if valid {
            Ok(s.to_string())
        } else {
            Err(BuildError::GitOutput {
                args: args.join(" "),
                dir: self.dir.to_path_buf(),
                expected: "one object name of 40 or 64 lowercase hex digits",
                got: s.to_string(),
            })
        }
    }
}

fn identify_git(dir: &Path, marker: &Path, opts: &SourceOptions) -> Result<GitSource, BuildError> {
    let g = Git { dir, marker };
    let top_raw = g.ok(&["rev-parse", "--show-toplevel"])?;
    let top_raw = top_raw.strip_suffix(b"\n").unwrap_or(&top_raw);
    if top_raw.is_empty() {
        return Err(BuildError::GitOutput {
            args: "rev-parse --show-toplevel".to_string(),
            dir: dir.to_path_buf(),
            expected: "the top-level directory of a work tree",
            got: String::new(),
        });
    }
    let toplevel = Path::new(OsStr::from_bytes(top_raw))
        .canonicalize()
        .map_err(|e| {
            BuildError::io(
                "resolving the checkout's top level",
                OsStr::from_bytes(top_raw),
                e,
            )
        })?;
    let subdir = match dir.strip_prefix(&toplevel) {
        Ok(rel) if rel.as_os_str().is_empty() => None,
        Ok(rel) => Some(
            rel.to_str()
                .ok_or_else(|| BuildError::NonUtf8Path {
                    path: dir.to_path_buf(),
                })?
                .to_string(),
        ),
        Err(_) => {
            return Err(BuildError::GitOutput {
                args: "rev-parse --show-toplevel".to_string(),
                dir: dir.to_path_buf(),
                expected: "a directory containing the source directory",
                got: toplevel.display().to_string(),
            })
        }
    };
    let top = Git {
        dir: &toplevel,
        marker,
    };

    let (has_head, _, _) = top.run(&[
        OsStr::new("rev-parse"),
        OsStr::new("--verify"),
        OsStr::new("-q"),
        OsStr::new("HEAD^{commit}"),
    ])?;
    if !has_head {
        return Err(BuildError::UnbornHead { dir: toplevel });
    }
    let commit = top.object_name(&["rev-parse", "--verify", "HEAD^{commit}"])?;
    let tree = top.object_name(&["rev-parse", "--verify", "HEAD^{tree}"])?;

    // Exclusions as literal pathspecs relative to the top level.
    let mut pathspec: Vec<std::ffi::OsString> = vec![".".into()];
    let abs_ex = absolute_excludes(dir, &opts.exclude);
    for ex in &abs_ex {
        if let Some(rel) = relative_inside(&toplevel, &toplevel, ex)? {
            if rel.as_os_str().is_empty() {
                return Err(BuildError::SourcePath {
                    path: ex.clone(),
                    reason: format!(
                        "excluding it would exclude the whole checkout {}",
                        toplevel.display()
                    ),
                });
            }
            let mut spec = std::ffi::OsString::from(":(exclude,literal)");
            spec.push(rel.as_os_str());
            pathspec.push(spec);
        }
    }

    let mut status_args: Vec<&OsStr> = [
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=normal",
        "--ignore-submodules=none",
        "--",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    status_args.extend(pathspec.iter().map(|s| s.as_os_str()));
    let status = top.ok_os(&status_args)?;

    let mut ls_args: Vec<&OsStr> = ["ls-files", "-v", "-z", "--"]
        .iter()
        .map(OsStr::new)
        .collect();
    ls_args.extend(pathspec.iter().map(|s| s.as_os_str()));
    let listing = top.ok_os(&ls_args)?;
    let hidden = listing
        .split(|b| *b == 0)
        .filter_map(|rec| rec.first())
        .any(|tag| *tag == b'S' || tag.is_ascii_lowercase());

    let remote = remote_url(&top)?;

    let state = if status.is_empty() && !hidden {
        GitState::Clean
    } else {
        let t = tree_digest(
            &toplevel,
            &TreeOptions {
                exclude: abs_ex,
                skip_git_dirs: true,
                threads: None,
            },
        )?;
        GitState::Dirty {
            worktree_sha256: t.sha256,
        }
    };
    Ok(GitSource {
        commit,
        tree,
        remote,
        toplevel,
        subdir,
        state,
    })
}

fn remote_url(g: &Git<'_>) -> Result<Option<String>, BuildError> {
    let remotes = g.ok(&["remote"])?;
    let has_origin = remotes.split(|b| *b == b'\n').any(|r| r == b"origin");
    if !has_origin {
        return Ok(None);
    }
    let url = g.ok(&["remote", "get-url", "origin"])?;
    let url = String::from_utf8(url).map_err(|e| BuildError::GitOutput {
        args: "remote get-url origin".to_string(),
        dir: g.dir.to_path_buf(),
        expected: "a UTF-8 URL",
        got: String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })?;
    let url = url.trim_end_matches('\n');
    if url.is_empty() || url.contains('\n') {
        return Err(BuildError::GitOutput {
            args: "remote get-url origin".to_string(),
            dir: g.dir.to_path_buf(),
            expected: "one URL",
            got: url.to_string(),
        });
    }
    Ok(Some(redact_remote(url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_lose_credentials() {
        assert_eq!(
            redact_remote("https://user:tok@example.invalid/org/r.git"),
            "https://example.invalid/org/r.git"
        );
        assert_eq!(
            redact_remote("https://ghp_TOKEN@example.invalid/r.git"),
            "https://example.invalid/r.git"
        );
        assert_eq!(
            redact_remote("HTTP://a@b@example.invalid:8080/r?x=1"),
            "HTTP://example.invalid:8080/r?x=1"
        );
        assert_eq!(
            redact_remote("ssh://git:pw@example.invalid/r.git"),
            "ssh://git@example.invalid/r.git"
        );
        assert_eq!(
            redact_remote("ssh://git@example.invalid/r.git"),
            "ssh://git@example.invalid/r.git"
        );
        assert_eq!(
            redact_remote("git@example.invalid:org/r.git"),
            "git@example.invalid:org/r.git"
        );
        assert_eq!(redact_remote("/srv/git/r.git"), "/srv/git/r.git");
        assert_eq!(
            redact_remote("https://example.invalid/a@b"),
            "https://example.invalid/a@b"
        );
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(pct(b"a b=c%/d"), "a%20b%3Dc%25/d");
        assert_eq!(pct(b"\xff\n"), "%FF%0A");
        assert_eq!(pct(b"x-y_z.~:@+,"), "x-y_z.~:@+,");
    }
}
