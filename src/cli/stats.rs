//! `trailgraph stats`.

use super::output::sanitize;
use super::{resolve_format, Format, Outcome};
use crate::store::Store;
use anyhow::Result;
use comfy_table::{presets::UTF8_BORDERS_ONLY, Table};
use std::io::Write;
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output format (table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

pub fn run(db: &Path, args: &Args) -> Result<Outcome> {
    let store = Store::open_read_only(db)?;
    let s = store.stats()?;
    let mut out = super::output::stdout();
    match resolve_format(args.format) {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &s)?;
            writeln!(out)?;
        }
        Format::Table => {
            let mut t = Table::new();
            t.load_preset(UTF8_BORDERS_ONLY);
            t.set_header(["what", "count"]);
            let rows: [(&str, String); 12] = [
                ("events (distinct)", s.events.to_string()),
                ("duplicate deliveries", s.duplicate_deliveries.to_string()),
                ("config items (distinct states)", s.config_items.to_string()),
                ("sources", s.sources.to_string()),
                ("principals", s.principals.to_string()),
                ("sessions", s.sessions.to_string()),
                ("resources", s.resources.to_string()),
                ("diagnostics", s.diagnostics.to_string()),
                ("failed files", s.failed_files.to_string()),
                (
                    "skipped files (not audit data)",
                    s.skipped_files.to_string(),
                ),
                (
                    "first event",
                    s.first_event_time.clone().unwrap_or_else(|| "-".into()),
                ),
                (
                    "last event",
                    s.last_event_time.clone().unwrap_or_else(|| "-".into()),
                ),
            ];
            for (k, v) in rows {
                t.add_row([k.to_string(), v]);
            }
            for (k, v) in &s.sources_by_kind {
                t.add_row([format!("  sources: {}", sanitize(k)), v.to_string()]);
            }
            for p in &s.top_principals {
                t.add_row([
                    format!("  busiest: {} ({})", sanitize(&p.key), sanitize(&p.ptype)),
                    p.events.to_string(),
                ]);
            }
            for (k, v) in &s.integrity {
                t.add_row([format!("  sources {}", sanitize(k)), v.to_string()]);
            }
            for (k, v) in &s.events_by_integrity {
                t.add_row([format!("  events {}", sanitize(k)), v.to_string()]);
            }
            t.add_row(["accounts".to_string(), sanitize(&abbreviate(&s.accounts))]);
            t.add_row(["regions".to_string(), sanitize(&abbreviate(&s.regions))]);
            writeln!(out, "{t}")?;
        }
    }
    out.flush()?;
    Ok(Outcome::Ok)
}

/// `N: a, b, c, ...` with at most five names, so a wide organization does not break the table.
fn abbreviate(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    let more = if names.len() > 5 { ", ..." } else { "" };
    format!("{}: {}{more}", names.len(), shown.join(", "))
}
