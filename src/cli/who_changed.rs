//! `trailgraph who-changed RESOURCE`.

use super::output::sanitize;
use super::{parse_when, resolve_format, Format, Outcome};
use crate::correlate::{who_changed, Actor, Evidence, State};
use crate::store::Store;
use anyhow::Result;
use std::io::Write;
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// An ARN, s3://bucket, AWS::TYPE:NAME, or a bare name or id that resolves uniquely (bucket, role, sg-...).
    resource: String,
    /// Only calls at or after this time (RFC 3339, or a date).
    #[arg(long, value_parser = parse_when)]
    since: Option<i64>,
    /// Only calls at or before this time.
    #[arg(long, value_parser = parse_when)]
    until: Option<i64>,
    /// Output format (table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

pub fn run(db: &Path, args: &Args) -> Result<Outcome> {
    let store = Store::open_read_only(db)?;
    let answer = who_changed(&store, &args.resource, args.since, args.until)?;
    let mut out = super::output::stdout();
    match resolve_format(args.format) {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &answer)?;
            writeln!(out)?;
        }
        Format::Table => {
            let r = &answer.resource;
            writeln!(
                out,
                "{} ({})",
                sanitize(r.arn.as_deref().unwrap_or(&r.key)),
                sanitize(&r.rtype)
            )?;
            writeln!(out, "\nchanges: {}", answer.changes.len())?;
            for c in &answer.changes {
                writeln!(
                    out,
                    "\n{}  {} {}  event {}",
                    c.time.as_deref().unwrap_or("(no time)"),
                    sanitize(&c.event_source),
                    sanitize(&c.event_name),
                    sanitize(&c.event_id)
                )?;
                write_actor(&mut out, &c.actor)?;
                write_origin(
                    &mut out,
                    c.source_ip.as_deref(),
                    c.region.as_deref(),
                    &c.account,
                    c.user_agent.as_deref(),
                )?;
                writeln!(
                    out,
                    "  link: {}; state {} → {}",
                    c.correlation,
                    state(c.before.as_deref()),
                    state(c.after.as_deref())
                )?;
                if !c.same_after_state_as.is_empty() {
                    writeln!(
                        out,
                        "  same after-state as: {}",
                        sanitize(&c.same_after_state_as.join(", "))
                    )?;
                }
                for l in c.diff_lines.iter() {
                    writeln!(out, "    {}", sanitize(l))?;
                }
                write_evidence(&mut out, &c.evidence)?;
            }
            writeln!(out, "\nfailed attempts: {}", answer.failed_attempts.len())?;
            for a in &answer.failed_attempts {
                writeln!(
                    out,
                    "\n{}  {} {}  {}  event {}",
                    a.time.as_deref().unwrap_or("(no time)"),
                    sanitize(&a.event_source),
                    sanitize(&a.event_name),
                    sanitize(a.error_code.as_deref().unwrap_or("")),
                    sanitize(&a.event_id)
                )?;
                write_actor(&mut out, &a.actor)?;
                write_origin(
                    &mut out,
                    a.source_ip.as_deref(),
                    a.region.as_deref(),
                    &a.account,
                    a.user_agent.as_deref(),
                )?;
                if let Some(m) = &a.error_message {
                    writeln!(out, "  error: {}", sanitize(m))?;
                }
                write_evidence(&mut out, &a.evidence)?;
            }
            writeln!(
                out,
                "\nchanges with no call in the trail: {}",
                answer.unexplained_changes.len()
            )?;
            for u in &answer.unexplained_changes {
                let kind = u
                    .change_type
                    .as_deref()
                    .map(|t| format!(" {}", sanitize(t)))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "\n{} → {}{kind}  (no logged call explains this state change)",
                    state(u.before.as_deref()),
                    state(Some(&u.after))
                )?;
                for l in u.diff_lines.iter() {
                    writeln!(out, "    {}", sanitize(l))?;
                }
            }
            if !answer.relationship_changes.is_empty() {
                writeln!(
                    out,
                    "\nrelationship changes: {}",
                    answer.relationship_changes.len()
                )?;
            }
            for r in &answer.relationship_changes {
                writeln!(
                    out,
                    "\n{}  {} → {}",
                    r.time.as_deref().unwrap_or("?"),
                    sanitize(r.before_state_id.as_deref().unwrap_or("none")),
                    sanitize(&r.after_state_id)
                )?;
                let rel = |v: &serde_json::Value| {
                    let t = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("?").to_string();
                    sanitize(&format!(
                        "{} {} {}",
                        t("name"),
                        t("resourceType"),
                        t("resourceId")
                    ))
                };
                for a in &r.added {
                    writeln!(out, "    + {}", rel(a))?;
                }
                for a in &r.removed {
                    writeln!(out, "    - {}", rel(a))?;
                }
                for c in &r.explained_by {
                    writeln!(
                        out,
                        "    explained by {} {} {} on {} {}",
                        c.time.as_deref().unwrap_or("?"),
                        sanitize(&c.event_name),
                        sanitize(&c.event_id),
                        sanitize(&c.resource_type),
                        sanitize(&c.resource_id)
                    )?;
                }
            }
        }
    }
    out.flush()?;
    super::output::dismiss((answer, store));
    Ok(Outcome::Ok)
}

/// Where a call came from and where it ran: source IP, region and account, user agent.
fn write_origin(
    out: &mut impl Write,
    ip: Option<&str>,
    region: Option<&str>,
    account: &str,
    agent: Option<&str>,
) -> std::io::Result<()> {
    writeln!(
        out,
        "  from {}  in {} (account {})  agent {}",
        sanitize(ip.unwrap_or("-")),
        sanitize(region.unwrap_or("-")),
        sanitize(account),
        sanitize(agent.unwrap_or("-"))
    )
}

fn write_evidence(out: &mut impl Write, evidence: &[Evidence]) -> std::io::Result<()> {
    for e in evidence {
        writeln!(
            out,
            "  evidence: {} record {} [{}]",
            sanitize(&e.source),
            e.record_index,
            sanitize(&e.integrity)
        )?;
    }
    Ok(())
}

fn state(s: Option<&State>) -> String {
    match s {
        Some(s) if s.source == "notification_diff" => format!(
            "{} (rebuilt from the change notification)",
            sanitize(&s.state_id)
        ),
        Some(s) => format!(
            "{} ({})",
            sanitize(&s.state_id),
            s.capture_time.as_deref().unwrap_or("?")
        ),
        None => "none".into(),
    }
}

pub(super) fn write_actor(out: &mut impl Write, a: &Actor) -> std::io::Result<()> {
    write!(
        out,
        "  actor: {} ({}",
        sanitize(a.arn.as_deref().unwrap_or(&a.principal)),
        sanitize(a.utype.as_deref().unwrap_or("?"))
    )?;
    if let Some(acct) = &a.account {
        write!(out, ", {}", sanitize(acct))?;
    }
    writeln!(out, ")")?;
    if let Some(s) = &a.session_name {
        write!(out, "  session {}", sanitize(s))?;
        if let Some(si) = &a.source_identity {
            write!(out, "  source identity {}", sanitize(si))?;
        }
        writeln!(out)?;
    }
    match &a.original_principal_arn {
        Some(o) if Some(o) != a.arn.as_ref() => writeln!(
            out,
            "  original principal: {} ({}) via {}",
            sanitize(o),
            sanitize(a.original_principal_type.as_deref().unwrap_or("?")),
            sanitize(&a.session_chain.join(" ← "))
        ),
        Some(_) => Ok(()),
        None => writeln!(
            out,
            "  original principal: unknown (the call that issued this session is not in the store)"
        ),
    }
}
