//! Every input under `fixtures/fuzz/TARGET/` replayed through the body of that `cargo fuzz` target
//! (`trailgraph::fuzzing`), so a crash or hang a fuzz run found stays fixed. Also pins what the hand-made
//! hostile inputs are told, where a user would see it.

use crate::util::fixtures;
use trailgraph::fuzzing::{MAX_BYTES, TARGETS};
use trailgraph::ingest::source::{read_bytes, ReadOptions};
use trailgraph::integrity::read::{decompress_all, hash_bytes};

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fixtures().join("fuzz").join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn every_saved_fuzz_input_runs_through_its_target_without_panicking() {
    let mut replayed = 0;
    for (target, body) in TARGETS {
        let cases = inputs(target);
        assert!(!cases.is_empty(), "fixtures/fuzz/{target} holds no input");
        for (path, data) in cases {
            assert!(data.len() < 1 << 20, "{path}: fuzz inputs stay under 1 MB");
            let caught = std::panic::catch_unwind(|| body(&data));
            assert!(caught.is_ok(), "{target} panicked on {path}");
            replayed += 1;
        }
    }
    assert!(replayed >= TARGETS.len());
}

#[test]
fn hostile_inputs_are_refused_with_reasons() {
    let dir = fixtures().join("fuzz");
    let bomb = std::fs::read(dir.join("gzip/bomb-10MiB-of-zeros.gz")).unwrap();
    let res = read_bytes(
        "bomb.json.gz",
        bomb.clone(),
        &ReadOptions {
            max_bytes: MAX_BYTES,
        },
    );
    let why = res.failure.expect("a gzip bomb is a failure");
    assert!(
        why.contains("decompresses to more than 4194304 bytes"),
        "{why}"
    );
    assert!(res.contents.is_none());
    let err = decompress_all(&bomb, 1 << 20).unwrap_err();
    assert_eq!(err, "decompresses to more than 1048576 bytes");
    // Streaming the hash reads the whole bomb in constant memory and gets it right.
    let h = hash_bytes(&bomb).unwrap();
    assert_eq!(h.uncompressed_size, 10 << 20);
    assert_eq!(h.members, 1);

    let tail = std::fs::read(dir.join("gzip/garbage-after-member.gz")).unwrap();
    let err = hash_bytes(&tail).unwrap_err();
    assert_eq!(err, "19 byte(s) of non-gzip data after gzip member 1");

    let cut = std::fs::read(dir.join("gzip/second-member-truncated.gz")).unwrap();
    let err = hash_bytes(&cut).unwrap_err();
    assert!(
        err.starts_with("corrupt or truncated gzip (member 2)"),
        "{err}"
    );

    let deep = std::fs::read(dir.join("log_file/deeply-nested.json")).unwrap();
    let res = read_bytes("deep.json", deep, &ReadOptions::default());
    // 200,000 levels inside `Records`: the file is read, the one record is an error, nothing is stored.
    let c = res.contents.expect("the container itself is fine");
    assert_eq!((c.records, c.events.len()), (1, 0));
    assert_eq!(c.diagnostics.len(), 1);
    assert_eq!(c.diagnostics[0].code, "not_an_object");
    assert_eq!(c.diagnostics[0].record, Some(0));
}
