//! Source identity of git checkouts and plain directories: commit and tree
//! equal to git's own answers and to an independent computation of the git
//! object format; every kind of modification makes a checkout dirty and then
//! it is named by its working files, not its commit; remotes lose their
//! credentials; a checkout git cannot read is an error, never a plain
//! directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod build_support;

use build_support::*;
use sealbuild_agent::build::source::redact_remote;
use sealbuild_agent::build::{
    identify, identify_source, tree_digest, BuildError, GitState, SourceIdentity, SourceOptions,
    TreeOptions,
};
use std::path::{Path, PathBuf};

/// git's object format (SHA-1 object names), computed without git: blob
/// `"blob <len>\0<content>"`, tree entries `"<mode> <name>\0<20-byte id>"`
/// sorted by name (directories as "name/"), and the commit object.
const PY_GIT_IDS: &str = r#"
import hashlib
def obj(kind, body):
    return hashlib.sha1(b'%s %d\x00' % (kind, len(body)) + body)
def tree(entries):
    key = lambda e: e[1] + (b'/' if e[0] == b'40000' else b'')
    return obj(b'tree', b''.join(m + b' ' + n + b'\x00' + i for m, n, i in sorted(entries, key=key)))
readme = obj(b'blob', b'hello\n').digest()
run = obj(b'blob', b'#!/bin/sh\necho hi\n').digest()
ignore = obj(b'blob', b'ignored.log\n').digest()
bin_tree = tree([(b'100755', b'run.sh', run)]).digest()
root = tree([(b'100644', b'README', readme), (b'40000', b'bin', bin_tree), (b'100644', b'.gitignore', ignore)])
commit = obj(b'commit', b'tree ' + root.hexdigest().encode() + b'\n'
    b'author A U Thor <author@example.invalid> 1700000000 +0000\n'
    b'committer C O Mitter <committer@example.invalid> 1700000000 +0000\n'
    b'\ninitial\n')
print(root.hexdigest(), commit.hexdigest())
"#;

/// A checkout with one commit of README, bin/run.sh (executable) and a
/// .gitignore ignoring `ignored.log`.
fn repo() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    git(r, &["init", "-q", "-b", "main"]);
    write(r, "README", b"hello\n", 0o644);
    write(r, "bin/run.sh", b"#!/bin/sh\necho hi\n", 0o755);
    write(r, ".gitignore", b"ignored.log\n", 0o644);
    git(r, &["add", "-A"]);
    git(r, &["commit", "-q", "-m", "initial"]);
    d
}

fn ident(dir: &Path) -> SourceIdentity {
    identify(dir, &[]).unwrap()
}

fn git_source(id: &SourceIdentity) -> &sealbuild_agent::build::GitSource {
    match id {
        SourceIdentity::Git(g) => g,
        other => panic!("expected a git identity, got {other:?}"),
    }
}

#[test]
fn clean_checkout_is_named_by_its_commit() {
    let d = repo();
    let r = d.path();
    let id = ident(r);
    let g = git_source(&id);

    // git itself, and the object format computed independently.
    assert_eq!(g.commit, git(r, &["rev-parse", "HEAD"]));
    assert_eq!(g.tree, git(r, &["rev-parse", "HEAD^{tree}"]));
    let py = python(PY_GIT_IDS, &[]);
    let (tree, commit) = py.split_once(' ').unwrap();
    assert_eq!(g.tree, tree);
    assert_eq!(g.commit, commit);

    assert_eq!(g.state, GitState::Clean);
    assert!(!id.dirty());
    assert_eq!(id.kind(), "git");
    assert_eq!(g.remote, None);
    assert_eq!(g.subdir, None);
    assert_eq!(g.toplevel, r.canonicalize().unwrap());
    assert_eq!(id.digest(), ("gitCommit", commit.to_string()));
    assert_eq!(
        id.digest_set(),
        vec![
            ("gitCommit", commit.to_string()),
            ("gitTree", tree.to_string())
        ]
    );
    assert_eq!(
        id.uri(),
        format!(
            "git+file://{}@{commit}",
            r.canonicalize().unwrap().display()
        )
    );
    assert_eq!(
        id.identity_string(),
        format!("sealbuild-source/v1 git commit={commit} tree={tree} subdir=- remote=-")
    );

    // Ignored files do not make it dirty.
    write(r, "ignored.log", b"noise", 0o644);
    assert_eq!(git_source(&ident(r)).state, GitState::Clean);
}

