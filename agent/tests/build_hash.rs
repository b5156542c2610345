//! Artifact resolution and hashing: digests equal to sha256sum(1) and to the
//! FIPS 180-2 example, glob semantics, refusals (globs matching nothing,
//! paths leaving the build directory, non-regular files), streaming of a
//! large file, and determinism across thread counts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod build_support;

use build_support::*;
use sealbuild_agent::build::{
    hash_artifacts, hash_artifacts_with, resolve_artifacts, sha256_file, BuildError, HashOptions,
};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn globs(g: &[&str]) -> Vec<String> {
    g.iter().map(|s| s.to_string()).collect()
}

fn names(root: &Path, g: &[&str]) -> Vec<String> {
    resolve_artifacts(root, &globs(g))
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect()
}

/// dist/app (exec), dist/app.sig, dist/lib/libx.so, dist/lib/sub/liby.so,
/// dist/.hidden, docs/a.txt, docs/b.txt, docs/c.md, top.txt.
fn outputs() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "dist/app", b"\x7fELF app", 0o755);
    write(r, "dist/app.sig", b"sig", 0o644);
    write(r, "dist/lib/libx.so", b"libx", 0o644);
    write(r, "dist/lib/sub/liby.so", b"liby", 0o644);
    write(r, "dist/.hidden", b"h", 0o644);
    write(r, "docs/a.txt", b"a", 0o644);
    write(r, "docs/b.txt", b"b", 0o644);
    write(r, "docs/c.md", b"c", 0o644);
    write(r, "top.txt", b"top", 0o644);
    d
}

