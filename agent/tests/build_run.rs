//! Running the build command: exit codes and signals are reported (128 + N
//! for signal N, as shells do), a command that cannot start is an error that
//! names it, and the working directory, environment and timing are as asked.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sealbuild_agent::build::{run_build, select_env, selected_env, BuildError};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::time::Duration;

fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn sh(script: &str) -> Vec<String> {
    cmd(&["/bin/sh", "-c", script])
}

#[test]
fn exit_codes_are_propagated() {
    let d = tempfile::tempdir().unwrap();
    for code in [0, 1, 7, 125, 255] {
        let run = run_build(&sh(&format!("exit {code}")), d.path(), &[]).unwrap();
        assert_eq!(run.exit_code, code);
        assert_eq!(run.signal, None);
        assert_eq!(run.success(), code == 0);
    }
}

#[test]
fn a_signal_is_reported_as_128_plus_its_number() {
    let d = tempfile::tempdir().unwrap();
    for (sig, n) in [("TERM", 15), ("KILL", 9), ("SEGV", 11)] {
        let run = run_build(&sh(&format!("kill -{sig} $$")), d.path(), &[]).unwrap();
        assert_eq!(run.exit_code, 128 + n, "SIG{sig}");
        assert_eq!(run.signal, Some(n));
        assert!(!run.success());
    }
}

#[test]
fn a_command_that_cannot_start_is_an_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    match run_build(&cmd(&["sealbuild-no-such-program", "x"]), d.path(), &[]) {
        Err(BuildError::CommandStart {
            program, source, ..
        }) => {
            assert_eq!(program, "sealbuild-no-such-program");
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected CommandStart, got {other:?}"),
    }
    // Not executable.
    let script = d.path().join("build.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    assert!(matches!(
        run_build(&[script.to_str().unwrap().to_string()], d.path(), &[]),
        Err(BuildError::CommandStart { .. })
    ));
    // Missing working directory.
    assert!(matches!(
        run_build(&cmd(&["true"]), &d.path().join("missing"), &[]),
        Err(BuildError::CommandStart { .. })
    ));
    assert!(matches!(
        run_build(&[], d.path(), &[]),
        Err(BuildError::EmptyCommand)
    ));
    assert!(matches!(
        run_build(&cmd(&[""]), d.path(), &[]),
        Err(BuildError::EmptyCommand)
    ));
}

#[test]
fn working_directory_environment_and_arguments() {
    let d = tempfile::tempdir().unwrap();
    let env = [
        ("SEALBUILD_TEST_A".to_string(), "one two".to_string()),
        ("PATH".to_string(), "/usr/bin:/bin".to_string()),
    ];
    // Arguments are passed without a shell: "$1" is one argument with a space.
    let run = run_build(
        &cmd(&[
            "/bin/sh",
            "-c",
            "pwd -P > where; printf '%s|%s|%s' \"$SEALBUILD_TEST_A\" \"$PATH\" \"$1\" > env",
            "sh",
            "a b",
        ]),
        d.path(),
        &env,
    )
    .unwrap();
    assert!(run.success());
    assert_eq!(
        std::fs::read_to_string(d.path().join("where"))
            .unwrap()
            .trim(),
        d.path().canonicalize().unwrap().to_str().unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(d.path().join("env")).unwrap(),
        "one two|/usr/bin:/bin|a b"
    );
}

#[test]
fn timing_brackets_the_run() {
    let d = tempfile::tempdir().unwrap();
    let run = run_build(&cmd(&["sleep", "0.3"]), d.path(), &[]).unwrap();
    let took = run.finished_on.duration_since(run.started_on).unwrap();
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn selected_environment() {
    let lookup = |n: &str| match n {
        "CC" => Some(OsString::from("gcc-12")),
        "EMPTY" => Some(OsString::new()),
        "BAD" => Some(OsString::from_vec(b"\xff".to_vec())),
        _ => None,
    };
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let got = select_env(&names(&["CC", "EMPTY", "UNSET"]), lookup).unwrap();
    assert_eq!(
        got.into_iter().collect::<Vec<_>>(),
        vec![
            ("CC".to_string(), "gcc-12".to_string()),
            ("EMPTY".to_string(), String::new())
        ]
    );
    match select_env(&names(&["CC", "BAD"]), lookup) {
        Err(BuildError::EnvNotUnicode { name }) => assert_eq!(name, "BAD"),
        other => panic!("expected EnvNotUnicode, got {other:?}"),
    }
    // The process environment (PATH is set under cargo test).
    let real = selected_env(&names(&["PATH", "SEALBUILD_SURELY_UNSET_VARIABLE"]));
    assert_eq!(real.len(), 1);
    assert_eq!(real["PATH"], std::env::var("PATH").unwrap());
}
