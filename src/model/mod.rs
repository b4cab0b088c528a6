//! The normalized values that parsers produce and the store keeps. Knows nothing of files, SQL or the CLI.

pub mod arn;
pub mod integrity;
pub mod json;
pub mod resource;
#[rustfmt::skip]
pub mod resource_types;
pub mod text;
pub mod time;

pub use resource::{Access, ResourceRef};

/// One CloudTrail event, normalized. `raw` keeps the record exactly as it arrived.
#[derive(Debug, Clone, Default)]
pub struct Event {
    /// `eventID`, or `tg-` + a content hash when the record has none (see `docs/ingest.md`).
    pub event_id: String,
    pub recipient_account: String,
    pub time_ms: Option<i64>,
    pub event_version: Option<String>,
    pub event_source: String,
    pub event_name: String,
    pub region: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub request_id: Option<String>,
    pub event_type: Option<String>,
    pub event_category: Option<String>,
    pub read_only: Option<bool>,
    pub management_event: Option<bool>,
    pub shared_event_id: Option<String>,
    pub vpc_endpoint_id: Option<String>,
    pub identity: Identity,
    pub resources: Vec<(ResourceRef, Access)>,
    pub issued: Option<IssuedCredentials>,
    /// XXH3-64 of `raw`: a byte-identical re-delivery is known without reading it back. (Stores written before
    /// schema 12 hold 8 bytes of SHA-256 there: such a row never matches, and the record is compared instead.)
    pub raw_hash: i64,
    pub raw: String,
}

/// Who made a call, as logged plus its normalized principal.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// `userIdentity.type` as logged (None when missing).
    pub utype: Option<String>,
    pub principal: Principal,
    /// `userIdentity.arn` as logged (the session ARN for an assumed role).
    pub arn: Option<String>,
    pub account: Option<String>,
    pub principal_id: Option<String>,
    pub access_key_id: Option<String>,
    pub user_name: Option<String>,
    pub invoked_by: Option<String>,
    pub session_name: Option<String>,
    pub source_identity: Option<String>,
    pub mfa_authenticated: Option<bool>,
    pub session_created_ms: Option<i64>,
    pub on_behalf_of: Option<String>,
    pub identity_provider: Option<String>,
}

/// A normalized identity: the IAM user, role, root, service, federated or Identity Center user behind a call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// Stable identity: an ARN (`arn:aws:iam::A:role/R`) or `service:NAME`, `account:A`, `identitycenter:...`.
    pub key: String,
    /// Root, IAMUser, Role, FederatedUser, AWSAccount, AWSService, IdentityCenterUser, SAMLUser, WebIdentityUser, Unknown.
    pub ptype: String,
    pub arn: Option<String>,
    pub account: Option<String>,
    pub name: Option<String>,
}

/// Temporary credentials handed out by an STS (or SSO) call: the link from a session back to its caller.
#[derive(Debug, Clone, Default)]
pub struct IssuedCredentials {
    pub access_key_id: String,
    /// The call: AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity, GetSessionToken, GetFederationToken...
    pub kind: String,
    /// The ARN the session will log as (`assumedRoleUser.arn`, `federatedUser.arn`).
    pub session_arn: Option<String>,
    pub role_arn: Option<String>,
    pub session_name: Option<String>,
    pub source_identity: Option<String>,
    pub expiration_ms: Option<i64>,
}

/// One configuration state of a resource (an AWS Config configuration item).
#[derive(Debug, Clone, Default)]
pub struct ConfigItem {
    pub resource: ResourceRef,
    pub resource_type: String,
    pub resource_id: String,
    pub resource_name: Option<String>,
    pub account: String,
    pub region: String,
    pub capture_ms: Option<i64>,
    /// `configurationStateId`, as text (it is a number in files and a string in API output).
    pub state_id: String,
    /// Whether `state_id` was made up by trailgraph because the input lacked it.
    pub state_id_synthesized: bool,
    pub status: Option<String>,
    pub version: Option<String>,
    pub md5: Option<String>,
    pub creation_ms: Option<i64>,
    pub availability_zone: Option<String>,
    /// JSON text with JSON-in-strings decoded; None when the input had none (oversized notifications).
    pub configuration: Option<String>,
    pub supplementary: Option<String>,
    pub tags: Option<String>,
    pub relationships: Option<String>,
    pub related_events: Vec<String>,
    /// The change a Config change notification carried with the item (`configurationItemDiff`).
    pub diff: Option<ConfigDiff>,
    /// How the item arrived: file, api, notification, oversized, rule_event, select.
    pub origin: &'static str,
    pub raw: String,
}

/// `configurationItemDiff` of a change notification: what changed between the previous state and this one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigDiff {
    /// CREATE, UPDATE or DELETE.
    pub change_type: Option<String>,
    /// `changedProperties` as JSON text: `{"Configuration.State": {"previousValue", "updatedValue", "changeType"}}`.
    pub changed_properties: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Something was not understood and was not stored (a record, or the whole file).
    Error,
    /// Stored, but with something worth knowing (repaired UTF-8, a time that could not be parsed).
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A data problem found while reading a source: a value, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Index of the record in the file (0-based), or line number for JSON Lines (1-based), when relevant.
    pub record: Option<u64>,
    /// Stable machine code (`invalid_json`, `not_a_record`, `bad_time`...), documented in docs/ingest.md.
    pub code: &'static str,
    pub message: String,
}

impl Diagnostic {
    pub fn error(record: Option<u64>, code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            record,
            code,
            message: message.into(),
        }
    }
    pub fn warning(record: Option<u64>, code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            record,
            code,
            message: message.into(),
        }
    }
}