#[test]
fn digests_equal_sha256sum_and_the_fips_example() {
    let d = outputs();
    let r = d.path();
    write(r, "abc", b"abc", 0o644);
    write(r, "empty", b"", 0o644);
    let hashed = hash_artifacts(r, &globs(&["**"]), false).unwrap();
    let all: Vec<&str> = hashed.iter().map(|a| a.name.as_str()).collect();
    let reference = sha256sum(r, &all);
    assert_eq!(hashed.len(), 11);
    for a in &hashed {
        assert_eq!(a.sha256_hex(), reference[&a.name], "{}", a.name);
        assert_eq!(a.size, std::fs::metadata(r.join(&a.name)).unwrap().len());
        assert_eq!(a.path, r.canonicalize().unwrap().join(&a.name));
    }
    let abc = hashed.iter().find(|a| a.name == "abc").unwrap();
    // FIPS 180-2 Appendix B.1.
    assert_eq!(
        abc.sha256_hex(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let empty = hashed.iter().find(|a| a.name == "empty").unwrap();
    assert_eq!(
        empty.sha256_hex(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(sha256_file(&r.join("abc")).unwrap(), (abc.sha256, 3));
}

#[test]
fn glob_semantics() {
    let d = outputs();
    let r = d.path();
    assert_eq!(
        names(r, &["dist/*"]),
        ["dist/.hidden", "dist/app", "dist/app.sig"]
    );
    assert_eq!(
        names(r, &["dist/**/*.so"]),
        ["dist/lib/libx.so", "dist/lib/sub/liby.so"]
    );
    assert_eq!(
        names(r, &["**/*.txt"]),
        ["docs/a.txt", "docs/b.txt", "top.txt"]
    );
    assert_eq!(names(r, &["docs/[ab].txt"]), ["docs/a.txt", "docs/b.txt"]);
    assert_eq!(names(r, &["docs/[!ab].*"]), ["docs/c.md"]);
    assert_eq!(names(r, &["dist/app?sig"]), ["dist/app.sig"]);
    assert_eq!(names(r, &["./dist//app"]), ["dist/app"]);
    // Several globs: sorted by name, duplicates once.
    assert_eq!(
        names(r, &["top.txt", "docs/*.txt", "**/a.txt", "top.*"]),
        ["docs/a.txt", "docs/b.txt", "top.txt"]
    );
    // `**` alone: every file, no directories.
    assert_eq!(names(r, &["**"]).len(), 9);
    assert_eq!(names(r, &["dist/**"]).len(), 5);
}

#[test]
fn a_glob_that_matches_nothing_is_refused() {
    let d = outputs();
    let r = d.path();
    match resolve_artifacts(r, &globs(&["dist/app", "*.tar.gz"])) {
        Err(BuildError::GlobMatchedNothing { glob, hint, .. }) => {
            assert_eq!(glob, "*.tar.gz");
            assert_eq!(hint, "");
        }
        other => panic!("expected GlobMatchedNothing, got {other:?}"),
    }
    // Directories only: the error says how to get their contents.
    match resolve_artifacts(r, &globs(&["dist/lib"])) {
        Err(e @ BuildError::GlobMatchedNothing { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("only directories (dist/lib)"), "{msg}");
            assert!(msg.contains("DIR/**"), "{msg}");
        }
        other => panic!("expected GlobMatchedNothing, got {other:?}"),
    }
    assert!(matches!(
        resolve_artifacts(r, &[]),
        Err(BuildError::InvalidGlob { .. })
    ));
}

#[test]
fn paths_leaving_the_build_directory_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret", b"not an output", 0o644);
    let d = outputs();
    let r = d.path();
    for g in ["../x", "dist/../../x", "/etc/passwd", "", ".", "dist/["] {
        assert!(
            matches!(
                resolve_artifacts(r, &globs(&[g])),
                Err(BuildError::InvalidGlob { .. })
            ),
            "{g:?} accepted"
        );
    }
    // A link to a file outside.
    std::os::unix::fs::symlink(outside.path().join("secret"), r.join("dist/leak")).unwrap();
    match resolve_artifacts(r, &globs(&["dist/*"])) {
        Err(BuildError::PathEscapes { name, target, .. }) => {
            assert_eq!(name, "dist/leak");
            assert_eq!(
                target,
                outside.path().canonicalize().unwrap().join("secret")
            );
        }
        other => panic!("expected PathEscapes, got {other:?}"),
    }
    std::fs::remove_file(r.join("dist/leak")).unwrap();
    // A link to a directory outside is not descended into.
    std::os::unix::fs::symlink(outside.path(), r.join("dist/ext")).unwrap();
    assert_eq!(names(r, &["dist/**"]).len(), 5);
    match resolve_artifacts(r, &globs(&["dist/ext/*"])) {
        Err(e @ BuildError::GlobMatchedNothing { .. }) => {
            assert!(
                e.to_string()
                    .contains("symbolic links to directories (dist/ext)"),
                "{e}"
            );
        }
        other => panic!("expected GlobMatchedNothing, got {other:?}"),
    }
}

#[test]
fn links_inside_are_followed_under_their_own_name() {
    let d = outputs();
    let r = d.path();
    std::os::unix::fs::symlink("app", r.join("dist/app-latest")).unwrap();
    let hashed = hash_artifacts(r, &globs(&["dist/app*"]), false).unwrap();
    let n: Vec<&str> = hashed.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(n, ["dist/app", "dist/app-latest", "dist/app.sig"]);
    assert_eq!(hashed[0].sha256, hashed[1].sha256);
    assert_eq!(hashed[1].path, r.canonicalize().unwrap().join("dist/app"));

    std::os::unix::fs::symlink("nowhere", r.join("dist/dangling")).unwrap();
    assert!(matches!(
        resolve_artifacts(r, &globs(&["dist/*"])),
        Err(BuildError::DanglingSymlink { .. })
    ));
}

#[test]
fn fifos_are_refused_without_blocking() {
    let d = outputs();
    let r = d.path();
    mkfifo(&r.join("dist/pipe"));
    match resolve_artifacts(r, &globs(&["dist/*"])) {
        Err(BuildError::NotRegularFile { kind, path, .. }) => {
            assert_eq!(kind, "fifo");
            assert!(path.ends_with("dist/pipe"));
        }
        other => panic!("expected NotRegularFile, got {other:?}"),
    }
    // Through a link, too.
    std::fs::remove_file(r.join("dist/pipe")).unwrap();
    mkfifo(&r.join("pipe"));
    std::os::unix::fs::symlink("../pipe", r.join("dist/pipe-link")).unwrap();
    assert!(matches!(
        resolve_artifacts(r, &globs(&["dist/pipe-link"])),
        Err(BuildError::NotRegularFile { kind: "fifo", .. })
    ));
}

#[test]
fn names_that_are_not_utf8_are_refused() {
    let d = outputs();
    let r = d.path();
    let odd = std::ffi::OsStr::from_bytes(b"dist/caf\xe9");
    std::fs::write(r.join(odd), b"x").unwrap();
    assert!(matches!(
        resolve_artifacts(r, &globs(&["dist/*"])),
        Err(BuildError::NonUtf8Path { .. })
    ));
    // A glob that does not reach it is unaffected.
    assert_eq!(names(r, &["dist/app"]), ["dist/app"]);
}

#[test]
fn large_file_is_streamed_and_many_files_are_parallel() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    // 48 MiB + 12345 bytes: not a multiple of the 1 MiB read size.
    let mut big = Vec::with_capacity(48 * 1024 * 1024 + 12345);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while big.len() < big.capacity() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        big.push((x >> 24) as u8);
    }
    std::fs::write(r.join("big.bin"), &big).unwrap();
    drop(big);
    for i in 0..200 {
        write(
            r,
            &format!("small/{i:03}.o"),
            format!("object {i}").as_bytes(),
            0o644,
        );
    }
    let g = globs(&["big.bin", "small/*.o"]);
    let one = hash_artifacts_with(
        r,
        &g,
        &HashOptions {
            threads: Some(1),
            progress: false,
        },
    )
    .unwrap();
    let four = hash_artifacts_with(
        r,
        &g,
        &HashOptions {
            threads: Some(4),
            progress: true, // not a terminal under the test harness: no bar
        },
    )
    .unwrap();
    assert_eq!(one, four);
    assert_eq!(one.len(), 201);
    let all: Vec<&str> = one.iter().map(|a| a.name.as_str()).collect();
    let reference = sha256sum(r, &all);
    for a in &one {
        assert_eq!(a.sha256_hex(), reference[&a.name], "{}", a.name);
    }
    assert_eq!(one[0].name, "big.bin");
    assert_eq!(one[0].size, 48 * 1024 * 1024 + 12345);
}

#[test]
fn the_build_directory_must_exist() {
    let d = tempfile::tempdir().unwrap();
    assert!(matches!(
        resolve_artifacts(&d.path().join("missing"), &globs(&["*"])),
        Err(BuildError::Io { .. })
    ));
    write(d.path(), "f", b"", 0o644);
    assert!(matches!(
        resolve_artifacts(&d.path().join("f"), &globs(&["*"])),
        Err(BuildError::Io { .. })
    ));
}
