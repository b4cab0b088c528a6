//! Canonical resource identity.
//!
//! A resource is named by a canonical key `TYPE|ACCOUNT|REGION|ID` where TYPE is the AWS Config resource type
//! (`AWS::S3::Bucket`), and ACCOUNT/REGION are empty for types whose names are global (S3) or account-wide (IAM).
//! The same key comes out of an ARN, out of a call's `requestParameters` (bucket name, role name, group id) and out
//! of a Config item, which is what lets the three meet.

use super::arn::Arn;

/// How a call touched a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// The resource the call is about (management calls, bucket of a data event).
    Target,
    /// Data was read from it (GetObject, the source of CopyObject, GetItem, Decrypt).
    Read,
    /// Data was written to or removed from it (PutObject, CopyObject destination, DeleteObject, PutItem).
    Write,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Target => "target",
            Access::Read => "read",
            Access::Write => "write",
        }
    }

    /// The stored form (`event_resource_rows.access`, migration 0013): 0 and 1 take no bytes in a SQLite record.
    pub fn code(self) -> i64 {
        match self {
            Access::Target => 0,
            Access::Read => 1,
            Access::Write => 2,
        }
    }

    /// The access a name (`target`, `read`, `write`) stands for.
    pub fn from_name(name: &str) -> Option<Access> {
        [Access::Target, Access::Read, Access::Write]
            .into_iter()
            .find(|a| a.as_str() == name)
    }
}

/// Where a resource's identity is unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Global,
    Account,
    Regional,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceRef {
    pub key: String,
    pub rtype: String,
    pub arn: Option<String>,
    pub account: String,
    pub region: String,
    /// The identifier inside the type: bucket name, `bucket/key`, role name, group id, key id, function name.
    pub id: String,
    /// Other names the user may look the resource up by (bucket name, role id, sg id, alias ARN...).
    pub aliases: Vec<String>,
    /// Keyed by an ARN of a shape trailgraph does not know (type guessed from the ARN).
    pub generic: bool,
}

