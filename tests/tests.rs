//! Integration tests: each runs the real `trailgraph` binary in a fresh temporary directory (`export` calls the
//! library's writers directly and runs their consumers: Graphviz, networkx, the OpenLineage schema).

#[path = "cases/bad_input.rs"]
mod bad_input;
#[path = "cases/cli.rs"]
mod cli;
#[cfg(feature = "aws")]
#[path = "cases/collect.rs"]
mod collect;
#[path = "cases/corpus.rs"]
mod corpus;
#[path = "cases/correlate.rs"]
mod correlate;
#[path = "cases/crash.rs"]
mod crash;
#[path = "cases/export.rs"]
mod export;
#[path = "cases/fixtures.rs"]
mod fixtures;
#[path = "cases/fuzz_regressions.rs"]
mod fuzz_regressions;
#[path = "cases/idempotency.rs"]
mod idempotency;
#[path = "cases/lineage.rs"]
mod lineage;
#[path = "cases/lineage_graph.rs"]
mod lineage_graph;
#[path = "cases/migration.rs"]
mod migration;
#[path = "cases/oracle.rs"]
mod oracle;
#[path = "cases/real_data.rs"]
mod real_data;
#[path = "cases/report.rs"]
mod report;
#[path = "cases/resources.rs"]
mod resources;
#[path = "cases/sample.rs"]
mod sample;
#[path = "cases/schemas.rs"]
mod schemas;
#[path = "cases/sql.rs"]
mod sql;
#[path = "cases/util.rs"]
mod util;
#[path = "cases/verify.rs"]
mod verify;
#[cfg(feature = "aws")]
#[path = "cases/via.rs"]
mod via;
#[cfg(feature = "aws")]
#[path = "cases/via_athena.rs"]
mod via_athena;
