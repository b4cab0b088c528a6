//! `trailgraph lineage` and `trailgraph export`.

use super::output::sanitize;
use super::{parse_when, Outcome};
use crate::export::ExportFormat;
use crate::lineage::{Direction, Graph, LineageQuery};
use crate::store::Store;
use anyhow::Result;
use clap::ValueEnum;
use std::io::{IsTerminal, Write};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LineageFormat {
    Table,
    Json,
    Dot,
    Openlineage,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `s3://bucket/key` (`?versionId=V` or `?generation=EVENTID` for one version), `s3://bucket/prefix/`, a Glue
    /// job name, a job run id or an Athena query id.
    target: String,
    /// Where the data came from (the default).
    #[arg(long, conflicts_with_all = ["downstream", "both"])]
    upstream: bool,
    /// Who consumed it.
    #[arg(long, conflicts_with = "both")]
    downstream: bool,
    /// Both directions.
    #[arg(long)]
    both: bool,
    /// Dataset-to-dataset hops to follow.
    #[arg(long, default_value_t = 5)]
    depth: usize,
    #[arg(long, value_parser = parse_when)]
    since: Option<i64>,
    #[arg(long, value_parser = parse_when)]
    until: Option<i64>,
    /// Output format (table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    format: Option<LineageFormat>,
    /// Stop expanding after this many edges (the answer then says `"truncated": true`).
    #[arg(long, default_value_t = 50_000)]
    limit: usize,
    /// Follow only derivations at least this sure (low follows everything; medium skips long-lived sessions).
    #[arg(long, value_parser = ["low", "medium", "high"], default_value = "low")]
    min_confidence: String,
    /// For an object target: the version current at this time (`s3://bucket/key?versionId=V` names one).
    #[arg(long, value_parser = parse_when)]
    at: Option<i64>,
    /// List every path of data from an ingestion point to a consumer (at most --limit paths).
    #[arg(long)]
    paths: bool,
    /// Who received anything derived from the target (implies --downstream unless --both).
    #[arg(long, conflicts_with = "upstream")]
    consumers: bool,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, value_enum)]
    format: ExportFormat,
    #[arg(long, value_parser = parse_when)]
    since: Option<i64>,
    #[arg(long, value_parser = parse_when)]
    until: Option<i64>,
    /// Only the sub-graph connected to this dataset or job (its lineage both ways).
    #[arg(long)]
    resource: Option<String>,
    /// Hops for --resource.
    #[arg(long, default_value_t = 5)]
    depth: usize,
    /// With --resource: stop expanding after this many edges.
    #[arg(long, default_value_t = 50_000)]
    limit: usize,
}

pub fn run(db: &Path, args: &Args) -> Result<Outcome> {
    let store = Store::open_read_only(db)?;
    let direction = if args.both {
        Direction::Both
    } else if args.downstream || args.consumers {
        Direction::Downstream
    } else {
        Direction::Upstream
    };
    let q = LineageQuery {
        target: args.target.clone(),
        direction,
        depth: args.depth.max(1),
        since: args.since,
        until: args.until,
        at: args.at,
    };
    let mut g = crate::lineage::lineage(&store, &q, args.limit, &args.min_confidence)?;
    crate::lineage::annotate(&mut g, args.paths.then_some(args.limit), args.consumers);
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        LineageFormat::Table
    } else {
        LineageFormat::Json
    });
    write(&g, format)
}

pub fn export(db: &Path, args: &ExportArgs) -> Result<Outcome> {
    let store = Store::open_read_only(db)?;
    let g = match &args.resource {
        Some(r) => crate::lineage::lineage(
            &store,
            &LineageQuery {
                target: r.clone(),
                direction: Direction::Both,
                depth: args.depth.max(1),
                since: args.since,
                until: args.until,
                at: None,
            },
            args.limit,
            "low",
        )?,
        None => crate::lineage::whole(&store, args.since, args.until)?,
    };
    let mut out = super::output::stdout();
    crate::export::write(&g, args.format, &mut out)?;
    out.flush()?;
    Ok(Outcome::Ok)
}

fn write(g: &Graph, format: LineageFormat) -> Result<Outcome> {
    let mut out = super::output::stdout();
    match format {
        LineageFormat::Table => table(g, &mut out)?,
        LineageFormat::Json => crate::export::write(g, ExportFormat::Json, &mut out)?,
        LineageFormat::Dot => crate::export::write(g, ExportFormat::Dot, &mut out)?,
        LineageFormat::Openlineage => crate::export::write(g, ExportFormat::Openlineage, &mut out)?,
    }
    out.flush()?;
    Ok(Outcome::Ok)
}

