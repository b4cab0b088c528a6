//! Parsers: files in every container AWS audit data comes in → normalized model values.
//! Knows no database: the CLI feeds what these return to `store`.

pub mod cloudtrail;
pub mod config;
pub mod container;
pub mod identity;
pub mod loose;
#[rustfmt::skip]
pub mod resource_table;
pub mod resources;
pub mod source;
pub mod walk;
