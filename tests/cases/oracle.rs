//! The differential test over the real public corpus (`TRAILGRAPH_CORPUS`): `tests/oracle/run.py`, an independent
//! reading of the files in Python (standard library only, written from AWS's documentation, not from this code),
//! asks this build's binary the same questions per source folder and compares the answers exactly. Skipped (with a
//! message) when the variable is unset; fails when it is set and the folder is missing. Both tests need python3
//! (3.11 or later, standard library only): skipped without it, failed under `CI=true` (docs/testing.md). There is
//! no allow-list:
//! every disagreement fails the test and is printed. See tests/oracle/README.md.

use crate::corpus::corpus;
use crate::util::{repo, require_tool, PYTHON};
use std::process::Command;

fn python(args: &[&str]) -> (i32, String, String) {
    let out = Command::new("python3")
        .args(args)
        .current_dir(repo())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run python3");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn oracle_self_test() {
    if !require_tool(&PYTHON) {
        return;
    }
    let (code, out, err) = python(&["tests/oracle/run.py", "--self-test"]);
    assert_eq!(code, 0, "oracle unit tests failed:\n{out}\n{err}");
}

#[test]
fn oracle_agrees_with_trailgraph_on_every_corpus_source() {
    let Some(root) = corpus() else { return };
    if !require_tool(&PYTHON) {
        return;
    }
    let root = root.display().to_string();
    let (code, out, err) = python(&[
        "tests/oracle/run.py",
        "--bin",
        env!("CARGO_BIN_EXE_trailgraph"),
        "--corpus",
        &root,
    ]);
    assert_eq!(
        code, 0,
        "the oracle and trailgraph disagree (exit {code}):\n{out}\n{err}"
    );
}
