//! ARN parsing: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, where RESOURCE is `type/id`, `type:id` or `id`.

/// A parsed ARN. Borrowing would be cheaper, but ARNs are short and owned values keep the callers simple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    /// The resource type (`role`, `function`, `security-group`...), empty when the resource part has none (S3).
    pub resource_type: String,
    /// Everything after the resource type and its separator (may itself contain `/` or `:`).
    pub resource: String,
}

impl Arn {
    /// Parses an ARN. Returns `None` unless the text has the six `:`-separated parts with `arn` first.
    pub fn parse(s: &str) -> Option<Arn> {
        let mut parts = s.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?;
        let service = parts.next()?;
        let region = parts.next()?;
        let account = parts.next()?;
        let rest = parts.next()?;
        if partition.is_empty() || service.is_empty() {
            return None;
        }
        let (resource_type, resource) = split_resource(service, rest);
        Some(Arn {
            partition: partition.to_string(),
            service: service.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            resource_type: resource_type.to_string(),
            resource: resource.to_string(),
        })
    }

    /// The last path segment of the resource: the name of an IAM role with a path, an S3 key's file name...
    pub fn last_segment(&self) -> &str {
        self.resource.rsplit('/').next().unwrap_or(&self.resource)
    }
}

/// (account, role name) of an assumed-role session ARN `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`,
/// borrowed (ingest asks this of every role session's call).
pub fn session_role(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (arn_word, _partition, service, _region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let role = resource.strip_prefix("assumed-role/")?.split('/').next()?;
    (arn_word == "arn" && service == "sts" && !role.is_empty()).then_some((account, role))
}

/// A `principalId` split into the principal's unique id (`AROA...` of a role, `AIDA...` of a user: upper-case
/// letters and digits, 16 or more) and what follows its `:` (a role session's name). None when the text does not
/// start with such an id.
pub fn unique_id(principal_id: &str) -> Option<(&str, Option<&str>)> {
    let (id, rest) = match principal_id.split_once(':') {
        Some((id, rest)) => (id, Some(rest)),
        None => (principal_id, None),
    };
    let unique = id.len() >= 16
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    unique.then_some((id, rest))
}

fn split_resource<'a>(service: &str, rest: &'a str) -> (&'a str, &'a str) {
    // S3 bucket and object ARNs have no type: `arn:aws:s3:::bucket/key`.
    if service == "s3" {
        return ("", rest);
    }
    let slash = rest.find('/');
    let colon = rest.find(':');
    match (slash, colon) {
        (Some(s), Some(c)) if c < s => (&rest[..c], &rest[c + 1..]),
        (Some(s), _) => (&rest[..s], &rest[s + 1..]),
        (None, Some(c)) => (&rest[..c], &rest[c + 1..]),
        (None, None) => ("", rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_arns_and_principal_ids() {
        assert_eq!(
            session_role("arn:aws:sts::111:assumed-role/Admin/bob"),
            Some(("111", "Admin"))
        );
        assert_eq!(session_role("arn:aws:iam::111:role/Admin"), None);
        assert_eq!(session_role("arn:aws:sts::111:federated-user/bob"), None);
        assert_eq!(
            unique_id("AROATFQR7NSCWWVLB7BES:aws-go-sdk-1"),
            Some(("AROATFQR7NSCWWVLB7BES", Some("aws-go-sdk-1")))
        );
        assert_eq!(
            unique_id("AIDAN7SEM6PEVTNQR8M4"),
            Some(("AIDAN7SEM6PEVTNQR8M4", None))
        );
        assert_eq!(unique_id("arn:aws:sts::111:federated-user/bob"), None);
        assert_eq!(unique_id("erin"), None);
    }

    #[test]
    fn parses_real_arns() {
        let cases = [
            (
                "arn:aws:iam::123456789012:role/service-role/MyRole",
                ("iam", "", "123456789012", "role", "service-role/MyRole"),
            ),
            (
                "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com",
                (
                    "sts",
                    "",
                    "123456789012",
                    "assumed-role",
                    "Admin/alice@example.com",
                ),
            ),
            (
                "arn:aws:s3:::my-bucket/path/to/key.csv",
                ("s3", "", "", "", "my-bucket/path/to/key.csv"),
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:fn:PROD",
                ("lambda", "us-east-1", "123456789012", "function", "fn:PROD"),
            ),
            (
                "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0abc",
                (
                    "ec2",
                    "eu-west-1",
                    "123456789012",
                    "security-group",
                    "sg-0abc",
                ),
            ),
            (
                "arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab",
                ("kms", "cn-north-1", "123456789012", "key", "1234abcd-12ab"),
            ),
            (
                "arn:aws:glue:us-east-1:123456789012:table/db/tbl",
                ("glue", "us-east-1", "123456789012", "table", "db/tbl"),
            ),
            (
                "arn:aws:sns:us-east-1:123456789012:topic-name",
                ("sns", "us-east-1", "123456789012", "", "topic-name"),
            ),
        ];
        for (text, (svc, region, account, rtype, res)) in cases {
            let a = Arn::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(
                (a.service.as_str(), a.region.as_str(), a.account.as_str()),
                (svc, region, account),
                "{text}"
            );
            assert_eq!(
                (a.resource_type.as_str(), a.resource.as_str()),
                (rtype, res),
                "{text}"
            );
        }
        assert_eq!(
            Arn::parse("arn:aws:iam::1:role/a/b/Name")
                .unwrap()
                .last_segment(),
            "Name"
        );
        for bad in ["", "arn:aws", "not-an-arn", "arn::s3:::x", "ARN:aws:s3:::b"] {
            assert!(Arn::parse(bad).is_none(), "{bad}");
        }
    }
}
