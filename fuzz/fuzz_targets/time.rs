//! Time parsing: the strings and numbers real records carry (ISO 8601 variants, epoch seconds and
//! milliseconds, Python reprs), digest stamps, and the JSON values they arrive as.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| trailgraph::fuzzing::time(data));
