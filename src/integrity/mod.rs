//! Integrity: offline validation of CloudTrail digest chains (docs/integrity.md).
//!
//! Reads digest files (kept as their uncompressed bytes: hashes and signatures are over them), signature sidecars
//! `<digest>.metadata.json`, public keys, and log files; returns findings, gaps and per-content verdicts. It does
//! no SQL and knows nothing of the CLI: `cli::verify` loads stored keys and records verdicts through `store`.

pub mod check;
pub mod digest;
pub mod keys;
pub mod read;
pub mod report;
pub mod sign;

pub use check::{verify, Options};
pub use keys::{KeyRing, PublicKey};
pub use report::{kind, ContentStatus, Counted, Finding, Gap, Notice, Report};
