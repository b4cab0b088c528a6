//! `trailgraph sql`: read-only SQL over the documented views (docs/sql.md).

use super::output::{csv_cell, sanitize};
use super::Outcome;
use crate::store::sql::{SqlError, SqlEvent, SqlStore};
use anyhow::{Context, Result};
use clap::ValueEnum;
use comfy_table::{presets::UTF8_BORDERS_ONLY, Table};
use rusqlite::types::Value;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SqlFormat {
    Table,
    Json,
    Csv,
    Jsonl,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// One SQL statement (SELECT, WITH, read-only PRAGMA) over the views of docs/sql.md.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    query: Option<String>,
    /// Read the statement from a file.
    #[arg(long, value_name = "Q.sql")]
    file: Option<PathBuf>,
    /// Output format (table on a terminal, json otherwise). csv and jsonl are streamed row by row.
    #[arg(long, value_enum)]
    format: Option<SqlFormat>,
    /// Stop the query after this many seconds (exit 2).
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    timeout: f64,
    /// Rows to show at most (default: 1000 for the table, all for the other formats); a note on stderr says
    /// when rows were left out.
    #[arg(long, value_name = "N")]
    max_rows: Option<usize>,
}

pub fn run(db: &Path, args: &Args) -> Result<Outcome> {
    let sql = match (&args.query, &args.file) {
        (Some(q), _) => q.clone(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?
        }
        (None, None) => anyhow::bail!("give a query or --file"),
    };
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        anyhow::bail!("--timeout must be a positive number of seconds");
    }
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        SqlFormat::Table
    } else {
        SqlFormat::Json
    });
    let max_rows = args.max_rows.or(match format {
        SqlFormat::Table => Some(1000),
        _ => None,
    });
    let store = SqlStore::open(db)?;
    let mut out = super::output::stdout();
    let mut columns: Vec<String> = Vec::new();
    let mut rows: Vec<Vec<Value>> = Vec::new();
    let mut shown = 0usize;
    let mut more = false;
    let timeout = Duration::from_secs_f64(args.timeout);
    let result = store.query(&sql, Some(timeout), &mut |ev| {
        let row = match ev {
            SqlEvent::Columns(cols) => {
                columns = cols.to_vec();
                if format == SqlFormat::Csv {
                    out.write_all(&csv_line(cols.iter().map(|c| csv_cell(c)))?)?;
                }
                return Ok(true);
            }
            SqlEvent::Row(row) => row,
        };
        if max_rows.is_some_and(|m| shown >= m) {
            more = true;
            return Ok(false);
        }
        shown += 1;
        match format {
            SqlFormat::Table | SqlFormat::Json => rows.push(row),
            SqlFormat::Jsonl => {
                writeln!(out, "{}", json_object(&columns, &row))?;
            }
            SqlFormat::Csv => {
                out.write_all(&csv_line(row.iter().map(|v| csv_cell(&text(v))))?)?;
            }
        }
        Ok(true)
    });
    match result {
        Ok(()) => {}
        Err(SqlError::Output(e)) => return Err(e),
        Err(e) => {
            out.flush()?;
            return Err(e.into());
        }
    }
    match format {
        SqlFormat::Json => {
            out.write_all(b"[")?;
            for (i, r) in rows.iter().enumerate() {
                out.write_all(if i == 0 { b"\n  " } else { b",\n  " })?;
                out.write_all(json_object(&columns, r).as_bytes())?;
            }
            out.write_all(if rows.is_empty() { b"]\n" } else { b"\n]\n" })?;
        }
        SqlFormat::Table => {
            let mut t = Table::new();
            t.load_preset(UTF8_BORDERS_ONLY);
            t.set_header(columns.iter().map(|c| sanitize(c)));
            for r in &rows {
                t.add_row(r.iter().map(|v| sanitize(&text(v))));
            }
            writeln!(out, "{t}")?;
        }
        _ => {}
    }
    out.flush()?;
    if more {
        eprintln!("trailgraph: showing the first {shown} rows (--max-rows); more rows matched",);
    }
    Ok(Outcome::Ok)
}

/// One CSV record (quoted as needed by the csv crate), with its line end.
fn csv_line(cells: impl IntoIterator<Item = String>) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(cells)?;
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// A value as text (table and CSV): NULL is empty, blobs are shown by size.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Text(s) => s.clone(),
        Value::Blob(b) => format!("<blob of {} bytes>", b.len()),
    }
}

fn json_value(v: &Value) -> serde_json::Value {
    use base64::Engine;
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => (*i).into(),
        Value::Real(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Text(s) => s.clone().into(),
        Value::Blob(b) => base64::engine::general_purpose::STANDARD.encode(b).into(),
    }
}

/// One row as a JSON object with the columns in query order (not sorted: the order the query asked for).
fn json_object(columns: &[String], row: &[Value]) -> String {
    let mut s = String::from("{");
    for (i, (c, v)) in columns.iter().zip(row).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&serde_json::Value::from(c.as_str()).to_string());
        s.push_str(": ");
        s.push_str(&json_value(v).to_string());
    }
    s.push('}');
    s
}