/// (ARN service, ARN resource type) → (Config type, scope). The single table of known ARN shapes.
const ARN_TYPES: &[(&str, &str, &str, Scope)] = &[
    ("iam", "role", "AWS::IAM::Role", Scope::Account),
    ("iam", "user", "AWS::IAM::User", Scope::Account),
    ("iam", "group", "AWS::IAM::Group", Scope::Account),
    ("iam", "policy", "AWS::IAM::Policy", Scope::Account),
    (
        "iam",
        "instance-profile",
        "AWS::IAM::InstanceProfile",
        Scope::Account,
    ),
    (
        "iam",
        "saml-provider",
        "AWS::IAM::SAMLProvider",
        Scope::Account,
    ),
    (
        "iam",
        "oidc-provider",
        "AWS::IAM::OIDCProvider",
        Scope::Account,
    ),
    ("iam", "mfa", "AWS::IAM::MFADevice", Scope::Account),
    (
        "iam",
        "server-certificate",
        "AWS::IAM::ServerCertificate",
        Scope::Account,
    ),
    (
        "ec2",
        "security-group",
        "AWS::EC2::SecurityGroup",
        Scope::Regional,
    ),
    ("ec2", "instance", "AWS::EC2::Instance", Scope::Regional),
    ("ec2", "vpc", "AWS::EC2::VPC", Scope::Regional),
    ("ec2", "subnet", "AWS::EC2::Subnet", Scope::Regional),
    ("ec2", "volume", "AWS::EC2::Volume", Scope::Regional),
    ("ec2", "snapshot", "AWS::EC2::Snapshot", Scope::Regional),
    ("ec2", "image", "AWS::EC2::Image", Scope::Regional),
    (
        "ec2",
        "network-interface",
        "AWS::EC2::NetworkInterface",
        Scope::Regional,
    ),
    ("ec2", "key-pair", "AWS::EC2::KeyPair", Scope::Regional),
    (
        "ec2",
        "network-acl",
        "AWS::EC2::NetworkAcl",
        Scope::Regional,
    ),
    (
        "ec2",
        "route-table",
        "AWS::EC2::RouteTable",
        Scope::Regional,
    ),
    (
        "ec2",
        "internet-gateway",
        "AWS::EC2::InternetGateway",
        Scope::Regional,
    ),
    ("kms", "key", "AWS::KMS::Key", Scope::Regional),
    ("kms", "alias", "AWS::KMS::Alias", Scope::Regional),
    (
        "lambda",
        "function",
        "AWS::Lambda::Function",
        Scope::Regional,
    ),
    (
        "lambda",
        "layer",
        "AWS::Lambda::LayerVersion",
        Scope::Regional,
    ),
    ("glue", "job", "AWS::Glue::Job", Scope::Regional),
    ("glue", "table", "AWS::Glue::Table", Scope::Regional),
    ("glue", "database", "AWS::Glue::Database", Scope::Regional),
    ("glue", "crawler", "AWS::Glue::Crawler", Scope::Regional),
    (
        "athena",
        "workgroup",
        "AWS::Athena::WorkGroup",
        Scope::Regional,
    ),
    (
        "athena",
        "datacatalog",
        "AWS::Athena::DataCatalog",
        Scope::Regional,
    ),
    (
        "redshift",
        "cluster",
        "AWS::Redshift::Cluster",
        Scope::Regional,
    ),
    (
        "redshift-serverless",
        "workgroup",
        "AWS::RedshiftServerless::Workgroup",
        Scope::Regional,
    ),
    ("dynamodb", "table", "AWS::DynamoDB::Table", Scope::Regional),
    ("kinesis", "stream", "AWS::Kinesis::Stream", Scope::Regional),
    (
        "firehose",
        "deliverystream",
        "AWS::KinesisFirehose::DeliveryStream",
        Scope::Regional,
    ),
    (
        "cloudtrail",
        "trail",
        "AWS::CloudTrail::Trail",
        Scope::Regional,
    ),
    (
        "cloudtrail",
        "eventdatastore",
        "AWS::CloudTrail::EventDataStore",
        Scope::Regional,
    ),
    (
        "config",
        "config-rule",
        "AWS::Config::ConfigRule",
        Scope::Regional,
    ),
    (
        "secretsmanager",
        "secret",
        "AWS::SecretsManager::Secret",
        Scope::Regional,
    ),
    ("ssm", "parameter", "AWS::SSM::Parameter", Scope::Regional),
    ("logs", "log-group", "AWS::Logs::LogGroup", Scope::Regional),
    ("rds", "db", "AWS::RDS::DBInstance", Scope::Regional),
    ("rds", "cluster", "AWS::RDS::DBCluster", Scope::Regional),
    (
        "elasticmapreduce",
        "cluster",
        "AWS::EMR::Cluster",
        Scope::Regional,
    ),
    (
        "states",
        "stateMachine",
        "AWS::StepFunctions::StateMachine",
        Scope::Regional,
    ),
    ("events", "rule", "AWS::Events::Rule", Scope::Regional),
    (
        "sts",
        "assumed-role",
        "AWS::STS::AssumedRole",
        Scope::Account,
    ),
    (
        "sts",
        "federated-user",
        "AWS::STS::FederatedUser",
        Scope::Account,
    ),
];

/// Config types whose Config `resourceId` is an opaque id while users and calls name them by `resourceName`.
const NAMED_BY_NAME: &[&str] = &[
    "AWS::IAM::Role",
    "AWS::IAM::User",
    "AWS::IAM::Group",
    "AWS::IAM::Policy",
];

/// The AWS Config spelling of a resource type written in any case (`AWS::EC2::VOLUME` -> `AWS::EC2::Volume`), from
/// the generated list of Config types; `None` for a type not in it.
pub fn canonical_type(rtype: &str) -> Option<&'static str> {
    // Spellings of LookupEvents' `Resources[].ResourceType` that are no Config type name.
    const OTHER_SPELLINGS: &[(&str, &str)] = &[("AWS::EC2::Ami", "AWS::EC2::Image")];
    if let Some((_, t)) = OTHER_SPELLINGS
        .iter()
        .find(|(o, _)| o.eq_ignore_ascii_case(rtype))
    {
        return Some(t);
    }
    let types = super::resource_types::CONFIG_TYPES;
    types
        .binary_search_by(|t| cmp_ignore_case(t, rtype))
        .ok()
        .map(|i| types[i])
}

/// ASCII case-insensitive order, without allocating.
pub fn cmp_ignore_case(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|x| x.to_ascii_lowercase())
        .cmp(b.bytes().map(|x| x.to_ascii_lowercase()))
}

