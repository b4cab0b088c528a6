//! The SDK configuration shared by every AWS client, and the classification of its errors.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use std::fmt;

/// What every collect command takes: the standard credential chain, narrowed by these.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// Errors of a collect run, classified for exit codes and messages.
#[derive(Debug)]
pub enum CollectError {
    /// No credentials, or access denied: the user must act (exit 2).
    Credentials(String),
    /// Anything else from the service or the network.
    Service(String),
}

impl fmt::Display for CollectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CollectError::Credentials(m) | CollectError::Service(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CollectError {}

/// The SDK configuration: default credential chain (env, profile, SSO, process, IMDS), the given profile, region
/// and endpoint, standard retries with backoff, and the rustls + ring HTTP client.
pub async fn sdk_config(opts: &AwsOptions) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(RetryConfig::standard().with_max_attempts(6));
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &opts.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(u) = &opts.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    let conf = loader.load().await;
    if conf.region().is_none() {
        // S3 needs a region to sign; us-east-1 is where an unknown bucket is first looked for.
        let mut b = conf.into_builder();
        b.set_region(Some(Region::new("us-east-1")));
        return b.build();
    }
    conf
}

/// Resolves credentials once, before any request, so a missing credential is one clear error (exit 2) instead
/// of a failure per object.
pub async fn check_credentials(conf: &SdkConfig, opts: &AwsOptions) -> Result<(), CollectError> {
    use aws_sdk_s3::config::ProvideCredentials;
    let Some(p) = conf.credentials_provider() else {
        return Err(CollectError::Credentials(
            "no AWS credentials provider configured".into(),
        ));
    };
    p.provide_credentials().await.map(|_| ()).map_err(|e| {
        let profile = opts
            .profile
            .as_deref()
            .map(|p| format!(" (profile {p})"))
            .unwrap_or_default();
        CollectError::Credentials(format!(
            "no usable AWS credentials{profile}: {}; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or --profile, or log in with `aws sso login`",
            error_chain(&e)
        ))
    })
}

/// An SDK error as one line naming the API and what it was called on; access and credential errors are
/// `CollectError::Credentials`.
pub fn describe<E, R>(err: &SdkError<E, R>, api: &str, target: &str) -> CollectError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug + 'static,
{
    let (code, message) = match err {
        SdkError::ServiceError(s) => (
            s.err().code().unwrap_or("").to_string(),
            s.err()
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| error_chain(s.err())),
        ),
        other => (String::new(), error_chain(other)),
    };
    let text = if code.is_empty() {
        format!("{api} on {target}: {message}")
    } else {
        format!("{api} on {target}: {code}: {message}")
    };
    if is_access_error(&code) {
        CollectError::Credentials(text)
    } else {
        CollectError::Service(text)
    }
}

fn is_access_error(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied"
            | "AccessDeniedException"
            | "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "AllAccessDisabled"
            | "AuthFailure"
    )
}

/// Whether a failed call is worth retrying: throttling, a timeout, a connection failure or a 5xx answer.
/// (The CloudTrail and Config clients retry themselves, so that every attempt passes the rate limiter.)
pub fn retryable<E: ProvideErrorMetadata, R: HasStatus>(e: &SdkError<E, R>) -> bool {
    match e {
        SdkError::ServiceError(s) => {
            matches!(
                s.err().code(),
                Some(
                    "ThrottlingException"
                        | "Throttling"
                        | "TooManyRequestsException"
                        | "RequestLimitExceeded"
                        | "LimitExceededException"
                        | "ServiceUnavailable"
                        | "InternalFailure"
                        | "InternalError"
                )
            ) || s.raw().status_code() >= 500
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => false,
    }
}

/// Whether an error is the service saying "slow down" (counted in the summary's `throttled`).
pub fn throttled<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    matches!(
        e.as_service_error().and_then(|s| s.code()),
        Some(
            "ThrottlingException"
                | "Throttling"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "LimitExceededException"
        )
    )
}

/// The HTTP status of a raw response.
pub trait HasStatus {
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// The configuration of the API clients that retry on their own: the SDK makes one attempt per call.
pub fn single_attempt(conf: &SdkConfig) -> SdkConfig {
    conf.to_builder()
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build()
}

/// An error and its causes on one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = c.source();
    }
    parts.join(": ")
}