/// The consumers (with `--consumers`), chokepoints and cycles, the paths of data, then every edge with its
/// evidence.
fn table(g: &Graph, out: &mut dyn Write) -> Result<()> {
    let label = |id: &str| -> String {
        g.node(id)
            .map(|n| format!("{} ({})", n.id, n.kind))
            .unwrap_or_else(|| id.to_string())
    };
    writeln!(
        out,
        "lineage of {}",
        sanitize(g.root.as_deref().unwrap_or("(whole store)"))
    )?;
    if let Some(consumers) = &g.consumers {
        writeln!(out, "\nconsumers ({}):", consumers.len())?;
        for c in consumers {
            let mut marks = Vec::new();
            if c.other_account {
                marks.push("other account");
            }
            if c.outside {
                marks.push("outside principal");
            }
            if c.terminal {
                marks.push("end of the data");
            }
            writeln!(
                out,
                "  {} ({}) account={} person={} first={} last={}{}",
                sanitize(&c.actor),
                c.kind,
                sanitize(c.account.as_deref().unwrap_or("-")),
                sanitize(c.person.as_deref().unwrap_or("-")),
                c.first_read.as_deref().unwrap_or("-"),
                c.last_read.as_deref().unwrap_or("-"),
                if marks.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", marks.join(", "))
                }
            )?;
            writeln!(out, "    read: {}", sanitize(&c.datasets.join(", ")))?;
            writeln!(out, "    via:  {}", sanitize(&c.path.join(" → ")))?;
        }
    }
    if !g.chokepoints.is_empty() {
        writeln!(out, "\nchokepoints ({}):", g.chokepoints.len())?;
        for c in &g.chokepoints {
            let (way, what) = if c.direction == "upstream" {
                ("from", "ingestion points")
            } else {
                ("to", "consumers")
            };
            writeln!(
                out,
                "  {} ({}): every path {way} the target's {} {what} passes here",
                sanitize(&c.node),
                c.kind,
                c.of
            )?;
        }
    }
    if !g.cycles.is_empty() {
        writeln!(out, "\ncycles ({}):", g.cycles.len())?;
        for c in &g.cycles {
            writeln!(out, "  {}", sanitize(&c.join(" ⇄ ")))?;
        }
    }
    let shown;
    let (paths, truncated) = match &g.paths {
        Some(p) => (p, g.paths_truncated),
        None => {
            shown = crate::lineage::analysis::paths(g, 200);
            (&shown.0, shown.1)
        }
    };
    if paths.is_empty() {
        writeln!(out, "\nno path of data found")?;
    } else {
        writeln!(
            out,
            "\npaths ({}{}):",
            paths.len(),
            if truncated { ", more not shown" } else { "" }
        )?;
    }
    for p in paths {
        writeln!(
            out,
            "  {}  [weakest: {}]",
            sanitize(&label(&p.nodes[0])),
            p.confidence
        )?;
        for e in &p.steps {
            writeln!(
                out,
                "    └─{} {} via {} [{}] → {}",
                e.kind,
                e.time.as_deref().unwrap_or("?"),
                sanitize(e.actor.as_deref().unwrap_or("-")),
                e.confidence,
                sanitize(&label(&e.to))
            )?;
        }
    }
    writeln!(out, "\nedges ({}):", g.edges.len())?;
    let mut edges: Vec<&crate::lineage::Edge> = g.edges.iter().collect();
    edges.sort_by(|a, b| (&a.time, &a.from, &a.to).cmp(&(&b.time, &b.from, &b.to)));
    for e in edges {
        let mark = match e.integrity.as_str() {
            "validated" => "✓",
            "invalid" => "✗",
            _ => "?",
        };
        writeln!(
            out,
            "  {} {:<8} {} → {}  actor={} confidence={} integrity={}{} events={}{}",
            e.time.as_deref().unwrap_or("-"),
            e.kind,
            sanitize(&e.from),
            sanitize(&e.to),
            sanitize(e.actor.as_deref().unwrap_or("-")),
            e.confidence,
            mark,
            e.integrity,
            sanitize(&e.event_ids.join(",")),
            if e.named_by_request {
                " (named by the request, not observed)"
            } else {
                ""
            }
        )?;
    }
    Ok(())
}