/// Whether a type is keyed by name (IAM, S3 buckets) rather than by Config's resourceId.
pub fn named_by_name(rtype: &str) -> bool {
    NAMED_BY_NAME.contains(&rtype) || rtype == "AWS::S3::Bucket"
}

fn scope_of(rtype: &str) -> Scope {
    if rtype.starts_with("AWS::S3::") {
        return Scope::Global;
    }
    ARN_TYPES
        .iter()
        .find(|(_, _, t, _)| *t == rtype)
        .map(|(_, _, _, s)| *s)
        .unwrap_or(Scope::Regional)
}

fn make_key(rtype: &str, account: &str, region: &str, id: &str) -> String {
    match scope_of(rtype) {
        Scope::Global => format!("{rtype}|||{id}"),
        Scope::Account => format!("{rtype}|{account}||{id}"),
        Scope::Regional => format!("{rtype}|{account}|{region}|{id}"),
    }
}

impl ResourceRef {
    /// A resource known by type and identifier (Config naming), e.g. from a call's parameters.
    /// `rtype` is taken as spelled: a type from outside (a record, a Config item, the user) goes through
    /// `canonical_type` first (`typed` does both), so `AWS::EC2::VOLUME` is never a second type.
    pub fn named(rtype: &str, account: &str, region: &str, id: &str) -> ResourceRef {
        let (account, region) = match scope_of(rtype) {
            Scope::Global => ("", ""),
            Scope::Account => (account, ""),
            Scope::Regional => (account, region),
        };
        ResourceRef {
            key: make_key(rtype, account, region, id),
            rtype: rtype.to_string(),
            arn: None,
            account: account.to_string(),
            region: region.to_string(),
            id: id.to_string(),
            aliases: Vec::new(),
            generic: false,
        }
    }

    /// `named` for a type spelled by someone else (a record's `resources[]`, LookupEvents): Config's spelling.
    pub fn typed(rtype: &str, account: &str, region: &str, id: &str) -> ResourceRef {
        ResourceRef::named(canonical_type(rtype).unwrap_or(rtype), account, region, id)
    }

    /// A resource of a known Config type named by an ARN of a shape not in the table (SNS topics, SQS queues...):
    /// the ARN is the identifier, account and region come from it, so CloudTrail and Config agree on the key.
    pub fn from_typed_arn(rtype: &str, text: &str) -> Option<ResourceRef> {
        let rtype = canonical_type(rtype).unwrap_or(rtype);
        // A shape trailgraph knows gives that type its own key (by name where the shape says so).
        if let Some(r) = ResourceRef::from_arn(text).filter(|r| !r.generic && r.rtype == rtype) {
            return Some(r);
        }
        let a = Arn::parse(text)?;
        let mut r = ResourceRef::named(rtype, &a.account, &a.region, text);
        r.arn = Some(text.to_string());
        Some(r)
    }

    pub fn s3_bucket(bucket: &str) -> ResourceRef {
        let mut r = ResourceRef::named("AWS::S3::Bucket", "", "", bucket);
        r.arn = Some(format!("arn:aws:s3:::{bucket}"));
        r
    }

    pub fn s3_object(bucket: &str, key: &str) -> ResourceRef {
        let id = format!("{bucket}/{key}");
        let mut r = ResourceRef::named("AWS::S3::Object", "", "", &id);
        r.arn = Some(format!("arn:aws:s3:::{id}"));
        r
    }

