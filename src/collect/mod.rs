//! Collection (docs/collect.md). With the feature `aws`: live from AWS, the trail bucket in S3, CloudTrail
//! `LookupEvents`, `ListPublicKeys` and Lake queries, and the AWS Config API. Those modules only talk to AWS:
//! they list, download and page, and hand back bytes (a file's, or an API page re-serialized as the JSON document
//! the API returned). Parsing and storing is the ingest pipeline's job (`crate::pipeline`), so there is no second
//! parser.
//!
//! Without the feature: `slice` (a question's scope, turned into the rounds of SQL a distributed engine runs over
//! the whole trail, and the files to fetch) and `spark` (the engine driver for Apache Spark).

#[cfg(feature = "aws")]
pub mod athena;
pub mod athena_ddl;
#[cfg(feature = "aws")]
pub mod cloudtrail;
#[cfg(feature = "aws")]
pub mod config;
pub mod layout;
#[cfg(feature = "aws")]
pub mod limiter;
#[cfg(feature = "aws")]
pub mod s3;
#[cfg(feature = "aws")]
mod sdk;
pub mod slice;
pub mod spark;

#[cfg(feature = "aws")]
pub use sdk::*;
