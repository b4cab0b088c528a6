//! The correlation rule, in one place: which calls change a resource of each type.
//!
//! How a call names its resource is decided at ingest (`ingest::resources`, stored in `event_resources`); here is
//! only *which* calls on a resource are changes to its configuration. A call is a change when it targets or writes
//! the resource, did not fail, and its name is in the type's list below. Types without a list fall back to "any
//! call that is not read-only" (`readOnly` false, or a name that does not start like a read).

/// (Config resource type, event names that change it). Names are CloudTrail `eventName`s.
pub const MUTATIONS: &[(&str, &[&str])] = &[
    (
        "AWS::S3::Bucket",
        &[
            "CreateBucket",
            "DeleteBucket",
            "PutBucketPolicy",
            "DeleteBucketPolicy",
            "PutBucketAcl",
            "PutBucketPublicAccessBlock",
            "DeleteBucketPublicAccessBlock",
            "PutPublicAccessBlock",
            "DeletePublicAccessBlock",
            "PutBucketEncryption",
            "DeleteBucketEncryption",
            "PutBucketVersioning",
            "PutBucketLifecycle",
            "PutBucketLifecycleConfiguration",
            "DeleteBucketLifecycle",
            "PutBucketReplication",
            "DeleteBucketReplication",
            "PutBucketLogging",
            "PutBucketTagging",
            "DeleteBucketTagging",
            "PutBucketOwnershipControls",
            "DeleteBucketOwnershipControls",
            "PutBucketWebsite",
            "DeleteBucketWebsite",
            "PutBucketCors",
            "DeleteBucketCors",
            "PutBucketNotification",
            "PutBucketNotificationConfiguration",
            "PutBucketObjectLockConfiguration",
            "PutObjectLockConfiguration",
            "PutBucketRequestPayment",
            "PutAccelerateConfiguration",
            "PutBucketAccelerateConfiguration",
            "PutBucketIntelligentTieringConfiguration",
            "PutBucketInventoryConfiguration",
            "PutBucketMetricsConfiguration",
            "PutBucketAnalyticsConfiguration",
        ],
    ),
    (
        "AWS::IAM::User",
        &[
            "CreateUser",
            "DeleteUser",
            "UpdateUser",
            "PutUserPolicy",
            "DeleteUserPolicy",
            "AttachUserPolicy",
            "DetachUserPolicy",
            "AddUserToGroup",
            "RemoveUserFromGroup",
            "CreateAccessKey",
            "DeleteAccessKey",
            "UpdateAccessKey",
            "CreateLoginProfile",
            "UpdateLoginProfile",
            "DeleteLoginProfile",
            "TagUser",
            "UntagUser",
            "PutUserPermissionsBoundary",
            "DeleteUserPermissionsBoundary",
            "EnableMFADevice",
            "DeactivateMFADevice",
        ],
    ),
    (
        "AWS::IAM::Role",
        &[
            "CreateRole",
            "DeleteRole",
            "UpdateRole",
            "UpdateRoleDescription",
            "UpdateAssumeRolePolicy",
            "PutRolePolicy",
            "DeleteRolePolicy",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "TagRole",
            "UntagRole",
            "PutRolePermissionsBoundary",
            "DeleteRolePermissionsBoundary",
            "AddRoleToInstanceProfile",
            "RemoveRoleFromInstanceProfile",
        ],
    ),
    (
        "AWS::IAM::Group",
        &[
            "CreateGroup",
            "DeleteGroup",
            "UpdateGroup",
            "PutGroupPolicy",
            "DeleteGroupPolicy",
            "AttachGroupPolicy",
            "DetachGroupPolicy",
            "AddUserToGroup",
            "RemoveUserFromGroup",
        ],
    ),
    (
        "AWS::IAM::Policy",
        &[
            "CreatePolicy",
            "DeletePolicy",
            "CreatePolicyVersion",
            "DeletePolicyVersion",
            "SetDefaultPolicyVersion",
            "TagPolicy",
            "UntagPolicy",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "AttachUserPolicy",
            "DetachUserPolicy",
            "AttachGroupPolicy",
            "DetachGroupPolicy",
        ],
    ),
    (
        "AWS::EC2::SecurityGroup",
        &[
            "CreateSecurityGroup",
            "DeleteSecurityGroup",
            "AuthorizeSecurityGroupIngress",
            "AuthorizeSecurityGroupEgress",
            "RevokeSecurityGroupIngress",
            "RevokeSecurityGroupEgress",
            "ModifySecurityGroupRules",
            "UpdateSecurityGroupRuleDescriptionsIngress",
            "UpdateSecurityGroupRuleDescriptionsEgress",
            "CreateTags",
            "DeleteTags",
        ],
    ),
    (
        "AWS::KMS::Key",
        &[
            "CreateKey",
            "PutKeyPolicy",
            "EnableKeyRotation",
            "DisableKeyRotation",
            "ScheduleKeyDeletion",
            "CancelKeyDeletion",
            "DisableKey",
            "EnableKey",
            "UpdateKeyDescription",
            "CreateGrant",
            "RevokeGrant",
            "RetireGrant",
            "TagResource",
            "UntagResource",
            "CreateAlias",
            "UpdateAlias",
            "DeleteAlias",
            "ReplicateKey",
            "UpdatePrimaryRegion",
        ],
    ),
    (
        "AWS::Lambda::Function",
        &[
            "CreateFunction",
            "CreateFunction20150331",
            "DeleteFunction",
            "DeleteFunction20150331",
            "UpdateFunctionCode",
            "UpdateFunctionCode20150331v2",
            "UpdateFunctionConfiguration",
            "UpdateFunctionConfiguration20150331v2",
            "AddPermission",
            "AddPermission20150331v2",
            "RemovePermission",
            "RemovePermission20150331v2",
            "PublishVersion",
            "PublishVersion20150331",
            "PutFunctionConcurrency",
            "PutFunctionConcurrency20171031",
            "TagResource",
            "UntagResource",
            "CreateFunctionUrlConfig",
            "UpdateFunctionUrlConfig",
            "DeleteFunctionUrlConfig",
        ],
    ),
    (
        "AWS::Glue::Job",
        &[
            "CreateJob",
            "UpdateJob",
            "DeleteJob",
            "TagResource",
            "UntagResource",
        ],
    ),
    (
        "AWS::CloudTrail::Trail",
        &[
            "CreateTrail",
            "DeleteTrail",
            "UpdateTrail",
            "StartLogging",
            "StopLogging",
            "PutEventSelectors",
            "PutInsightSelectors",
            "AddTags",
            "RemoveTags",
        ],
    ),
    (
        "AWS::Config::ConfigurationRecorder",
        &[
            "PutConfigurationRecorder",
            "DeleteConfigurationRecorder",
            "StartConfigurationRecorder",
            "StopConfigurationRecorder",
        ],
    ),
];

