//! `trailgraph athena-ddl s3://BUCKET[/PREFIX] --account ...`: prints the Athena table for a trail bucket.

use super::{parse_when, Outcome};
use crate::collect::athena_ddl::{athena_ddl, DdlOptions};
use anyhow::Result;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The trail bucket: s3://BUCKET[/PREFIX] (the prefix above AWSLogs/, or down to AWSLogs/o-ORG).
    #[arg(value_name = "s3://BUCKET[/PREFIX]")]
    trail: String,
    /// Accounts whose logs the table reads (repeatable or comma-separated).
    #[arg(long, value_delimiter = ',', required = true)]
    account: Vec<String>,
    /// Regions the table reads (default: every Region).
    #[arg(long = "trail-region", value_delimiter = ',', value_name = "REGION")]
    trail_region: Vec<String>,
    /// Organization id, for an organization trail (also read from a trail given down to AWSLogs/o-ORG).
    #[arg(long, value_name = "o-ID")]
    org: Option<String>,
    /// Table name, DATABASE.TABLE or TABLE.
    #[arg(long, default_value = "cloudtrail_logs")]
    table: String,
    /// Also print the AWS Config table (ConfigHistory files), under this name: what
    /// `collect --via athena --athena-config-table` reads.
    #[arg(long, value_name = "DB.TABLE")]
    config_table: Option<String>,
    /// First day the table projects (default 2020-01-01).
    #[arg(long, value_parser = parse_when)]
    since: Option<i64>,
}

pub fn run(a: &Args) -> Result<Outcome> {
    let from = a
        .since
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y/%m/%d").to_string())
        .unwrap_or_else(|| "2020/01/01".into());
    let ddl = athena_ddl(&DdlOptions {
        trail: a.trail.clone(),
        table: a.table.clone(),
        org: a.org.clone(),
        accounts: a.account.clone(),
        regions: a.trail_region.clone(),
        from,
        config_table: a.config_table.clone(),
    })?;
    let mut out = super::output::stdout();
    out.write_all(ddl.as_bytes())?;
    out.flush()?;
    Ok(Outcome::Ok)
}
