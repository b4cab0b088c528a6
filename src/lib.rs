//! trailgraph: change-correlation and lineage reconstruction for AWS audit data.
//!
//! Dependencies point one way, toward `model`: `cli` drives `ingest` (parsers, no database) and feeds `store`
//! (the only module that speaks SQL). See docs/ARCHITECTURE.md.

pub mod cli;
pub mod collect;
pub mod correlate;
pub mod export;
#[doc(hidden)]
pub mod fuzzing;
pub mod ingest;
pub mod integrity;
pub mod lineage;
pub mod model;
pub mod pipeline;
pub mod report;
pub mod store;