/// How a call must have touched a resource to change it: calls about the resource (`target`) for configured
/// resources; for objects and items, writing their data is their change.
pub fn change_accesses(rtype: &str) -> &'static [&'static str] {
    if MUTATIONS.iter().any(|(t, _)| *t == rtype) {
        &["target"]
    } else {
        &["target", "write"]
    }
}

const READ_PREFIXES: &[&str] = &[
    "Get",
    "List",
    "Describe",
    "Head",
    "Lookup",
    "Search",
    "Select",
    "Scan",
    "Query",
    "BatchGet",
    "Check",
    "Decrypt",
    "GenerateDataKey",
    "Verify",
    "Test",
    "Validate",
    "Estimate",
    "Preview",
];

/// Whether a call on a resource of type `rtype` is a change of its configuration (ignoring whether it failed).
pub fn is_change(rtype: &str, event_name: &str, read_only: Option<bool>) -> bool {
    if let Some((_, names)) = MUTATIONS.iter().find(|(t, _)| *t == rtype) {
        return names.contains(&event_name);
    }
    match read_only {
        Some(ro) => !ro,
        None => !READ_PREFIXES.iter().any(|p| event_name.starts_with(p)),
    }
}

#[cfg(test)]
mod tests {
    use super::is_change;

    #[test]
    fn rules_per_type_and_fallback() {
        let cases = [
            ("AWS::S3::Bucket", "PutBucketPolicy", Some(false), true),
            ("AWS::S3::Bucket", "PutObject", Some(false), false), // data, not configuration
            ("AWS::S3::Bucket", "GetBucketPolicy", Some(true), false),
            ("AWS::IAM::Role", "UpdateAssumeRolePolicy", None, true),
            ("AWS::CloudTrail::Trail", "StopLogging", Some(false), true),
            ("AWS::SNS::Topic", "SetTopicAttributes", Some(false), true),
            ("AWS::SNS::Topic", "GetTopicAttributes", None, false),
            ("AWS::SNS::Topic", "SetTopicAttributes", None, true),
        ];
        for (t, n, ro, want) in cases {
            assert_eq!(is_change(t, n, ro), want, "{t} {n}");
        }
    }
}
