//! The multi-member gzip readers: verify's streamed hash over every member, and the capped reader of small files.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| trailgraph::fuzzing::gzip(data));
