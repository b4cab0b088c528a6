//! Digest files, their sidecars (the signature in S3 metadata, as a JSON file), and digest and log file names.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| trailgraph::fuzzing::digest(data));
