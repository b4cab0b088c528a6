//! Container detection and CloudTrail record parsing (with resource extraction and identity), through the same
//! entry as `ingest` and `collect`: bytes of one file, gzip or plain, under a name with an S3 key layout.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| trailgraph::fuzzing::log_file(data));
