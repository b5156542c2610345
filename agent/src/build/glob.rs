//! Artifact globs: which files of the build directory are the build's outputs.
//!
//! A glob is a relative, `/`-separated pattern resolved inside the build
//! directory. Syntax (the POSIX shell pattern notation of IEEE Std 1003.1-2017,
//! XCU §2.13 "Pattern Matching Notation", plus `**`):
//!
//! | token | matches |
//! |---|---|
//! | `*` | any run of characters within one path component (also none) |
//! | `?` | exactly one character |
//! | `[abc]`, `[a-z]` | one character of the set; `[!…]` or `[^…]` negates; a `]` right after `[` (or `[!`) is literal |
//! | `**` (a whole component) | zero or more path components |
//! | anything else | itself (there is no backslash escape: write `[*]` for a literal `*`) |
//!
//! Rules that keep the result inside the build directory and unambiguous:
//!
//! * absolute globs and `..` components are refused; `.` and empty components
//!   are ignored; a glob naming the build directory itself is refused;
//! * there is no special case for names starting with `.`: `*` matches them;
//! * only regular files are artifacts. A matched directory contributes nothing
//!   (use `dir/**`); wildcards and `**` never descend into a symbolic link to a
//!   directory (no cycles, no escapes);
//! * a matched symbolic link is followed: it must resolve to a regular file
//!   inside the build directory (otherwise the glob is refused) and is named
//!   by the link's path;
//! * fifos, sockets and devices are refused (reading them could block or lie);
//! * every glob must match at least one regular file;
//! * names are `/`-separated paths relative to the build directory and must be
//!   UTF-8 (statements name subjects with JSON strings).

