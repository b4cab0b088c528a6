//! `trailgraph timeline`.

use super::output::{csv_cell, sanitize};
use super::who_changed::write_actor;
use super::{parse_when, Outcome};
use crate::correlate::{timeline, TimelineQuery};
use crate::store::Store;
use anyhow::{bail, Result};
use clap::ValueEnum;
use std::io::{IsTerminal, Write};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TimelineFormat {
    Table,
    Json,
    Csv,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A principal in any form a log shows it: user, role, root or federated-user ARN, an assumed-role session ARN
    /// (that session), a principalId (AROA...:session), an IAM Identity Center user name, an access key id, a key
    /// (service:..., identitycenter:...) or a name (user, role). Includes the sessions it started unless
    /// --no-follow-sessions.
    #[arg(long)]
    principal: Option<String>,
    /// An access key (AKIA... or ASIA...), with the sessions issued through it.
    #[arg(long)]
    access_key: Option<String>,
    /// A source IP address.
    #[arg(long)]
    ip: Option<String>,
    /// A resource (as for who-changed): every call that touched it.
    #[arg(long)]
    resource: Option<String>,
    #[arg(long, value_parser = parse_when)]
    since: Option<i64>,
    #[arg(long, value_parser = parse_when)]
    until: Option<i64>,
    /// CloudTrail Insights events (unusual call or error rates), with their state and baseline.
    #[arg(long)]
    insights: bool,
    /// Only the principal's (or key's) own calls, not those of the sessions it started.
    #[arg(long)]
    no_follow_sessions: bool,
    /// Output format (table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    format: Option<TimelineFormat>,
}

pub fn run(db: &Path, args: &Args) -> Result<Outcome> {
    if args.principal.is_none()
        && args.access_key.is_none()
        && args.ip.is_none()
        && args.resource.is_none()
        && !args.insights
    {
        bail!("timeline needs at least one of --principal, --access-key, --ip, --resource, --insights");
    }
    let store = Store::open_read_only(db)?;
    let q = TimelineQuery {
        principal: args.principal.clone(),
        access_key: args.access_key.clone(),
        ip: args.ip.clone(),
        resource: args.resource.clone(),
        since: args.since,
        until: args.until,
        follow_sessions: !args.no_follow_sessions,
        insights: args.insights,
    };
    let t = timeline(&store, &q)?;
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        TimelineFormat::Table
    } else {
        TimelineFormat::Json
    });
    let mut out = super::output::stdout();
    match format {
        TimelineFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &t)?;
            writeln!(out)?;
            out.flush()?;
        }
        TimelineFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "time",
                "event_id",
                "event_source",
                "event_name",
                "actor_arn",
                "actor_type",
                "original_principal_arn",
                "session_of",
                "source_ip",
                "error_code",
                "read_only",
                "resources",
                "integrity",
                "sources",
            ])?;
            for e in &t.events {
                let resources: Vec<String> = e
                    .resources
                    .iter()
                    .map(|r| format!("{}:{}:{}", r.access, r.rtype, r.id))
                    .collect();
                let row = [
                    e.time.clone().unwrap_or_default(),
                    e.event_id.clone(),
                    e.event_source.clone(),
                    e.event_name.clone(),
                    e.actor.arn.clone().unwrap_or_default(),
                    e.actor.utype.clone().unwrap_or_default(),
                    e.actor.original_principal_arn.clone().unwrap_or_default(),
                    e.session_of
                        .as_ref()
                        .and_then(|s| s.session_arn.clone().or(Some(s.access_key_id.clone())))
                        .unwrap_or_default(),
                    e.source_ip.clone().unwrap_or_default(),
                    e.error_code.clone().unwrap_or_default(),
                    e.read_only.map(|b| b.to_string()).unwrap_or_default(),
                    resources.join(" "),
                    e.integrity.clone(),
                    e.evidence
                        .iter()
                        .map(|v| v.source.clone())
                        .collect::<Vec<_>>()
                        .join(" "),
                ];
                w.write_record(row.iter().map(|c| csv_cell(c)))?;
            }
            w.into_inner().map_err(|e| e.into_error())?.flush()?;
        }
        TimelineFormat::Table => {
            for e in &t.events {
                writeln!(
                    out,
                    "{} {}  {} {}{}  from {}",
                    match e.integrity.as_str() {
                        "validated" => "✓",
                        "invalid" => "✗",
                        _ => "?",
                    },
                    e.time.as_deref().unwrap_or("(no time)"),
                    sanitize(&e.event_source),
                    sanitize(&e.event_name),
                    e.error_code
                        .as_deref()
                        .map(|c| format!("  FAILED {}", sanitize(c)))
                        .unwrap_or_default(),
                    sanitize(e.source_ip.as_deref().unwrap_or("-"))
                )?;
                write_actor(&mut out, &e.actor)?;
                if let Some(s) = &e.session_of {
                    writeln!(
                        out,
                        "  via session {}",
                        sanitize(s.session_arn.as_deref().unwrap_or(&s.access_key_id))
                    )?;
                }
                for r in &e.resources {
                    writeln!(
                        out,
                        "  {} {} {}",
                        r.access,
                        sanitize(&r.rtype),
                        sanitize(&r.id)
                    )?;
                }
            }
            writeln!(out, "{} event(s)", t.events.len())?;
            out.flush()?;
        }
    }
    super::output::dismiss((t, store));
    Ok(Outcome::Ok)
}
