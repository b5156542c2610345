//! Running the build command, and recording selected environment variables.
//!
//! The command runs with the agent's standard input, output and error and
//! environment (plus the variables the caller adds), in the given working
//! directory, without a shell. Its outcome is data, not an error: a build that
//! exits non-zero or is killed is reported in [`BuildRun`] so that the caller
//! can propagate its exit code (a signal `N` becomes `128 + N`, as shells
//! report it). Only failing to start or to wait for the command is an error.
//!
//! [`run_build`] blocks until the command ends; call it from a blocking
//! context (e.g. `tokio::task::spawn_blocking`).

use super::error::BuildError;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

/// How the build command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRun {
    /// The exit code, or `128 + signal` when a signal ended it.
    pub exit_code: i32,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// When the command was started (wall clock).
    pub started_on: SystemTime,
    /// When it ended.
    pub finished_on: SystemTime,
}

impl BuildRun {
    /// Whether the build succeeded (exit code 0).
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

/// Runs `cmd[0]` with arguments `cmd[1..]` in `cwd`, with the agent's
/// environment plus `env` (which overrides variables of the same name) and
/// inherited standard streams; waits for it to end.
pub fn run_build(
    cmd: &[String],
    cwd: &Path,
    env: &[(String, String)],
) -> Result<BuildRun, BuildError> {
    let (program, args) = cmd.split_first().ok_or(BuildError::EmptyCommand)?;
    if program.is_empty() {
        return Err(BuildError::EmptyCommand);
    }
    let mut c = Command::new(program);
    c.args(args).current_dir(cwd);
    for (k, v) in env {
        c.env(k, v);
    }
    let started_on = SystemTime::now();
    let mut child = c.spawn().map_err(|source| BuildError::CommandStart {
        program: program.clone(),
        cwd: cwd.to_path_buf(),
        source,
    })?;
    let status = child.wait().map_err(|source| BuildError::CommandWait {
        program: program.clone(),
        source,
    })?;
    let finished_on = SystemTime::now();
    let (exit_code, signal) = match (status.code(), status.signal()) {
        (Some(code), _) => (code, None),
        (None, Some(sig)) => (128 + sig, Some(sig)),
        (None, None) => {
            return Err(BuildError::CommandStatus {
                program: program.clone(),
                status: status.to_string(),
            })
        }
    };
    Ok(BuildRun {
        exit_code,
        signal,
        started_on,
        finished_on,
    })
}

/// The values of the variables `names` in the agent's environment, for the
/// statement. Unset variables are left out. A value that is not UTF-8 is
/// recorded with each invalid sequence replaced by U+FFFD (use
/// [`select_env`] to refuse such values instead).
pub fn selected_env(names: &[String]) -> BTreeMap<String, String> {
    names
        .iter()
        .filter_map(|n| std::env::var_os(n).map(|v| (n.clone(), v.to_string_lossy().into_owned())))
        .collect()
}

/// Like [`selected_env`] over any environment (`lookup` returns a variable's
/// value), but strict: a value that is not UTF-8 is an error, since it cannot
/// be recorded faithfully.
pub fn select_env(
    names: &[String],
    lookup: impl Fn(&str) -> Option<OsString>,
) -> Result<BTreeMap<String, String>, BuildError> {
    let mut out = BTreeMap::new();
    for name in names {
        if let Some(v) = lookup(name) {
            let v = v
                .into_string()
                .map_err(|_| BuildError::EnvNotUnicode { name: name.clone() })?;
            out.insert(name.clone(), v);
        }
    }
    Ok(out)
}
