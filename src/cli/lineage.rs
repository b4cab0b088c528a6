//! `trailgraph lineage` and `trailgraph export`.

use super::output::sanitize;
use super::{parse_when, Outcome};
use crate::export::ExportFormat;
use crate::lineage::graph::edge;
use crate::lineage::{Direction, Graph, LineageQuery};
use crate::store::Store;
use anyhow::Result;
use clap::ValueEnum;
use std::collections::{BTreeMap, BTreeSet};
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
    /// `s3://bucket/key`, `s3://bucket/prefix/`, a Glue job name, a job run id or an Athena query id.
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
    } else if args.downstream {
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
    };
    let g = crate::lineage::lineage(&store, &q, args.limit, &args.min_confidence)?;
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

/// Paths of data (dataset → dataset through copies and derivations), then every edge with its evidence.
fn table(g: &Graph, out: &mut dyn Write) -> Result<()> {
    let flows: Vec<&crate::lineage::Edge> = g
        .edges
        .iter()
        .filter(|e| e.kind == edge::DERIVED || e.kind == edge::COPY)
        .collect();
    let mut next: BTreeMap<&str, Vec<&crate::lineage::Edge>> = BTreeMap::new();
    let mut has_in: BTreeSet<&str> = BTreeSet::new();
    for e in &flows {
        next.entry(e.from.as_str()).or_default().push(e);
        has_in.insert(e.to.as_str());
    }
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
    let starts: Vec<&str> = next
        .keys()
        .copied()
        .filter(|k| !has_in.contains(k))
        .collect();
    let mut paths = Vec::new();
    for s in starts {
        let mut stack: Vec<(Vec<&crate::lineage::Edge>, &str)> = vec![(Vec::new(), s)];
        while let Some((path, at)) = stack.pop() {
            let outs: Vec<&&crate::lineage::Edge> = next
                .get(at)
                .map(|v| {
                    v.iter()
                        .filter(|e| {
                            path.last()
                                .is_none_or(|p: &&crate::lineage::Edge| e.last_time > p.time)
                                && !path.iter().any(|p| p.from == e.to)
                        })
                        .collect()
                })
                .unwrap_or_default();
            if outs.is_empty() || path.len() >= 12 {
                if !path.is_empty() {
                    paths.push(path);
                }
                continue;
            }
            for e in outs {
                let mut p = path.clone();
                p.push(*e);
                stack.push((p, e.to.as_str()));
            }
            if paths.len() > 200 {
                break;
            }
        }
    }
    paths.sort_by(|a, b| {
        a.iter()
            .map(|e| (&e.from, &e.to))
            .cmp(b.iter().map(|e| (&e.from, &e.to)))
    });
    paths.dedup();
    if paths.is_empty() {
        writeln!(out, "\nno dataset-to-dataset path found")?;
    } else {
        writeln!(out, "\npaths ({}):", paths.len())?;
    }
    for p in paths.iter().take(200) {
        writeln!(out, "  {}", sanitize(&label(&p[0].from)))?;
        for e in p {
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
            "  {} {:<8} {} → {}  actor={} confidence={} integrity={}{} events={}",
            e.time.as_deref().unwrap_or("-"),
            e.kind,
            sanitize(&e.from),
            sanitize(&e.to),
            sanitize(e.actor.as_deref().unwrap_or("-")),
            e.confidence,
            mark,
            e.integrity,
            sanitize(&e.event_ids.join(","))
        )?;
    }
    Ok(())
}