use super::error::{file_kind, BuildError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One character-level token of a path-component pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`
    One,
    /// `*`
    Star,
    /// `[...]`
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Tok {
    fn matches_char(&self, c: char) -> bool {
        match self {
            Tok::Lit(l) => *l == c,
            Tok::One => true,
            Tok::Star => false,
            Tok::Class { negated, ranges } => {
                ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
            }
        }
    }
}

/// One `/`-separated component of a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    /// No metacharacters: matched by name, without listing the directory.
    Literal(String),
    /// A component pattern.
    Pattern(Vec<Tok>),
    /// `**`: zero or more components.
    AnyDepth,
}

/// A parsed artifact glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    text: String,
    segs: Vec<Seg>,
}

impl Glob {
    /// Parses `text` (see the module documentation for the syntax).
    pub fn parse(text: &str) -> Result<Self, BuildError> {
        let invalid = |reason: &str| BuildError::InvalidGlob {
            glob: text.to_string(),
            reason: reason.to_string(),
        };
        if text.is_empty() {
            return Err(invalid("empty pattern"));
        }
        if text.starts_with('/') {
            return Err(invalid(
                "absolute patterns are not allowed: globs are relative to the build directory",
            ));
        }
        if text.contains('\0') {
            return Err(invalid("contains a NUL character"));
        }
        let mut segs: Vec<Seg> = Vec::new();
        for comp in text.split('/') {
            match comp {
                "" | "." => continue,
                ".." => return Err(invalid(
                    "'..' components are not allowed: the pattern would leave the build directory",
                )),
                "**" => {
                    if segs.last() != Some(&Seg::AnyDepth) {
                        segs.push(Seg::AnyDepth);
                    }
                }
                _ => segs.push(parse_component(comp).map_err(|r| invalid(&r))?),
            }
        }
        if segs.is_empty() {
            return Err(invalid("the pattern names the build directory itself"));
        }
        Ok(Self {
            text: text.to_string(),
            segs,
        })
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the `/`-separated relative path `rel` matches (pure: no file
    /// system access; the resolver's walk gives the same answers).
    pub fn matches(&self, rel: &str) -> bool {
        let comps: Vec<&str> = rel
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        match_segs(&self.segs, &comps)
    }
}

fn parse_component(comp: &str) -> Result<Seg, String> {
    if !comp.contains(['*', '?', '[']) {
        return Ok(Seg::Literal(comp.to_string()));
    }
    let mut toks = Vec::new();
    let mut chars = comp.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                if toks.last() != Some(&Tok::Star) {
                    toks.push(Tok::Star);
                }
            }
            '?' => toks.push(Tok::One),
            '[' => {
                let negated = matches!(chars.peek(), Some('!') | Some('^'));
                if negated {
                    chars.next();
                }
                let mut ranges = Vec::new();
                let mut first = true;
                let mut closed = false;
                while let Some(c) = chars.next() {
                    if c == ']' && !first {
                        closed = true;
                        break;
                    }
                    first = false;
                    let mut lookahead = chars.clone();
                    if lookahead.next() == Some('-') {
                        if let Some(hi) = lookahead.next().filter(|h| *h != ']') {
                            if hi < c {
                                return Err(format!("character range {c}-{hi} is reversed"));
                            }
                            chars.next();
                            chars.next();
                            ranges.push((c, hi));
                            continue;
                        }
                    }
                    ranges.push((c, c));
                }
                if !closed {
                    return Err("unclosed '[' character class".to_string());
                }
                toks.push(Tok::Class { negated, ranges });
            }
            other => toks.push(Tok::Lit(other)),
        }
    }
    Ok(Seg::Pattern(toks))
}

/// Matches one path component against a token list (`*` backtracking).
fn match_component(toks: &[Tok], name: &str) -> bool {
    let name: Vec<char> = name.chars().collect();
    let (mut t, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        match toks.get(t) {
            Some(Tok::Star) => {
                star = Some((t, n));
                t += 1;
                continue;
            }
            Some(tok) => {
                if let Some(c) = name.get(n) {
                    if tok.matches_char(*c) {
                        t += 1;
                        n += 1;
                        continue;
                    }
                }
            }
            None => {
                if n == name.len() {
                    return true;
                }
            }
        }
        match star {
            Some((st, sn)) if sn < name.len() => {
                star = Some((st, sn + 1));
                t = st + 1;
                n = sn + 1;
            }
            _ => return false,
        }
    }
}

fn seg_matches(seg: &Seg, name: &str) -> bool {
    match seg {
        Seg::Literal(l) => l == name,
        Seg::Pattern(toks) => match_component(toks, name),
        Seg::AnyDepth => true,
    }
}

fn match_segs(segs: &[Seg], comps: &[&str]) -> bool {
    match segs.split_first() {
        None => comps.is_empty(),
        Some((Seg::AnyDepth, rest)) => {
            // `**` takes 0..=len components.
            let mut tail = comps;
            loop {
                if match_segs(rest, tail) {
                    return true;
                }
                match tail.split_first() {
                    Some((_, t)) => tail = t,
                    None => return false,
                }
            }
        }
        Some((seg, rest)) => match comps.split_first() {
            Some((c, tail)) => seg_matches(seg, c) && match_segs(rest, tail),
            None => false,
        },
    }
}

/// A regular file an artifact glob selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFile {
    /// Path relative to the build directory, `/`-separated (the subject name).
    pub name: String,
    /// The file that is read: the canonical path (for a symbolic link, its
    /// resolved target).
    pub path: PathBuf,
    /// Size in bytes when resolved.
    pub size: u64,
}

/// Resolves `globs` inside `root` to a sorted (by name, bytewise),
/// deduplicated list of regular files. Every glob must match at least one.
pub fn resolve_artifacts(root: &Path, globs: &[String]) -> Result<Vec<ArtifactFile>, BuildError> {
    let parsed = globs
        .iter()
        .map(|g| Glob::parse(g))
        .collect::<Result<Vec<_>, _>>()?;
    if parsed.is_empty() {
        return Err(BuildError::InvalidGlob {
            glob: String::new(),
            reason: "no artifact globs given: a build must name its outputs".to_string(),
        });
    }
    let canon_root = root
        .canonicalize()
        .map_err(|e| BuildError::io("resolving the build directory", root, e))?;
    let meta = std::fs::metadata(&canon_root)
        .map_err(|e| BuildError::io("reading the build directory", &canon_root, e))?;
    if !meta.is_dir() {
        return Err(BuildError::io(
            "reading the build directory",
            &canon_root,
            std::io::Error::other("not a directory"),
        ));
    }
    let mut all: BTreeMap<String, ArtifactFile> = BTreeMap::new();
    for glob in &parsed {
        let mut w = Walk {
            glob,
            root: &canon_root,
            files: Vec::new(),
            dirs: Vec::new(),
            linked_dirs: Vec::new(),
        };
        w.expand(&canon_root, "", &glob.segs)?;
        if w.files.is_empty() {
            return Err(BuildError::GlobMatchedNothing {
                glob: glob.text.clone(),
                root: canon_root.clone(),
                hint: w.hint(),
            });
        }
        for f in w.files {
            all.entry(f.name.clone()).or_insert(f);
        }
    }
    Ok(all.into_values().collect())
}

struct Walk<'a> {
    glob: &'a Glob,
    root: &'a Path,
    files: Vec<ArtifactFile>,
    dirs: Vec<String>,
    linked_dirs: Vec<String>,
}

fn join_rel(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

impl Walk<'_> {
    fn hint(&self) -> String {
        let list = |v: &[String]| {
            let mut s: Vec<&str> = v.iter().map(String::as_str).take(5).collect();
            s.sort_unstable();
            let more = if v.len() > 5 { ", …" } else { "" };
            format!("{}{more}", s.join(", "))
        };
        let mut hint = String::new();
        if !self.dirs.is_empty() {
            hint.push_str(&format!(
                "; it matches only directories ({}): use DIR/** for their contents",
                list(&self.dirs)
            ));
        }
        if !self.linked_dirs.is_empty() {
            hint.push_str(&format!(
                "; globs do not descend into symbolic links to directories ({})",
                list(&self.linked_dirs)
            ));
        }
        hint
    }

    /// `dir` is a real directory (not a link); match `segs` below it.
    fn expand(&mut self, dir: &Path, rel: &str, segs: &[Seg]) -> Result<(), BuildError> {
        let Some((first, rest)) = segs.split_first() else {
            return Ok(());
        };
        match first {
            Seg::Literal(name) => {
                let child = dir.join(name);
                match std::fs::symlink_metadata(&child) {
                    Ok(m) => self.visit(&child, &join_rel(rel, name), &m, rest),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(BuildError::io("reading", child, e)),
                }
            }
            Seg::Pattern(_) => {
                for (child, name, m) in list_dir(dir)? {
                    if seg_matches(first, &name) {
                        let name = utf8_name(&child, &name)?;
                        self.visit(&child, &join_rel(rel, &name), &m, rest)?;
                    }
                }
                Ok(())
            }
            Seg::AnyDepth => {
                // `**` takes zero components here (with nothing after it, that
                // would match `dir` itself, which is not a file)…
                if !rest.is_empty() {
                    self.expand(dir, rel, rest)?;
                }
                // …or one more component, and stays.
                for (child, name, m) in list_dir(dir)? {
                    if m.is_dir() {
                        let name = utf8_name(&child, &name)?;
                        self.expand(&child, &join_rel(rel, &name), segs)?;
                    } else if rest.is_empty() {
                        let name = utf8_name(&child, &name)?;
                        self.visit(&child, &join_rel(rel, &name), &m, rest)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// `path` (named `rel`, lstat `m`) matched the segments so far.
    fn visit(
        &mut self,
        path: &Path,
        rel: &str,
        m: &std::fs::Metadata,
        rest: &[Seg],
    ) -> Result<(), BuildError> {
        let ft = m.file_type();
        if !rest.is_empty() {
            if ft.is_dir() {
                return self.expand(path, rel, rest);
            }
            if ft.is_symlink() && std::fs::metadata(path).is_ok_and(|t| t.is_dir()) {
                self.linked_dirs.push(rel.to_string());
            }
            return Ok(());
        }
        if ft.is_dir() {
            self.dirs.push(rel.to_string());
            return Ok(());
        }
        if ft.is_file() {
            self.files.push(ArtifactFile {
                name: rel.to_string(),
                path: path.to_path_buf(),
                size: m.len(),
            });
            return Ok(());
        }
        if ft.is_symlink() {
            let target = match path.canonicalize() {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(BuildError::DanglingSymlink {
                        glob: self.glob.text.clone(),
                        path: path.to_path_buf(),
                    })
                }
                Err(e) => return Err(BuildError::io("resolving", path, e)),
            };
            let tm = std::fs::symlink_metadata(&target)
                .map_err(|e| BuildError::io("reading", &target, e))?;
            if tm.is_dir() {
                self.linked_dirs.push(rel.to_string());
                return Ok(());
            }
            if !target.starts_with(self.root) {
                return Err(BuildError::PathEscapes {
                    glob: self.glob.text.clone(),
                    name: rel.to_string(),
                    target,
                    root: self.root.to_path_buf(),
                });
            }
            if !tm.is_file() {
                return Err(BuildError::NotRegularFile {
                    glob: self.glob.text.clone(),
                    path: path.to_path_buf(),
                    kind: file_kind(&tm.file_type()),
                });
            }
            self.files.push(ArtifactFile {
                name: rel.to_string(),
                path: target,
                size: tm.len(),
            });
            return Ok(());
        }
        Err(BuildError::NotRegularFile {
            glob: self.glob.text.clone(),
            path: path.to_path_buf(),
            kind: file_kind(&ft),
        })
    }
}

/// The entries of `dir`: path, name (lossy, for matching) and lstat metadata.
fn list_dir(dir: &Path) -> Result<Vec<(PathBuf, String, std::fs::Metadata)>, BuildError> {
    let rd = std::fs::read_dir(dir).map_err(|e| BuildError::io("listing", dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| BuildError::io("listing", dir, e))?;
        let path = entry.path();
        // DirEntry::metadata does not follow symbolic links.
        let m = entry
            .metadata()
            .map_err(|e| BuildError::io("reading", &path, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        out.push((path, name, m));
    }
    Ok(out)
}

/// A matched name must be exactly representable as a string.
fn utf8_name(path: &Path, lossy: &str) -> Result<String, BuildError> {
    match path.file_name().and_then(|n| n.to_str()) {
        Some(n) if n == lossy => Ok(n.to_string()),
        _ => Err(BuildError::NonUtf8Path {
            path: path.to_path_buf(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_patterns() {
        let g = |p: &str, s: &str| Glob::parse(p).unwrap().matches(s);
        assert!(g("*.tar.gz", "a.tar.gz"));
        assert!(g("*.tar.gz", ".tar.gz"));
        assert!(!g("*.tar.gz", "a.tar.gzx"));
        assert!(!g("*.tar.gz", "d/a.tar.gz"));
        assert!(g("a?c", "abc"));
        assert!(!g("a?c", "ac"));
        assert!(g("a?c", "a\u{e9}c"));
        assert!(g("[ab]x", "bx"));
        assert!(!g("[!ab]x", "bx"));
        assert!(g("[^ab]x", "cx"));
        assert!(g("[a-c]", "b"));
        assert!(!g("[a-c]", "d"));
        assert!(g("[]]", "]"));
        assert!(g("[a-]", "-"));
        assert!(g("[*]", "*"));
        assert!(!g("[*]", "x"));
        assert!(g("*a*b*", "xxaybzz"));
        assert!(!g("*a*b*", "xxbyazz"));
        assert!(g("**", "a/b/c"));
        assert!(g("a/**", "a/b/c"));
        assert!(!g("a/**/c", "a/b/d"));
        assert!(g("a/**/c", "a/c"));
        assert!(g("a/**/c", "a/x/y/c"));
        assert!(g("**/*.o", "x.o"));
        assert!(g("**/*.o", "d/e/x.o"));
        assert!(g("./out//x", "out/x"));
    }

    #[test]
    fn refused_patterns() {
        for p in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            ".",
            "./",
            "a[b",
            "[z-a]",
            "a\0b",
        ] {
            assert!(
                matches!(Glob::parse(p), Err(BuildError::InvalidGlob { .. })),
                "{p:?} was accepted"
            );
        }
    }
}
