//! The `sealbuild/tree/v1` tree digest: independent of where the tree is and
//! of timestamps, sensitive to every byte, mode, name and link target,
//! equal to an independent Python implementation of the documented
//! encoding, and honest about exclusions and unsupported file types.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod build_support;

use build_support::*;
use sealbuild_agent::build::{tree_digest, BuildError, TreeOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The documented encoding, written from the module documentation only.
const PY_TREE_DIGEST: &str = r#"
import hashlib, os, stat, struct, sys
root = os.fsencode(sys.argv[1])
excl = [os.fsencode(x) for x in sys.argv[2:]]
recs = []
def walk(rel):
    for name in os.listdir(os.path.join(root, rel) if rel else root):
        r = rel + b'/' + name if rel else name
        if any(r == e or r.startswith(e + b'/') for e in excl):
            continue
        p = os.path.join(root, r)
        st = os.lstat(p)
        mode = stat.S_IMODE(st.st_mode)
        head = struct.pack('>I', len(r)) + r
        if stat.S_ISREG(st.st_mode):
            with open(p, 'rb') as f:
                c = f.read()
            recs.append((r, b'F' + head + struct.pack('>IQ', mode, len(c)) + hashlib.sha256(c).digest()))
        elif stat.S_ISLNK(st.st_mode):
            t = os.readlink(p)
            recs.append((r, b'L' + head + struct.pack('>IQ', mode, len(t)) + t))
        elif stat.S_ISDIR(st.st_mode):
            recs.append((r, b'D' + head + struct.pack('>IQ', mode, 0)))
            walk(r)
        else:
            raise SystemExit('unsupported file type: %r' % p)
walk(b'')
recs.sort(key=lambda x: x[0])
h = hashlib.sha256(b'sealbuild/tree/v1\x00')
for _, rec in recs:
    h.update(rec)
print(h.hexdigest())
"#;

fn py_digest(root: &Path, exclude: &[&str]) -> String {
    let mut args = vec![root.to_str().unwrap()];
    args.extend_from_slice(exclude);
    python(PY_TREE_DIGEST, &args)
}

fn digest(root: &Path) -> String {
    hex::encode(tree_digest(root, &TreeOptions::default()).unwrap().sha256)
}

fn digest_excluding(root: &Path, exclude: &[&str]) -> String {
    let opts = TreeOptions {
        exclude: exclude.iter().map(PathBuf::from).collect(),
        ..Default::default()
    };
    hex::encode(tree_digest(root, &opts).unwrap().sha256)
}

/// A small tree with every supported entry type, and names whose order
/// differs between a per-directory walk and a whole-path byte sort
/// ("a-b" < "a.b" < "a/…" < "a0").
fn make_tree(root: &Path) {
    write(root, "README", b"hello\n", 0o644);
    write(root, "bin/run.sh", b"#!/bin/sh\necho hi\n", 0o755);
    write(root, "a/b", b"nested", 0o600);
    write(root, "a-b", b"dash", 0o644);
    write(root, "a.b", b"dot", 0o644);
    write(root, "a0", b"", 0o644);
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::set_permissions(root.join("empty"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("../README", root.join("bin/readme-link")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", root.join("dangling")).unwrap();
    std::fs::set_permissions(root.join("a"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(root.join("bin"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn touch_all(root: &Path, when: &str) {
    run_tool(
        "find",
        root,
        &[".", "-exec", "touch", "-h", "-d", when, "{}", "+"],
        &[],
    );
}

#[test]
fn same_tree_elsewhere_with_other_timestamps_has_the_same_digest() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    make_tree(a.path());
    make_tree(b.path());
    touch_all(a.path(), "@1000000000");
    touch_all(b.path(), "@1700000000");
    let da = digest(a.path());
    assert_eq!(da, digest(b.path()));
    // Deterministic across runs and thread counts.
    let one = tree_digest(
        a.path(),
        &TreeOptions {
            threads: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(hex::encode(one.sha256), da);
    assert_eq!(one.entries, 11);
    assert_eq!(one.content_bytes, 6 + 18 + 6 + 4 + 3);
}

#[test]
fn matches_an_independent_python_implementation() {
    let d = tempfile::tempdir().unwrap();
    make_tree(d.path());
    // A name that is not UTF-8: the encoding hashes raw bytes.
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9");
    std::fs::write(d.path().join(odd), b"latin-1 name").unwrap();
    std::fs::set_permissions(d.path().join(odd), std::fs::Permissions::from_mode(0o4755)).unwrap();
    let ours = digest(d.path());
    assert_eq!(ours, py_digest(d.path(), &[]));

    // And with exclusions.
    assert_eq!(
        digest_excluding(d.path(), &["a", "bin/run.sh"]),
        py_digest(d.path(), &["a", "bin/run.sh"])
    );
    assert_ne!(digest_excluding(d.path(), &["a"]), ours);
}

#[test]
fn the_empty_tree_is_the_hash_of_the_domain_alone() {
    let d = tempfile::tempdir().unwrap();
    assert_eq!(
        digest(d.path()),
        python(
            "import hashlib; print(hashlib.sha256(b'sealbuild/tree/v1\\x00').hexdigest())",
            &[]
        )
    );
}

/// Applies `change` to a fresh copy of the tree and requires a new digest.
fn changed(change: impl Fn(&Path)) -> (String, String) {
    let d = tempfile::tempdir().unwrap();
    make_tree(d.path());
    let before = digest(d.path());
    change(d.path());
    (before, digest(d.path()))
}

#[test]
fn every_difference_changes_the_digest() {
    let cases: Vec<(&str, Change)> = vec![
        (
            "one byte of content",
            Box::new(|r| write(r, "a/b", b"nestee", 0o600)),
        ),
        (
            "the executable bit",
            Box::new(|r| {
                std::fs::set_permissions(r.join("README"), std::fs::Permissions::from_mode(0o755))
                    .unwrap()
            }),
        ),
        (
            "a directory's mode",
            Box::new(|r| {
                std::fs::set_permissions(r.join("empty"), std::fs::Permissions::from_mode(0o700))
                    .unwrap()
            }),
        ),
        (
            "a rename",
            Box::new(|r| std::fs::rename(r.join("a.b"), r.join("a.c")).unwrap()),
        ),
        (
            "a move into another directory (same name)",
            Box::new(|r| std::fs::rename(r.join("a-b"), r.join("empty/a-b")).unwrap()),
        ),
        (
            "a symbolic link's target",
            Box::new(|r| {
                std::fs::remove_file(r.join("bin/readme-link")).unwrap();
                std::os::unix::fs::symlink("../README ", r.join("bin/readme-link")).unwrap();
            }),
        ),
        (
            "a file replaced by a link to identical content",
            Box::new(|r| {
                std::fs::write(r.join("copy"), b"hello\n").unwrap();
                std::fs::set_permissions(r.join("copy"), std::fs::Permissions::from_mode(0o777))
                    .unwrap();
                let before = digest(r);
                std::fs::remove_file(r.join("copy")).unwrap();
                std::os::unix::fs::symlink("README", r.join("copy")).unwrap();
                assert_ne!(before, digest(r), "file vs link");
            }),
        ),
        (
            "an empty directory",
            Box::new(|r| std::fs::create_dir(r.join("empty/sub")).unwrap()),
        ),
        ("an empty file", Box::new(|r| write(r, "new", b"", 0o644))),
        (
            "content moved between two files",
            Box::new(|r| {
                write(r, "a-b", b"dashd", 0o644);
                write(r, "a.b", b"ot", 0o644);
            }),
        ),
    ];
    for (what, change) in cases {
        let (before, after) = changed(change);
        assert_ne!(before, after, "{what} did not change the digest");
    }
}

#[test]
fn symbolic_links_are_not_followed() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"one").unwrap();
    let d = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), d.path().join("l")).unwrap();
    std::os::unix::fs::symlink(outside.path(), d.path().join("ldir")).unwrap();
    let before = digest(d.path());
    std::fs::write(outside.path().join("secret"), b"two").unwrap();
    std::fs::write(outside.path().join("more"), b"x").unwrap();
    assert_eq!(before, digest(d.path()));
    assert_eq!(before, py_digest(d.path(), &[]));
}

#[test]
fn exclusions() {
    let d = tempfile::tempdir().unwrap();
    make_tree(d.path());
    write(d.path(), "out/artifact", b"1", 0o644);
    let with_out = digest_excluding(d.path(), &["out"]);
    write(d.path(), "out/artifact", b"2", 0o644);
    write(d.path(), "out/more/x", b"3", 0o644);
    assert_eq!(with_out, digest_excluding(d.path(), &["out"]));
    // An absolute exclusion, and one that does not exist yet.
    let abs = d.path().join("out");
    assert_eq!(
        with_out,
        digest_excluding(d.path(), &[abs.to_str().unwrap(), "not/yet/there"])
    );
    // "out" does not exclude "outer".
    write(d.path(), "outer", b"x", 0o644);
    assert_ne!(with_out, digest_excluding(d.path(), &["out"]));
    // Paths outside the tree are ignored; the tree itself cannot be excluded.
    let other = tempfile::tempdir().unwrap();
    assert_eq!(
        digest(d.path()),
        digest_excluding(d.path(), &[other.path().to_str().unwrap()])
    );
    for whole in [".", d.path().to_str().unwrap(), "a/.."] {
        let err = tree_digest(
            d.path(),
            &TreeOptions {
                exclude: vec![PathBuf::from(whole)],
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(
            matches!(err, BuildError::SourcePath { .. }),
            "excluding {whole:?}: {err}"
        );
    }
    // .git entries only with skip_git_dirs.
    write(d.path(), ".git/HEAD", b"ref: refs/heads/main\n", 0o644);
    write(
        d.path(),
        "sub/.git",
        b"gitdir: ../.git/modules/sub\n",
        0o644,
    );
    let all = digest(d.path());
    let skipped = tree_digest(
        d.path(),
        &TreeOptions {
            skip_git_dirs: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_ne!(all, hex::encode(skipped.sha256));
    assert_eq!(
        hex::encode(skipped.sha256),
        py_digest(d.path(), &[".git", "sub/.git"])
    );
}

#[test]
fn unsupported_file_types_are_refused_by_name() {
    let d = tempfile::tempdir().unwrap();
    make_tree(d.path());
    mkfifo(&d.path().join("a/pipe"));
    match tree_digest(d.path(), &TreeOptions::default()) {
        Err(BuildError::UnsupportedFileType { path, kind }) => {
            assert_eq!(kind, "fifo");
            assert!(path.ends_with("a/pipe"), "{}", path.display());
        }
        other => panic!("expected UnsupportedFileType, got {other:?}"),
    }
    // Excluding it is the way out.
    assert_eq!(
        digest_excluding(d.path(), &["a/pipe"]),
        py_digest(d.path(), &["a/pipe"])
    );
}

#[test]
fn a_file_is_not_a_tree() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "f", b"x", 0o644);
    assert!(matches!(
        tree_digest(&d.path().join("f"), &TreeOptions::default()),
        Err(BuildError::SourcePath { .. })
    ));
    assert!(matches!(
        tree_digest(&d.path().join("missing"), &TreeOptions::default()),
        Err(BuildError::Io { .. })
    ));
}
