//! Errors of the sealed-build building blocks, grouped by cause. Every
//! variant names the path, pattern or command concerned, what was expected and
//! what was seen.

use std::path::PathBuf;
use thiserror::Error;

/// Why a build step (source identity, artifact resolution, hashing, running
/// the build command) failed.
#[derive(Debug, Error)]
pub enum BuildError {
    // --- source identity -------------------------------------------------------
    /// A git command on the source checkout failed.
    #[error("git {args} in {dir}: {detail}")]
    Git {
        /// The arguments, as run (after `git -C DIR`).
        args: String,
        /// The directory git ran in.
        dir: PathBuf,
        /// Exit status and git's own message.
        detail: String,
    },
    /// The `git` program could not be started although the source is a git
    /// checkout (a `.git` entry was found).
    #[error("{dir} is a git checkout ({marker} exists) but git could not be run: {source}")]
    GitUnavailable {
        /// The source directory.
        dir: PathBuf,
        /// The `.git` entry that was found.
        marker: PathBuf,
        /// Why `git` could not be started.
        source: std::io::Error,
    },
    /// git answered, but not with what the command promises.
    #[error("git {args} in {dir}: expected {expected}, got {got:?}")]
    GitOutput {
        /// The arguments, as run.
        args: String,
        /// The directory git ran in.
        dir: PathBuf,
        /// What was expected.
        expected: &'static str,
        /// What came back (lossily decoded).
        got: String,
    },
    /// The checkout has no commit yet: there is nothing to name the source by.
    #[error("git checkout {dir} has no commit yet (HEAD is unborn); commit the sources or build from a plain directory without .git")]
    UnbornHead {
        /// The checkout's top-level directory.
        dir: PathBuf,
    },
    /// A source tree entry is neither a regular file, a directory nor a
    /// symbolic link.
    #[error("source tree entry {path}: unsupported file type ({kind}); exclude it")]
    UnsupportedFileType {
        /// The entry.
        path: PathBuf,
        /// What it is (fifo, socket, block device, …).
        kind: &'static str,
    },
    /// A path given to the source digest is not acceptable.
    #[error("source {path}: {reason}")]
    SourcePath {
        /// The path as given.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    // --- artifact globs ----------------------------------------------------------
    /// A glob that does not parse or is not a relative pattern inside the
    /// build directory.
    #[error("artifact glob {glob:?}: {reason}")]
    InvalidGlob {
        /// The glob as given.
        glob: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// A glob that matches no regular file.
    #[error("artifact glob {glob:?} matches no file under {root}{hint}")]
    GlobMatchedNothing {
        /// The glob.
        glob: String,
        /// The build directory it was resolved in.
        root: PathBuf,
        /// Extra explanation (e.g. "; it matches only directories: …"), or empty.
        hint: String,
    },
    /// A matched path resolves (through a symbolic link) outside the build
    /// directory.
    #[error(
        "artifact {name} (glob {glob:?}) resolves to {target}, outside the build directory {root}"
    )]
    PathEscapes {
        /// The glob that matched it.
        glob: String,
        /// The matched name, relative to the build directory.
        name: String,
        /// Where it resolves to.
        target: PathBuf,
        /// The build directory.
        root: PathBuf,
    },
    /// A matched path is not a regular file (and not a directory, which globs
    /// skip).
    #[error("artifact {path} (glob {glob:?}): not a regular file ({kind})")]
    NotRegularFile {
        /// The glob that matched it.
        glob: String,
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// A matched symbolic link points to nothing.
    #[error("artifact {path} (glob {glob:?}): dangling symbolic link")]
    DanglingSymlink {
        /// The glob that matched it.
        glob: String,
        /// The link.
        path: PathBuf,
    },
    /// A matched path is not valid UTF-8 and cannot be named in a statement.
    #[error("artifact path {path}: not valid UTF-8, cannot be named in a statement")]
    NonUtf8Path {
        /// The path.
        path: PathBuf,
    },

    // --- reading and hashing files ---------------------------------------------
    /// A file system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("reading", "listing", "opening", …).
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file's size changed between listing and hashing it: something is
    /// still writing to the tree.
    #[error("{path} changed while being hashed: size was {expected} bytes when listed, {got} bytes were read")]
    ChangedWhileHashing {
        /// The file.
        path: PathBuf,
        /// Size when listed.
        expected: u64,
        /// Bytes actually read.
        got: u64,
    },
    /// A hashing worker thread could not be started or died.
    #[error("hashing worker: {0}")]
    Worker(String),

    // --- the build command ---------------------------------------------------------
    /// No build command was given.
    #[error("no build command given (expected `-- CMD [ARGS...]`)")]
    EmptyCommand,
    /// The build command could not be started.
    #[error("cannot start build command {program:?} in {cwd}: {source}")]
    CommandStart {
        /// The program.
        program: String,
        /// The working directory.
        cwd: PathBuf,
        /// Why it could not be started (not found, not executable, …).
        source: std::io::Error,
    },
    /// Waiting for the build command failed.
    #[error("waiting for build command {program:?}: {source}")]
    CommandWait {
        /// The program.
        program: String,
        /// The error.
        source: std::io::Error,
    },
    /// The child ended in a way that gives neither an exit code nor a signal.
    #[error("build command {program:?} ended without exit code or signal ({status})")]
    CommandStatus {
        /// The program.
        program: String,
        /// The status as the OS reported it.
        status: String,
    },
    /// A selected environment variable's value is not valid UTF-8 and cannot
    /// be recorded in a statement.
    #[error("environment variable {name}: value is not valid UTF-8, cannot be recorded")]
    EnvNotUnicode {
        /// The variable.
        name: String,
    },
}

impl BuildError {
    /// An [`BuildError::Io`] for `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// The kind of a non-regular, non-directory, non-symlink file, for messages.
pub(crate) fn file_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_symlink() {
        "symbolic link"
    } else if ft.is_file() {
        "regular file"
    } else {
        "unknown type"
    }
}