    /// The canonical resource for an ARN. Unknown shapes keep the ARN itself as identity.
    pub fn from_arn(text: &str) -> Option<ResourceRef> {
        let arn = Arn::parse(text)?;
        if arn.service == "s3" {
            if arn.resource.is_empty() {
                return None;
            }
            // Access points and other S3 ARNs with a region/account are kept as they are.
            if arn.account.is_empty() {
                let mut r = match arn.resource.split_once('/') {
                    Some((b, k)) if !k.is_empty() => ResourceRef::s3_object(b, k),
                    Some((b, _)) => ResourceRef::s3_bucket(b),
                    None => ResourceRef::s3_bucket(&arn.resource),
                };
                r.arn = Some(text.to_string());
                return Some(r);
            }
        }
        let known = ARN_TYPES
            .iter()
            .find(|(svc, t, _, _)| *svc == arn.service && *t == arn.resource_type);
        let mut r = match known {
            Some((_, _, rtype, _)) => {
                let id = match *rtype {
                    // Names are unique per account whatever the path: key by the last segment.
                    "AWS::IAM::Role"
                    | "AWS::IAM::User"
                    | "AWS::IAM::Group"
                    | "AWS::IAM::Policy"
                    | "AWS::IAM::InstanceProfile" => arn.last_segment().to_string(),
                    // Versions and aliases of a function are the same function.
                    "AWS::Lambda::Function" => arn
                        .resource
                        .split(':')
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                    // Stream and index ARNs of a table name the table.
                    "AWS::DynamoDB::Table" => arn
                        .resource
                        .split('/')
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                    _ => arn.resource.clone(),
                };
                let mut r = ResourceRef::named(rtype, &arn.account, &arn.region, &id);
                if *rtype == "AWS::KMS::Alias" {
                    r.aliases.push(format!("alias/{id}"));
                }
                r
            }
            // A shape of the IAM reference (generated table): typed as Config types it; keyed by the name or id
            // its format has after the type (`snapshot:${SnapshotName}`: how calls name it), else by the ARN.
            None if arn_shape(&arn).is_some() => {
                let (rtype, by_name) = arn_shape(&arn).unwrap_or_default();
                let id = if by_name { arn.resource.as_str() } else { text };
                ResourceRef::named(rtype, &arn.account, &arn.region, id)
            }
            None => {
                let rtype = generic_type(&arn);
                let mut r = ResourceRef::named(&rtype, &arn.account, &arn.region, text);
                r.key = format!("{rtype}|{text}");
                r.generic = true;
                r
            }
        };
        r.arn = Some(text.to_string());
        Some(r)
    }

    /// A resource named by a Config item: ARN first, then type + id (or name for IAM types).
    pub fn from_config(
        rtype: &str,
        account: &str,
        region: &str,
        resource_id: Option<&str>,
        resource_name: Option<&str>,
        arn: Option<&str>,
    ) -> Option<ResourceRef> {
        let rtype = canonical_type(rtype).unwrap_or(rtype);
        // An ARN keyed by the whole ARN keys the item only when it is the item's resourceId (ELBv2): otherwise the
        // resourceId does, where calls naming it by id meet it.
        let by_arn = arn
            .filter(|a| keyed_by_name(a) || resource_id == Some(*a))
            .and_then(ResourceRef::from_arn)
            .filter(|r| r.rtype == rtype);
        let mut r = match by_arn {
            Some(r) => r,
            None => {
                // IAM types and buckets are named by name; everything else by Config's resourceId.
                let id = if named_by_name(rtype) {
                    resource_name.or(resource_id)?
                } else {
                    resource_id.or(resource_name)?
                };
                let mut r = ResourceRef::named(rtype, account, region, id);
                r.arn = arn.map(str::to_string);
                r
            }
        };
        for a in [resource_id, resource_name].into_iter().flatten() {
            if !a.is_empty() && a != r.id && !r.aliases.iter().any(|x| x == a) {
                r.aliases.push(a.to_string());
            }
        }
        Some(r)
    }
}

/// The Config type of an ARN shape from the IAM reference (`resource_types::ARN_SHAPES`), by binary search, and
/// whether the name after the type keys it.
fn arn_shape(arn: &Arn) -> Option<(&'static str, bool)> {
    let shapes = super::resource_types::ARN_SHAPES;
    shapes
        .binary_search_by(|(s, t, _, _)| {
            (*s, *t).cmp(&(arn.service.as_str(), arn.resource_type.as_str()))
        })
        .ok()
        .map(|i| (shapes[i].2, shapes[i].3))
}

/// Whether an ARN keys its resource by the name calls use (S3, a hand-written shape of `ARN_TYPES`, or a shape of
/// the IAM reference with one name after the type), rather than by the whole ARN.
fn keyed_by_name(text: &str) -> bool {
    Arn::parse(text).is_some_and(|a| {
        a.service == "s3"
            || ARN_TYPES
                .iter()
                .any(|(svc, t, _, _)| *svc == a.service && *t == a.resource_type)
            || arn_shape(&a).is_some_and(|(_, by_name)| by_name)
    })
}

