//! `trailgraph athena-ddl`: the `CREATE EXTERNAL TABLE` that lets Athena read a trail bucket, with partition
//! projection over account, region and day (no `ALTER TABLE ADD PARTITION`, no crawler), for a single-account or an
//! organization trail. The columns are those of AWS's documented CloudTrail table, so the SQL of
//! `collect --via athena` and the queries of AWS's guide both run on it.

use anyhow::{bail, Result};

/// Every AWS Region that CloudTrail delivers from (commercial partition), the default region projection.
pub const REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// What the table is made for.
#[derive(Debug, Clone)]
pub struct DdlOptions {
    /// `s3://BUCKET[/PREFIX]`: the prefix above `AWSLogs/`, or down to `AWSLogs/o-ORG`.
    pub trail: String,
    /// `DATABASE.TABLE` or `TABLE`.
    pub table: String,
    /// Organization id (`o-...`), when the trail is an organization trail.
    pub org: Option<String>,
    /// Accounts to project (12 digits each); at least one.
    pub accounts: Vec<String>,
    /// Regions to project (default: every Region).
    pub regions: Vec<String>,
    /// First day of the projection, `YYYY/MM/DD`.
    pub from: String,
    /// Also the AWS Config table, under this name (`collect --via athena --athena-config-table`).
    pub config_table: Option<String>,
}

fn check(what: &str, v: &str, ok: impl Fn(char) -> bool) -> Result<()> {
    if v.is_empty() || !v.chars().all(ok) {
        bail!("{what} {v:?}: not allowed in a table definition");
    }
    Ok(())
}

