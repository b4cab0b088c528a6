//! AWS Config: configuration items, snapshots, history files and notifications, through the file entry, and
//! each JSON object by itself through item normalization and the notification diff.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| trailgraph::fuzzing::config(data));
