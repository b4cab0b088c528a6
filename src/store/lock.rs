//! One writing run per store at a time: `ingest` and `collect` hold an exclusive lock on `DB-lock` for their
//! whole run. A second run waits for the first (saying so once) or, with `--no-wait`, refuses. Short writers
//! (`verify` recording verdicts) and readers are not blocked: SQLite's own locking (WAL, busy timeout) serializes
//! their transactions, and readers see only committed, whole sources.
//!
//! The lock is an advisory `flock` on a file beside the store (`std::fs::File::lock`), released by the kernel when
//! the process ends, however it ends: a killed run never leaves a stale lock. The file holds the holder's pid,
//! command and start time, for the message the next run prints; it is left in place (removing it would race).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Held for a writing run; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{path}: cannot open the run lock: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "another trailgraph run ({holder}) is writing to {db}; it was left alone (--no-wait). Run again when it has \
         finished, or without --no-wait to wait for it"
    )]
    Busy { db: PathBuf, holder: String },
}

/// The lock file of the store at `db`: `DB-lock`, beside SQLite's `DB-wal` and `DB-shm`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-lock");
    PathBuf::from(p)
}

impl RunLock {
    /// Takes the store's run lock for `command`. When another run holds it: with `wait`, calls `waiting` with a
    /// description of the holder and blocks until it is released; without, fails with [`LockError::Busy`].
    pub fn acquire(
        db: &Path,
        command: &str,
        wait: bool,
        waiting: impl FnOnce(&str),
    ) -> Result<RunLock, LockError> {
        let path = lock_path(db);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = holder(&mut file);
                if !wait {
                    return Err(LockError::Busy {
                        db: db.to_path_buf(),
                        holder,
                    });
                }
                waiting(&holder);
                file.lock().map_err(io)?;
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // Who holds it, for the next run's message. Best effort: the lock is what matters.
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let _ = file
            .set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| write!(file, "pid {}, {command}, since {now}", std::process::id()));
        Ok(RunLock { _file: file })
    }
}

/// What the lock file says about its holder (written by that run; attacker-free, but shown escaped anyway).
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.take(200).read_to_string(&mut text));
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.trim().is_empty() {
        "unknown process".into()
    } else {
        text.trim().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_waits_or_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let first = RunLock::acquire(&db, "ingest", false, |_| {}).unwrap();
        // flock locks belong to the open file description: a second open in the same process conflicts too.
        match RunLock::acquire(&db, "collect", false, |_| {}) {
            Err(LockError::Busy { holder, .. }) => {
                assert!(
                    holder.starts_with(&format!("pid {}, ingest, since ", std::process::id())),
                    "{holder}"
                );
            }
            other => panic!("expected Busy, got {other:?}"),
        }
        let db2 = db.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let mut told = String::new();
            let l = RunLock::acquire(&db2, "ingest", true, |h| told = h.to_string()).unwrap();
            tx.send(told).unwrap();
            drop(l);
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(rx.try_recv().is_err(), "the second run did not wait");
        drop(first);
        let told = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert!(told.contains("ingest"), "{told}");
        t.join().unwrap();
    }
}
