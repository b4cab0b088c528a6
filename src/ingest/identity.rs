//! `userIdentity` → normalized [`Principal`] and session details; STS/SSO calls → [`IssuedCredentials`].

use super::loose;
use super::resources::str_at;
use crate::model::arn::Arn;
use crate::model::time::parse_time_str;
use crate::model::{Identity, IssuedCredentials, Principal};
use serde::de::Deserializer;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct UserIdentityRaw {
    #[serde(rename = "type", deserialize_with = "loose::string")]
    utype: Option<String>,
    #[serde(rename = "principalId", deserialize_with = "loose::string")]
    principal_id: Option<String>,
    #[serde(deserialize_with = "loose::string")]
    arn: Option<String>,
    #[serde(rename = "accountId", deserialize_with = "loose::string")]
    account_id: Option<String>,
    #[serde(rename = "accessKeyId", deserialize_with = "loose::string")]
    access_key_id: Option<String>,
    #[serde(rename = "userName", deserialize_with = "loose::string")]
    user_name: Option<String>,
    #[serde(rename = "invokedBy", deserialize_with = "loose::string")]
    invoked_by: Option<String>,
    #[serde(rename = "identityProvider", deserialize_with = "loose::string")]
    identity_provider: Option<String>,
    /// Kept as raw JSON (stored with the session) and parsed typed below.
    #[serde(rename = "sessionContext")]
    session_context: Option<Box<RawValue>>,
    #[serde(rename = "onBehalfOf")]
    on_behalf_of: Option<Box<RawValue>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct SessionContextRaw {
    #[serde(rename = "sessionIssuer", deserialize_with = "loose::lenient")]
    session_issuer: Option<IssuerRaw>,
    #[serde(deserialize_with = "loose::lenient")]
    attributes: Option<AttributesRaw>,
    #[serde(rename = "sourceIdentity", deserialize_with = "loose::string")]
    source_identity: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct IssuerRaw {
    #[serde(deserialize_with = "loose::string")]
    arn: Option<String>,
    #[serde(rename = "accountId", deserialize_with = "loose::string")]
    account_id: Option<String>,
    #[serde(rename = "userName", deserialize_with = "loose::string")]
    user_name: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct AttributesRaw {
    #[serde(rename = "creationDate", deserialize_with = "loose::string")]
    creation_date: Option<String>,
    #[serde(rename = "mfaAuthenticated", deserialize_with = "loose::boolean")]
    mfa_authenticated: Option<bool>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct OnBehalfOfRaw {
    #[serde(rename = "userId", deserialize_with = "loose::string")]
    user_id: Option<String>,
    #[serde(rename = "identityStoreArn", deserialize_with = "loose::string")]
    identity_store_arn: Option<String>,
}

/// Accepts the object, a JSON string holding the object (CloudTrail Lake), or anything else as missing.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<UserIdentityRaw>, D::Error> {
    // Captured raw first: a pathological (too deeply nested) identity must not sink the whole record.
    let Some(raw) = Option::<Box<RawValue>>::deserialize(d)? else {
        return Ok(None);
    };
    let text = raw.get();
    Ok(match text.as_bytes().first() {
        Some(b'{') => serde_json::from_str(text).ok(),
        Some(b'"') => serde_json::from_str::<String>(text)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok()),
        _ => None,
    })
}

/// Normalizes a `userIdentity` block. Never fails: a missing block gives the `Unknown` principal.
pub fn normalize(raw: Option<&UserIdentityRaw>) -> Identity {
    let Some(u) = raw else {
        return Identity {
            principal: Principal {
                key: "unknown".into(),
                ptype: "Unknown".into(),
                ..Default::default()
            },
            ..Default::default()
        };
    };
    let ctx: SessionContextRaw = u
        .session_context
        .as_ref()
        .and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or_default();
    let issuer = ctx.session_issuer.as_ref();
    let issuer_arn = issuer.and_then(|i| i.arn.as_deref());
    let issuer_name = issuer.and_then(|i| i.user_name.as_deref());
    let issuer_account = issuer.and_then(|i| i.account_id.as_deref());
    let mfa = ctx.attributes.as_ref().and_then(|a| a.mfa_authenticated);
    let created = ctx
        .attributes
        .as_ref()
        .and_then(|a| a.creation_date.as_deref())
        .and_then(parse_time_str);
    let source_identity = ctx.source_identity.clone();
    let obo: Option<OnBehalfOfRaw> = u
        .on_behalf_of
        .as_ref()
        .and_then(|r| serde_json::from_str(r.get()).ok());
    let on_behalf_of = obo.as_ref().and_then(|o| {
        let user = o.user_id.as_deref()?;
        Some(match o.identity_store_arn.as_deref() {
            Some(store) => format!("{store}/{user}"),
            None => user.to_string(),
        })
    });
    let account = u.account_id.clone();
    let parsed_arn = u.arn.as_deref().and_then(Arn::parse);
    let utype = u.utype.clone();
    let mut session_name = None;

    let principal = match utype.as_deref() {
        Some("Root") => Principal {
            key: u.arn.clone().unwrap_or_else(|| {
                format!("arn:aws:iam::{}:root", account.as_deref().unwrap_or(""))
            }),
            ptype: "Root".into(),
            arn: u.arn.clone(),
            account: account.clone(),
            name: Some("root".into()),
        },
        Some("IAMUser") => {
            let arn = u.arn.clone().or_else(|| {
                Some(format!(
                    "arn:aws:iam::{}:user/{}",
                    account.as_deref()?,
                    u.user_name.as_deref()?
                ))
            });
            Principal {
                key: arn.clone().unwrap_or_else(|| fallback_key(u)),
                ptype: "IAMUser".into(),
                arn,
                account: account.clone(),
                name: u
                    .user_name
                    .clone()
                    .or_else(|| parsed_arn.as_ref().map(|a| a.last_segment().to_string())),
            }
        }
        Some("AssumedRole") => {
            // arn:aws:sts::A:assumed-role/ROLE/SESSION → the role is the principal, the session its instance.
            let (role_from_arn, sess) = match &parsed_arn {
                Some(a) if a.resource_type == "assumed-role" => match a.resource.split_once('/') {
                    Some((role, sess)) => (Some(role.to_string()), Some(sess.to_string())),
                    None => (Some(a.resource.clone()), None),
                },
                _ => (None, None),
            };
            session_name = sess;
            let role_arn = issuer_arn.map(str::to_string).or_else(|| {
                let acct = parsed_arn
                    .as_ref()
                    .map(|a| a.account.clone())
                    .or(account.clone())?;
                Some(format!(
                    "arn:aws:iam::{acct}:role/{}",
                    role_from_arn.as_deref()?
                ))
            });
            Principal {
                key: role_arn.clone().unwrap_or_else(|| fallback_key(u)),
                ptype: "Role".into(),
                arn: role_arn,
                account: issuer_account.map(str::to_string).or(account.clone()),
                name: issuer_name.map(str::to_string).or(role_from_arn),
            }
        }
        Some("FederatedUser") => {
            session_name = parsed_arn.as_ref().map(|a| a.last_segment().to_string());
            match issuer_arn {
                // GetFederationToken: the IAM user who asked for the token is the principal.
                Some(iarn) => Principal {
                    key: iarn.to_string(),
                    ptype: "IAMUser".into(),
                    arn: Some(iarn.to_string()),
                    account: issuer_account.map(str::to_string).or(account.clone()),
                    name: issuer_name.map(str::to_string),
                },
                None => Principal {
                    key: u.arn.clone().unwrap_or_else(|| fallback_key(u)),
                    ptype: "FederatedUser".into(),
                    arn: u.arn.clone(),
                    account: account.clone(),
                    name: session_name.clone(),
                },
            }
        }
        Some("AWSService") => {
            let svc = u
                .invoked_by
                .clone()
                .or_else(|| u.principal_id.clone())
                .unwrap_or_else(|| "unknown".into());
            Principal {
                key: format!("service:{svc}"),
                ptype: "AWSService".into(),
                arn: None,
                account: account.clone(),
                name: Some(svc),
            }
        }
        Some("AWSAccount") => {
            let acct = account.clone().unwrap_or_default();
            if acct == "ANONYMOUS_PRINCIPAL"
                || u.principal_id.as_deref() == Some("ANONYMOUS_PRINCIPAL")
            {
                Principal {
                    key: "anonymous".into(),
                    ptype: "Anonymous".into(),
                    ..Default::default()
                }
            } else {
                Principal {
                    key: format!("account:{acct}"),
                    ptype: "AWSAccount".into(),
                    arn: None,
                    account: account.clone(),
                    name: Some(acct),
                }
            }
        }
        Some("IdentityCenterUser") => Principal {
            key: format!(
                "identitycenter:{}",
                on_behalf_of.clone().unwrap_or_else(|| fallback_key(u))
            ),
            ptype: "IdentityCenterUser".into(),
            arn: None,
            account: account.clone(),
            name: u
                .user_name
                .clone()
                .or_else(|| obo.as_ref().and_then(|o| o.user_id.clone())),
        },
        Some(t @ ("SAMLUser" | "WebIdentityUser")) => {
            let prefix = if t == "SAMLUser" {
                "saml"
            } else {
                "webidentity"
            };
            let who = u
                .user_name
                .clone()
                .or_else(|| u.principal_id.clone())
                .unwrap_or_default();
            Principal {
                key: format!(
                    "{prefix}:{}/{who}",
                    u.identity_provider.as_deref().unwrap_or("")
                ),
                ptype: t.into(),
                arn: None,
                account: account.clone(),
                name: Some(who),
            }
        }
        other => {
            // Unknown or missing type: an ARN if there is one, else a service, else the principal id.
            let ptype = other.unwrap_or("Unknown").to_string();
            if let (None, Some(svc)) = (u.arn.as_deref(), u.invoked_by.as_deref()) {
                Principal {
                    key: format!("service:{svc}"),
                    ptype: "AWSService".into(),
                    account: account.clone(),
                    name: Some(svc.into()),
                    arn: None,
                }
            } else {
                Principal {
                    key: u.arn.clone().unwrap_or_else(|| fallback_key(u)),
                    ptype,
                    arn: u.arn.clone(),
                    account: account.clone(),
                    name: u.user_name.clone(),
                }
            }
        }
    };
    Identity {
        utype,
        principal,
        arn: u.arn.clone(),
        account,
        principal_id: u.principal_id.clone(),
        access_key_id: u.access_key_id.clone(),
        user_name: u.user_name.clone(),
        invoked_by: u.invoked_by.clone(),
        session_name,
        source_identity,
        mfa_authenticated: mfa,
        session_created_ms: created,
        on_behalf_of,
        identity_provider: u.identity_provider.clone(),
    }
}

fn fallback_key(u: &UserIdentityRaw) -> String {
    if let Some(p) = &u.principal_id {
        format!("principal:{p}")
    } else if let Some(a) = &u.account_id {
        format!("account:{a}")
    } else {
        "unknown".into()
    }
}

/// The calls that hand out temporary credentials, and where the new access key is in their response.
pub fn issued_credentials(
    source: &str,
    name: &str,
    params: Option<&Value>,
    resp: Option<&Value>,
) -> Option<IssuedCredentials> {
    let is_issuer = matches!(
        (source, name),
        (
            "sts.amazonaws.com",
            "AssumeRole"
                | "AssumeRoleWithSAML"
                | "AssumeRoleWithWebIdentity"
                | "GetSessionToken"
                | "GetFederationToken"
                | "AssumeRoot"
        ) | ("sso.amazonaws.com", "GetRoleCredentials")
    );
    if !is_issuer {
        return None;
    }
    let resp = resp?;
    let key = str_at(resp, "credentials.accessKeyId")
        .or_else(|| str_at(resp, "roleCredentials.accessKeyId"))?;
    let p = |k: &str| params.and_then(|p| str_at(p, k)).map(str::to_string);
    Some(IssuedCredentials {
        access_key_id: key.to_string(),
        kind: name.to_string(),
        session_arn: str_at(resp, "assumedRoleUser.arn")
            .or_else(|| str_at(resp, "federatedUser.arn"))
            .map(str::to_string),
        role_arn: p("roleArn").or_else(|| p("roleName")),
        session_name: p("roleSessionName").or_else(|| p("name")),
        source_identity: str_at(resp, "sourceIdentity")
            .map(str::to_string)
            .or_else(|| p("sourceIdentity")),
        expiration_ms: resp
            .get("credentials")
            .and_then(|c| c.get("expiration"))
            .and_then(crate::model::time::parse_time_value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(json: &str) -> Identity {
        let raw: UserIdentityRaw = serde_json::from_str(json).unwrap();
        normalize(Some(&raw))
    }

    #[test]
    fn every_identity_type() {
        let cases = [
            (
                r#"{"type":"Root","principalId":"111","arn":"arn:aws:iam::111:root","accountId":"111"}"#,
                "arn:aws:iam::111:root",
                "Root",
            ),
            (
                r#"{"type":"IAMUser","arn":"arn:aws:iam::111:user/alice","accountId":"111","userName":"alice"}"#,
                "arn:aws:iam::111:user/alice",
                "IAMUser",
            ),
            (
                r#"{"type":"AssumedRole","arn":"arn:aws:sts::111:assumed-role/Admin/bob","accountId":"111","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111:role/ops/Admin","userName":"Admin"}}}"#,
                "arn:aws:iam::111:role/ops/Admin",
                "Role",
            ),
            (
                r#"{"type":"AssumedRole","arn":"arn:aws:sts::111:assumed-role/Admin/bob","accountId":"111"}"#,
                "arn:aws:iam::111:role/Admin",
                "Role",
            ),
            (
                r#"{"type":"FederatedUser","arn":"arn:aws:sts::111:federated-user/carol","accountId":"111","sessionContext":{"sessionIssuer":{"type":"IAMUser","arn":"arn:aws:iam::111:user/fed","userName":"fed"}}}"#,
                "arn:aws:iam::111:user/fed",
                "IAMUser",
            ),
            (
                r#"{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"}"#,
                "service:cloudtrail.amazonaws.com",
                "AWSService",
            ),
            (
                r#"{"type":"AWSAccount","principalId":"AIDAX","accountId":"222"}"#,
                "account:222",
                "AWSAccount",
            ),
            (
                r#"{"type":"AWSAccount","principalId":"","accountId":"ANONYMOUS_PRINCIPAL"}"#,
                "anonymous",
                "Anonymous",
            ),
            (
                r#"{"type":"IdentityCenterUser","accountId":"111","onBehalfOf":{"userId":"u-1","identityStoreArn":"arn:aws:identitystore::111:identitystore/d-1"}}"#,
                "identitycenter:arn:aws:identitystore::111:identitystore/d-1/u-1",
                "IdentityCenterUser",
            ),
            (
                r#"{"type":"SAMLUser","principalId":"p:x","userName":"dave","identityProvider":"arn:aws:iam::111:saml-provider/Okta"}"#,
                "saml:arn:aws:iam::111:saml-provider/Okta/dave",
                "SAMLUser",
            ),
            (
                r#"{"accountId":"111","invokedBy":"secretsmanager.amazonaws.com"}"#,
                "service:secretsmanager.amazonaws.com",
                "AWSService",
            ),
            (
                r#"{"principalId":"AIDAZ","accountId":"111"}"#,
                "principal:AIDAZ",
                "Unknown",
            ),
        ];
        for (json, key, ptype) in cases {
            let id = norm(json);
            assert_eq!(
                (id.principal.key.as_str(), id.principal.ptype.as_str()),
                (key, ptype),
                "{json}"
            );
        }
        let id = norm(
            r#"{"type":"AssumedRole","arn":"arn:aws:sts::111:assumed-role/Admin/bob","accessKeyId":"ASIA1","sessionContext":{"sourceIdentity":"bob@corp","attributes":{"mfaAuthenticated":"true","creationDate":"2023-01-01T00:00:00Z"}}}"#,
        );
        assert_eq!(id.session_name.as_deref(), Some("bob"));
        assert_eq!(id.source_identity.as_deref(), Some("bob@corp"));
        assert_eq!(id.mfa_authenticated, Some(true));
        assert_eq!(id.session_created_ms, Some(1672531200000));
        assert_eq!(normalize(None).principal.key, "unknown");
    }

    #[test]
    fn assume_role_issues_a_key() {
        let params: Value = serde_json::from_str(r#"{"roleArn":"arn:aws:iam::111:role/Admin","roleSessionName":"bob","sourceIdentity":"bob@corp"}"#).unwrap();
        let resp: Value = serde_json::from_str(r#"{"credentials":{"accessKeyId":"ASIANEW","expiration":"Jan 1, 2023, 1:00:00 AM","sessionToken":"x"},"assumedRoleUser":{"arn":"arn:aws:sts::111:assumed-role/Admin/bob","assumedRoleId":"AROA:bob"}}"#).unwrap();
        let c = issued_credentials(
            "sts.amazonaws.com",
            "AssumeRole",
            Some(&params),
            Some(&resp),
        )
        .unwrap();
        assert_eq!(c.access_key_id, "ASIANEW");
        assert_eq!(
            c.session_arn.as_deref(),
            Some("arn:aws:sts::111:assumed-role/Admin/bob")
        );
        assert_eq!(c.source_identity.as_deref(), Some("bob@corp"));
        assert_eq!(c.session_name.as_deref(), Some("bob"));
        assert!(
            issued_credentials("s3.amazonaws.com", "AssumeRole", Some(&params), Some(&resp))
                .is_none()
        );
    }
}
