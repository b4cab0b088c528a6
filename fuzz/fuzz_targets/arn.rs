//! ARN parsing and everything that reads identity out of a string: resource references from ARNs, session
//! ARNs, unique ids with a session name, and the S3 key layout of a source name.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| trailgraph::fuzzing::arn(data));
