//! Finding input files: files as given, directories recursively, in a stable (sorted) order.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

#[derive(Debug, Clone)]
pub struct FileEntry {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ms: i64,
}

/// Files under `roots`, sorted within each directory. Errors name the path (missing input, unreadable dir).
pub fn discover(roots: &[PathBuf]) -> (Vec<FileEntry>, Vec<String>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for root in roots {
        for entry in walkdir::WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name()
        {
            match entry {
                Ok(e) if e.file_type().is_file() => match e.metadata() {
                    Ok(m) => files.push(FileEntry {
                        path: e.path().to_path_buf(),
                        size: m.len(),
                        mtime_ms: mtime_ms(&m),
                    }),
                    Err(err) => errors.push(format!("{}: {err}", e.path().display())),
                },
                Ok(_) => {}
                Err(err) => {
                    let p = err
                        .path()
                        .map(Path::display)
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| root.display().to_string());
                    let reason = err
                        .io_error()
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| err.to_string());
                    errors.push(format!("{p}: {reason}"));
                }
            }
        }
    }
    (files, errors)
}

fn mtime_ms(m: &std::fs::Metadata) -> i64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