fn generic_type(arn: &Arn) -> String {
    fn camel(s: &str) -> String {
        s.split(['-', '_'])
            .filter(|p| !p.is_empty())
            .map(|p| {
                let mut c = p.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                    None => String::new(),
                }
            })
            .collect()
    }
    let t = if arn.resource_type.is_empty() {
        "Resource"
    } else {
        &arn.resource_type
    };
    format!("AWS::{}::{}", camel(&arn.service), camel(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_and_name_meet_on_one_key() {
        let by_arn =
            ResourceRef::from_arn("arn:aws:iam::111122223333:role/service-role/Loader").unwrap();
        let by_name = ResourceRef::named("AWS::IAM::Role", "111122223333", "us-east-1", "Loader");
        assert_eq!(by_arn.key, by_name.key);
        assert_eq!(by_arn.key, "AWS::IAM::Role|111122223333||Loader");

        let b = ResourceRef::from_arn("arn:aws:s3:::logs-bucket").unwrap();
        assert_eq!(b.key, ResourceRef::s3_bucket("logs-bucket").key);
        let o = ResourceRef::from_arn("arn:aws:s3:::logs-bucket/a/b.csv").unwrap();
        assert_eq!(
            (o.rtype.as_str(), o.id.as_str()),
            ("AWS::S3::Object", "logs-bucket/a/b.csv")
        );

        let sg = ResourceRef::from_arn("arn:aws:ec2:us-east-1:111122223333:security-group/sg-1")
            .unwrap();
        assert_eq!(
            sg.key,
            ResourceRef::named(
                "AWS::EC2::SecurityGroup",
                "111122223333",
                "us-east-1",
                "sg-1"
            )
            .key
        );

        let f = ResourceRef::from_arn("arn:aws:lambda:us-east-1:111122223333:function:etl:PROD")
            .unwrap();
        assert_eq!(f.key, "AWS::Lambda::Function|111122223333|us-east-1|etl");

        let c = ResourceRef::from_config(
            "AWS::IAM::Role",
            "111122223333",
            "global",
            Some("AROAEXAMPLE"),
            Some("Loader"),
            Some("arn:aws:iam::111122223333:role/service-role/Loader"),
        )
        .unwrap();
        assert_eq!(c.key, by_arn.key);
        assert!(c.aliases.contains(&"AROAEXAMPLE".to_string()));

        // A shape known from the IAM reference's ARN formats is typed as Config types it, keyed by the ARN.
        let topic_arn = ResourceRef::from_arn("arn:aws:sns:us-east-1:111122223333:alerts").unwrap();
        assert_eq!(topic_arn.rtype, "AWS::SNS::Topic");
        // A shape known nowhere gets a type guessed from the ARN.
        let odd = ResourceRef::from_arn("arn:aws:nosuch:us-east-1:111122223333:thing/x").unwrap();
        assert_eq!(odd.rtype, "AWS::Nosuch::Thing");
        assert!(odd.generic);
        // With a type (Config item, or resources[] of a record) both sides meet.
        let topic = "arn:aws:sns:us-east-1:111122223333:alerts";
        let from_config = ResourceRef::from_config(
            "AWS::SNS::Topic",
            "111122223333",
            "us-east-1",
            Some(topic),
            Some("alerts"),
            Some(topic),
        )
        .unwrap();
        assert_eq!(
            from_config.key,
            ResourceRef::from_typed_arn("AWS::SNS::Topic", topic)
                .unwrap()
                .key
        );
        assert_eq!(from_config.key, topic_arn.key);
        assert!(ResourceRef::from_arn("bucket-name").is_none());
    }

    #[test]
    fn types_are_spelled_as_config_spells_them() {
        let types = crate::model::resource_types::CONFIG_TYPES;
        assert!(types
            .windows(2)
            .all(|w| cmp_ignore_case(w[0], w[1]).is_lt()));
        for (given, want) in [
            ("AWS::EC2::VOLUME", Some("AWS::EC2::Volume")),
            ("aws::ec2::volume", Some("AWS::EC2::Volume")),
            ("AWS::EC2::Volume", Some("AWS::EC2::Volume")),
            ("AWS::EC2::Ami", Some("AWS::EC2::Image")),
            ("AWS::RDS::DBSNAPSHOT", Some("AWS::RDS::DBSnapshot")),
            ("AWS::Nope::Thing", None),
            ("", None),
        ] {
            assert_eq!(canonical_type(given), want, "{given}");
        }
        let a = ResourceRef::typed("AWS::EC2::VOLUME", "1", "r", "vol-1");
        let b = ResourceRef::named("AWS::EC2::Volume", "1", "r", "vol-1");
        assert_eq!((a.key, a.rtype), (b.key, b.rtype));
    }
}