/// The statement. Every value that reaches it is checked against the characters its kind allows (bucket names,
/// prefixes, identifiers, account ids, regions), so nothing the user types can change the statement's structure.
pub fn athena_ddl(o: &DdlOptions) -> Result<String> {
    let rest = o
        .trail
        .strip_prefix("s3://")
        .ok_or_else(|| anyhow::anyhow!("{:?}: expected s3://BUCKET[/PREFIX]", o.trail))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    check("bucket", bucket, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c)
    })?;
    let mut prefix: Vec<&str> = prefix.split('/').filter(|p| !p.is_empty()).collect();
    for p in &prefix {
        check("prefix part", p, |c| {
            c.is_ascii_alphanumeric() || "!-_.*()=".contains(c)
        })?;
    }
    // A trail given down to AWSLogs[/o-ORG]: keep the part above AWSLogs, take the org from the path.
    let mut org = o.org.clone();
    if let Some(i) = prefix.iter().position(|p| *p == "AWSLogs") {
        if let Some(o2) = prefix.get(i + 1).filter(|p| p.starts_with("o-")) {
            org.get_or_insert_with(|| o2.to_string());
        }
        prefix.truncate(i);
    }
    if let Some(org) = &org {
        check("organization id", org, |c| {
            c.is_ascii_alphanumeric() || c == '-'
        })?;
        if !org.starts_with("o-") {
            bail!("organization id {org:?}: expected o-...");
        }
    }
    for t in std::iter::once(&o.table).chain(o.config_table.iter()) {
        check("table", t, |c| {
            c.is_ascii_alphanumeric() || "_.".contains(c)
        })?;
    }
    if o.accounts.is_empty() {
        bail!("give the accounts to project with --account (comma-separated 12-digit ids)");
    }
    for a in &o.accounts {
        if !(a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())) {
            bail!("--account {a:?}: not a 12-digit account id");
        }
    }
    let regions: Vec<String> = if o.regions.is_empty() {
        REGIONS.iter().map(|r| r.to_string()).collect()
    } else {
        o.regions.clone()
    };
    for r in &regions {
        check("region", r, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
        })?;
    }
    let from_ok =
        o.from.len() == 10 && chrono::NaiveDate::parse_from_str(&o.from, "%Y/%m/%d").is_ok();
    if !from_ok {
        bail!("--from {:?}: expected YYYY/MM/DD", o.from);
    }
    let mut base = format!("s3://{bucket}/");
    for p in &prefix {
        base.push_str(p);
        base.push('/');
    }
    base.push_str("AWSLogs/");
    // AWS Config delivers under AWSLogs/ACCOUNT/Config/, without the organization id of an organization trail.
    let config_base = base.clone();
    if let Some(org) = &org {
        base.push_str(org);
        base.push('/');
    }
    let from_config = chrono::NaiveDate::parse_from_str(&o.from, "%Y/%m/%d")
        .map(|d| d.format("%Y/%-m/%-d").to_string())
        .unwrap_or_default();
    let (accounts, regions) = (o.accounts.join(","), regions.join(","));
    let config = match &o.config_table {
        None => String::new(),
        // AWS Config's history files: one JSON document per file, the items in `configurationItems`; days are
        // not zero-padded in Config's keys (`2024/3/1`).
        Some(t) => format!(
            "
CREATE EXTERNAL TABLE {t} (
    fileversion STRING,
    configurationitems ARRAY<STRUCT<
        configurationitemversion: STRING,
        configurationitemcapturetime: STRING,
        configurationstateid: BIGINT,
        awsaccountid: STRING,
        configurationitemstatus: STRING,
        resourcetype: STRING,
        resourceid: STRING,
        resourcename: STRING,
        arn: STRING,
        awsregion: STRING,
        availabilityzone: STRING,
        configurationstatemd5hash: STRING,
        resourcecreationtime: STRING>>
)
PARTITIONED BY (
    `account` STRING,
    `region` STRING,
    `dt` STRING
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true')
LOCATION '{config_base}'
{props}
",
            props = projection(
                &accounts,
                &regions,
                ("dt", "yyyy/M/d", &from_config),
                &format!("{config_base}${{account}}/Config/${{region}}/${{dt}}/ConfigHistory"),
            ),
        ),
    };
    Ok(format!(
        "CREATE EXTERNAL TABLE {table} (
    eventversion STRING,
    useridentity STRUCT<
        type: STRING,
        principalid: STRING,
        arn: STRING,
        accountid: STRING,
        invokedby: STRING,
        accesskeyid: STRING,
        username: STRING,
        onbehalfof: STRUCT<
            userid: STRING,
            identitystorearn: STRING>,
        sessioncontext: STRUCT<
            attributes: STRUCT<
                mfaauthenticated: STRING,
                creationdate: STRING>,
            sessionissuer: STRUCT<
                type: STRING,
                principalid: STRING,
                arn: STRING,
                accountid: STRING,
                username: STRING>,
            ec2roledelivery: STRING,
            webidfederationdata: STRUCT<
                federatedprovider: STRING,
                attributes: MAP<STRING, STRING>>
        >
    >,
    eventtime STRING,
    eventsource STRING,
    eventname STRING,
    awsregion STRING,
    sourceipaddress STRING,
    useragent STRING,
    errorcode STRING,
    errormessage STRING,
    requestparameters STRING,
    responseelements STRING,
    additionaleventdata STRING,
    requestid STRING,
    eventid STRING,
    readonly STRING,
    resources ARRAY<STRUCT<
        arn: STRING,
        accountid: STRING,
        type: STRING>>,
    eventtype STRING,
    apiversion STRING,
    recipientaccountid STRING,
    serviceeventdetails STRING,
    sharedeventid STRING,
    vpcendpointid STRING,
    eventcategory STRING,
    tlsdetails STRUCT<
        tlsversion: STRING,
        ciphersuite: STRING,
        clientprovidedhostheader: STRING>
)
PARTITIONED BY (
    `account` STRING,
    `region` STRING,
    `timestamp` STRING
)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '{base}'
{props}
{config}",
        table = o.table,
        props = projection(
            &accounts,
            &regions,
            ("timestamp", "yyyy/MM/dd", &o.from),
            &format!("{base}${{account}}/CloudTrail/${{region}}/${{timestamp}}"),
        ),
    ))
}

