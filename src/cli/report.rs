//! `trailgraph report`: one self-contained HTML evidence file.

use super::{parse_when, Outcome};
use crate::report::ReportQuery;
use crate::store::Store;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A resource to show the change history of (ARN, name or id; repeatable).
    #[arg(long = "resource", value_name = "R")]
    resources: Vec<String>,
    /// A principal to show the timeline of (ARN, user or role name, key; repeatable).
    #[arg(long = "principal", value_name = "P")]
    principals: Vec<String>,
    #[arg(long, value_parser = parse_when)]
    since: Option<i64>,
    #[arg(long, value_parser = parse_when)]
    until: Option<i64>,
    /// The HTML file to write (`-` for standard output).
    #[arg(short, long, value_name = "report.html")]
    output: PathBuf,
    /// Rows at most per table (changes, failed attempts, timeline calls).
    #[arg(long, default_value_t = 200)]
    limit: usize,
    /// Lineage edges at most per S3 resource.
    #[arg(long, default_value_t = 300)]
    lineage_limit: usize,
    /// Do not draw lineage with Graphviz (list the edges as text only).
    #[arg(long)]
    no_graphviz: bool,
}

pub fn run(db: &Path, args: &Args) -> Result<Outcome> {
    let store = Store::open_read_only(db)?;
    let page = crate::report::build(
        &store,
        &ReportQuery {
            resources: args.resources.clone(),
            principals: args.principals.clone(),
            since: args.since,
            until: args.until,
            limit: args.limit.max(1),
            lineage_limit: args.lineage_limit.max(1),
            graphviz: !args.no_graphviz,
        },
    )?;
    if args.output.as_os_str() == "-" {
        let mut out = super::output::stdout();
        out.write_all(page.as_bytes())?;
        out.flush()?;
    } else {
        // Written next to the target and renamed: a reader never sees half a report.
        let tmp = args.output.with_extension("html.tmp");
        std::fs::write(&tmp, page.as_bytes())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &args.output)
            .with_context(|| format!("cannot write {}", args.output.display()))?;
    }
    Ok(Outcome::Ok)
}