#[test]
fn every_kind_of_modification_makes_it_dirty() {
    let cases: Vec<(&str, Change)> = vec![
        (
            "a modified file",
            Box::new(|r| write(r, "README", b"hellO\n", 0o644)),
        ),
        (
            "an untracked file",
            Box::new(|r| write(r, "new.c", b"", 0o644)),
        ),
        (
            "an untracked file in a new directory",
            Box::new(|r| write(r, "deep/er/x", b"", 0o644)),
        ),
        (
            "a staged change reverted in the working tree",
            Box::new(|r| {
                write(r, "README", b"staged\n", 0o644);
                git(r, &["add", "README"]);
                write(r, "README", b"hello\n", 0o644);
            }),
        ),
        (
            "a deleted file",
            Box::new(|r| std::fs::remove_file(r.join("README")).unwrap()),
        ),
        (
            "a mode change",
            Box::new(|r| write(r, "bin/run.sh", b"#!/bin/sh\necho hi\n", 0o644)),
        ),
        (
            "a mode change with core.fileMode=false in the repository",
            Box::new(|r| {
                git(r, &["config", "core.fileMode", "false"]);
                write(r, "bin/run.sh", b"#!/bin/sh\necho hi\n", 0o644);
            }),
        ),
        (
            "a modification hidden with assume-unchanged",
            Box::new(|r| {
                git(r, &["update-index", "--assume-unchanged", "README"]);
                write(r, "README", b"hidden\n", 0o644);
                assert_eq!(
                    git(r, &["status", "--porcelain"]),
                    "",
                    "git status hides it"
                );
            }),
        ),
        (
            "a modification hidden with skip-worktree",
            Box::new(|r| {
                git(r, &["update-index", "--skip-worktree", "README"]);
                write(r, "README", b"hidden\n", 0o644);
                assert_eq!(
                    git(r, &["status", "--porcelain"]),
                    "",
                    "git status hides it"
                );
            }),
        ),
        (
            "untracked files hidden by status.showUntrackedFiles=no",
            Box::new(|r| {
                git(r, &["config", "status.showUntrackedFiles", "no"]);
                write(r, "sneaky", b"", 0o644);
            }),
        ),
    ];
    for (what, change) in cases {
        let d = repo();
        let r = d.path();
        let head = git(r, &["rev-parse", "HEAD"]);
        change(r);
        let id = identify(r, &[]).unwrap_or_else(|e| panic!("{what}: {e}"));
        let g = git_source(&id);
        let GitState::Dirty { worktree_sha256 } = g.state else {
            panic!("{what}: not detected as dirty");
        };
        assert!(id.dirty());
        // Named by its working files, never by the commit.
        assert_eq!(g.commit, head, "{what}: base commit");
        let expected = tree_digest(
            r,
            &TreeOptions {
                skip_git_dirs: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(worktree_sha256, expected.sha256, "{what}");
        assert_eq!(id.digest(), ("sha256", hex::encode(worktree_sha256)));
        assert_eq!(id.digest_set(), vec![id.digest()]);
        assert_eq!(
            id.uri(),
            format!("file://{}", r.canonicalize().unwrap().display())
        );
        assert!(!id.uri().contains(&head), "{what}: URI claims the commit");
        assert_eq!(
            id.identity_string(),
            format!(
                "sealbuild-source/v1 git-dirty base={head} worktree-sha256={} subdir=- remote=-",
                hex::encode(worktree_sha256)
            )
        );
    }
}

#[test]
fn dirty_digest_follows_the_working_files() {
    let d = repo();
    let r = d.path();
    write(r, "README", b"one\n", 0o644);
    let one = ident(r);
    write(r, "README", b"two\n", 0o644);
    let two = ident(r);
    assert_ne!(one.digest(), two.digest());
    // Ignored files are on disk and part of a dirty tree's digest.
    write(r, "ignored.log", b"x", 0o644);
    assert_ne!(two.digest(), ident(r).digest());
}

#[test]
fn exclusions_apply_to_status_and_digest() {
    let d = repo();
    let r = d.path();
    write(r, "out/artifact.bin", b"output", 0o644);
    // Untracked output directory: dirty unless excluded.
    assert!(ident(r).dirty());
    let id = identify(r, &[PathBuf::from("out")]).unwrap();
    assert_eq!(git_source(&id).state, GitState::Clean);
    let abs = identify(r, &[r.join("out")]).unwrap();
    assert_eq!(abs, id);
    // A modification elsewhere is still seen, and the exclusion holds in the
    // digest.
    write(r, "README", b"changed\n", 0o644);
    let a = identify(r, &[PathBuf::from("out")]).unwrap();
    write(r, "out/artifact.bin", b"other output", 0o644);
    let b = identify(r, &[PathBuf::from("out")]).unwrap();
    assert!(a.dirty());
    assert_eq!(a, b);
    // Excluding the whole checkout is refused.
    assert!(matches!(
        identify(r, &[PathBuf::from(".")]),
        Err(BuildError::SourcePath { .. })
    ));
}

#[test]
fn remote_is_recorded_without_credentials() {
    let d = repo();
    let r = d.path();
    git(
        r,
        &[
            "remote",
            "add",
            "origin",
            "https://builder:s3cr3t-token@example.invalid/org/repo.git",
        ],
    );
    let id = ident(r);
    let g = git_source(&id);
    let commit = g.commit.clone();
    assert_eq!(
        g.remote.as_deref(),
        Some("https://example.invalid/org/repo.git")
    );
    assert_eq!(
        id.uri(),
        format!("git+https://example.invalid/org/repo.git@{commit}")
    );
    let s = id.identity_string();
    assert!(
        s.ends_with(" remote=https://example.invalid/org/repo.git"),
        "{s}"
    );
    assert!(!s.contains("s3cr3t") && !id.uri().contains("s3cr3t"));

    // Another remote name is not "origin".
    let d2 = repo();
    git(
        d2.path(),
        &["remote", "add", "upstream", "https://example.invalid/u.git"],
    );
    assert_eq!(git_source(&ident(d2.path())).remote, None);

    // Helper cases beyond what git accepts on the command line.
    assert_eq!(
        redact_remote("ssh://git:pw@example.invalid/r.git"),
        "ssh://git@example.invalid/r.git"
    );
    assert_eq!(
        redact_remote("git@example.invalid:org/r.git"),
        "git@example.invalid:org/r.git"
    );
}

#[test]
fn a_subdirectory_is_named_within_the_checkout() {
    let d = repo();
    let r = d.path();
    git(
        r,
        &["remote", "add", "origin", "https://example.invalid/r.git"],
    );
    let top = ident(r);
    let sub = ident(&r.join("bin"));
    let (gt, gs) = (git_source(&top), git_source(&sub));
    assert_eq!(gs.subdir.as_deref(), Some("bin"));
    assert_eq!(gs.commit, gt.commit);
    assert_eq!(gs.toplevel, gt.toplevel);
    assert_eq!(
        sub.uri(),
        format!("git+https://example.invalid/r.git@{}#bin", gt.commit)
    );
    assert!(sub.identity_string().contains(" subdir=bin "));
    // A modification outside the subdirectory still makes it dirty: the
    // build can read the whole checkout.
    write(r, "README", b"x\n", 0o644);
    assert!(ident(&r.join("bin")).dirty());
}

#[test]
fn sha256_object_format() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    git(r, &["init", "-q", "-b", "main", "--object-format=sha256"]);
    write(r, "f", b"x", 0o644);
    git(r, &["add", "-A"]);
    git(r, &["commit", "-q", "-m", "m"]);
    let id = ident(r);
    let g = git_source(&id);
    assert_eq!(g.commit.len(), 64);
    assert_eq!(g.commit, git(r, &["rev-parse", "HEAD"]));
    assert_eq!(id.digest().0, "gitCommit");
}

#[test]
fn an_unborn_head_is_refused() {
    let d = tempfile::tempdir().unwrap();
    git(d.path(), &["init", "-q", "-b", "main"]);
    write(d.path(), "f", b"x", 0o644);
    assert!(matches!(
        identify(d.path(), &[]),
        Err(BuildError::UnbornHead { .. })
    ));
}

#[test]
fn a_checkout_git_cannot_read_is_an_error_not_a_plain_directory() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "src/main.c", b"int main(){}", 0o644);
    write(d.path(), ".git", b"this is not a gitdir\n", 0o644);
    match identify(&d.path().join("src"), &[]) {
        Err(BuildError::Git { args, detail, .. }) => {
            assert!(args.contains("rev-parse"), "{args}");
            assert!(!detail.is_empty());
        }
        other => panic!("expected a git error, got {other:?}"),
    }
}