/// The TBLPROPERTIES of a table projected over account, region and a day column `(name, format, first day)`, its
/// files found through `template`: Athena computes the partitions, nobody ever adds one.
fn projection(accounts: &str, regions: &str, day: (&str, &str, &str), template: &str) -> String {
    let (d, format, from) = day;
    format!(
        "TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.account.type' = 'enum',
    'projection.account.values' = '{accounts}',
    'projection.region.type' = 'enum',
    'projection.region.values' = '{regions}',
    'projection.{d}.type' = 'date',
    'projection.{d}.format' = '{format}',
    'projection.{d}.interval' = '1',
    'projection.{d}.interval.unit' = 'DAYS',
    'projection.{d}.range' = '{from},NOW',
    'storage.location.template' = '{template}'
);"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(trail: &str) -> DdlOptions {
        DdlOptions {
            trail: trail.into(),
            table: "trail.cloudtrail_logs".into(),
            org: None,
            accounts: vec!["111122223333".into(), "444455556666".into()],
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            from: "2024/01/01".into(),
            config_table: None,
        }
    }

    #[test]
    fn organization_layout_from_the_path() {
        let ddl = athena_ddl(&opts("s3://org-trail/logs/AWSLogs/o-abc123def4")).unwrap();
        assert!(
            ddl.contains("LOCATION 's3://org-trail/logs/AWSLogs/o-abc123def4/'"),
            "{ddl}"
        );
        assert!(ddl.contains(
            "'storage.location.template' = 's3://org-trail/logs/AWSLogs/o-abc123def4/${account}/CloudTrail/${region}/${timestamp}'"
        ));
        assert!(ddl.contains("'projection.account.values' = '111122223333,444455556666'"));
        assert!(ddl.contains("'projection.region.values' = 'us-east-1,eu-west-1'"));
        assert!(ddl.starts_with("CREATE EXTERNAL TABLE trail.cloudtrail_logs ("));
        let single = athena_ddl(&opts("s3://b")).unwrap();
        assert!(single.contains("LOCATION 's3://b/AWSLogs/'"));
    }

    #[test]
    fn the_config_table_reads_config_history_by_unpadded_day() {
        let ddl = athena_ddl(&DdlOptions {
            config_table: Some("trail.config_items".into()),
            ..opts("s3://org-trail/AWSLogs/o-abc123def4")
        })
        .unwrap();
        assert!(
            ddl.contains("CREATE EXTERNAL TABLE trail.config_items ("),
            "{ddl}"
        );
        assert!(ddl.contains("'projection.dt.format' = 'yyyy/M/d'"));
        assert!(ddl.contains("'projection.dt.range' = '2024/1/1,NOW'"));
        assert!(ddl.contains(
            "'storage.location.template' = 's3://org-trail/AWSLogs/${account}/Config/${region}/${dt}/ConfigHistory'"
        ));
        assert!(athena_ddl(&DdlOptions {
            config_table: Some("t'x".into()),
            ..opts("s3://b")
        })
        .is_err());
    }

    #[test]
    fn hostile_values_are_refused() {
        assert!(athena_ddl(&opts("s3://b/x'y")).is_err());
        assert!(athena_ddl(&DdlOptions {
            table: "t; DROP TABLE x".into(),
            ..opts("s3://b")
        })
        .is_err());
        assert!(athena_ddl(&DdlOptions {
            accounts: vec!["1234".into()],
            ..opts("s3://b")
        })
        .is_err());
        assert!(athena_ddl(&DdlOptions {
            regions: vec!["us-east-1'".into()],
            ..opts("s3://b")
        })
        .is_err());
        assert!(athena_ddl(&DdlOptions {
            from: "2024-01-01".into(),
            ..opts("s3://b")
        })
        .is_err());
        assert!(athena_ddl(&DdlOptions {
            accounts: vec![],
            ..opts("s3://b")
        })
        .is_err());
    }
}
