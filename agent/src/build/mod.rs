//! Building blocks of a sealed build, on the agent side: what was built,
//! how the build ran, and what it produced.
//!
//! * [`source`]: source identity (git commit, or a tree digest for a plain
//!   directory or a modified checkout) and the string measured before the
//!   build.
//! * [`tree`]: the deterministic tree digest (`sealbuild/tree/v1`).
//! * [`glob`]: artifact globs resolved inside the build directory.
//! * [`hash`]: parallel streaming SHA-256 of the artifacts.
//! * [`run`]: running the build command; selected environment variables.
//! * [`error`]: the error type, [`BuildError`].
//!
//! These functions touch the file system, clocks and processes: they are the
//! edge. Statements, envelopes and the event log are formats in
//! `sealbuild_common`.

pub mod error;
pub mod glob;
pub mod hash;
pub mod run;
pub mod source;
pub mod tree;

pub use error::BuildError;
pub use glob::{resolve_artifacts, ArtifactFile, Glob};
pub use hash::{hash_artifacts, hash_artifacts_with, sha256_file, HashOptions, HashedArtifact};
pub use run::{run_build, select_env, selected_env, BuildRun};
pub use source::{
    identify, identify_source, GitSource, GitState, SourceIdentity, SourceOptions, TreeSource,
};
pub use tree::{tree_digest, TreeDigest, TreeOptions};