#[test]
fn a_plain_directory_is_named_by_its_tree_digest() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "src/main.c", b"int main(){}", 0o644);
    write(r, "out/a.out", b"ELF", 0o755);
    let id = identify_source(
        r,
        &SourceOptions {
            exclude: vec![PathBuf::from("out")],
        },
    )
    .unwrap();
    let expected = tree_digest(
        r,
        &TreeOptions {
            exclude: vec![r.join("out")],
            ..Default::default()
        },
    )
    .unwrap();
    let SourceIdentity::Tree(t) = &id else {
        panic!("expected a tree identity, got {id:?}");
    };
    assert_eq!(t.sha256, expected.sha256);
    assert_eq!(t.entries, 2);
    assert_eq!(id.kind(), "tree");
    assert!(!id.dirty());
    assert_eq!(id.digest(), ("sha256", hex::encode(expected.sha256)));
    assert_eq!(
        id.uri(),
        format!("file://{}", r.canonicalize().unwrap().display())
    );
    assert_eq!(
        id.identity_string(),
        format!(
            "sealbuild-source/v1 tree sha256={}",
            hex::encode(expected.sha256)
        )
    );
    // The identity string does not depend on where the tree is.
    let d2 = tempfile::tempdir().unwrap();
    write(d2.path(), "src/main.c", b"int main(){}", 0o644);
    assert_eq!(
        identify(d2.path(), &[]).unwrap().identity_string(),
        id.identity_string()
    );
    assert_ne!(identify(d2.path(), &[]).unwrap().uri(), id.uri());
}

#[test]
fn uris_percent_encode_paths() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("my src#1");
    write(&dir, "f", b"x", 0o644);
    let uri = identify(&dir, &[]).unwrap().uri();
    assert!(uri.ends_with("/my%20src%231"), "{uri}");
}
