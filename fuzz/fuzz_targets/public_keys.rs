//! The public-keys file: `aws cloudtrail list-public-keys` JSON, PEM with one or more blocks, or DER.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| trailgraph::fuzzing::public_keys(data));
