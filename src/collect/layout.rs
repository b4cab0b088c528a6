//! The trail bucket's key layout, used to list only what a window needs:
//! `[prefix/]AWSLogs/[o-org/]ACCOUNT/SERVICE/REGION/YYYY/MM/DD/NAME`.
//! CloudTrail and its digests use zero-padded dates (`2024/03/01`), AWS Config does not (`2024/3/1`).

use chrono::{DateTime, Datelike, Days, NaiveDate};

/// The services whose files `collect` fetches.
pub const SERVICES: &[&str] = &["CloudTrail", "CloudTrail-Digest", "Config"];

/// What to fetch: accounts and regions (empty = all) and a time window (epoch ms).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// Most days a window may span before listing day by day stops paying: then each region is listed whole.
pub const MAX_DAYS: usize = 1000;

impl Filter {
    pub fn account_ok(&self, account: &str) -> bool {
        self.accounts.is_empty() || self.accounts.iter().any(|a| a == account)
    }

    pub fn region_ok(&self, region: &str) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|r| r == region)
    }

    /// The days whose prefixes hold the window's files, or None when there is no window (list everything).
    /// A file is delivered after the events it holds, so the day after `until` is included: an event of
    /// 23:58 lands in a file of the next day. Without `until` the window ends today.
    pub fn days(&self) -> Option<Vec<NaiveDate>> {
        if self.since.is_none() && self.until.is_none() {
            return None;
        }
        let today = chrono::Utc::now().date_naive();
        let first = match self.since {
            Some(ms) => date_of(ms)?,
            None => return None,
        };
        let last = self
            .until
            .and_then(date_of)
            .unwrap_or(today)
            .checked_add_days(Days::new(1))?;
        let mut out = Vec::new();
        let mut d = first;
        while d <= last {
            out.push(d);
            if out.len() > MAX_DAYS {
                return None;
            }
            d = d.checked_add_days(Days::new(1))?;
        }
        Some(out)
    }

    /// Whether a listed key is wanted: its layout's account, region and date (when it has them) pass.
    pub fn keep(&self, key: &str) -> bool {
        let Some(l) = parse_key(key) else {
            return true;
        };
        if !self.account_ok(l.account) || !self.region_ok(l.region) {
            return false;
        }
        if !SERVICES.contains(&l.service) {
            return false;
        }
        match (l.date, self.days()) {
            (Some(d), Some(days)) => days.contains(&d),
            _ => true,
        }
    }
}

fn date_of(ms: i64) -> Option<NaiveDate> {
    DateTime::from_timestamp_millis(ms).map(|t| t.date_naive())
}

/// The date directory of a service: `YYYY/MM/DD/`, or `Y/M/D/` for Config.
pub fn day_prefix(service: &str, d: NaiveDate) -> String {
    if service == "Config" {
        format!("{}/{}/{}/", d.year(), d.month(), d.day())
    } else {
        format!("{:04}/{:02}/{:02}/", d.year(), d.month(), d.day())
    }
}

/// The parts of a key in the trail layout.
#[derive(Debug, PartialEq, Eq)]
pub struct KeyParts<'a> {
    pub org: Option<&'a str>,
    pub account: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub date: Option<NaiveDate>,
}

pub fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

pub fn parse_key(key: &str) -> Option<KeyParts<'_>> {
    let parts: Vec<&str> = key.split('/').collect();
    let i = parts.iter().rposition(|p| *p == "AWSLogs")?;
    let mut j = i + 1;
    let org = parts.get(j).filter(|p| p.starts_with("o-")).copied();
    if org.is_some() {
        j += 1;
    }
    let account = *parts.get(j).filter(|p| is_account(p))?;
    let service = *parts.get(j + 1)?;
    let region = *parts.get(j + 2)?;
    if parts.len() <= j + 3 {
        return None;
    }
    let num = |k: usize| parts.get(k).and_then(|p| p.parse::<u32>().ok());
    let date = match (num(j + 3), num(j + 4), num(j + 5)) {
        (Some(y), Some(m), Some(d)) if parts.len() > j + 6 => {
            NaiveDate::from_ymd_opt(y as i32, m, d)
        }
        _ => None,
    };
    Some(KeyParts {
        org,
        account,
        service,
        region,
        date,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn days_of_a_window_include_the_next_day() {
        let f = Filter {
            since: Some(ms("2024-03-01T10:00:00Z")),
            until: Some(ms("2024-03-02T23:00:00Z")),
            ..Filter::default()
        };
        let days: Vec<String> = f.days().unwrap().iter().map(|d| d.to_string()).collect();
        assert_eq!(days, ["2024-03-01", "2024-03-02", "2024-03-03"]);
        assert_eq!(Filter::default().days(), None);
    }

    #[test]
    fn day_prefixes_per_service() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        assert_eq!(day_prefix("CloudTrail", d), "2024/03/01/");
        assert_eq!(day_prefix("CloudTrail-Digest", d), "2024/03/01/");
        assert_eq!(day_prefix("Config", d), "2024/3/1/");
    }

    #[test]
    fn keys_are_parsed_and_filtered() {
        let k = "p/AWSLogs/o-abc/111122223333/CloudTrail/eu-west-1/2024/03/01/111122223333_CloudTrail_eu-west-1_x.json.gz";
        let p = parse_key(k).unwrap();
        assert_eq!(
            (
                p.org,
                p.account,
                p.service,
                p.region,
                p.date.map(|d| d.to_string())
            ),
            (
                Some("o-abc"),
                "111122223333",
                "CloudTrail",
                "eu-west-1",
                Some("2024-03-01".to_string())
            )
        );
        let c = "AWSLogs/111122223333/Config/us-east-1/2024/3/1/ConfigHistory/x.json.gz";
        assert_eq!(
            parse_key(c).unwrap().date.map(|d| d.to_string()).as_deref(),
            Some("2024-03-01")
        );
        let f = Filter {
            accounts: vec!["111122223333".into()],
            regions: vec!["eu-west-1".into()],
            since: Some(ms("2024-03-01T00:00:00Z")),
            until: Some(ms("2024-03-01T12:00:00Z")),
        };
        assert!(f.keep(k));
        assert!(!f.keep(&k.replace("eu-west-1", "us-east-1")));
        assert!(!f.keep(&k.replace("111122223333", "999988887777")));
        assert!(!f.keep(&k.replace("2024/03/01", "2024/03/05")));
        assert!(!f.keep(&k.replace("/CloudTrail/", "/CloudTrail-Insight/")));
        assert!(f.keep("notes/readme.txt"));
    }
}
