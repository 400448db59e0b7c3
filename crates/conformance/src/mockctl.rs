//! Starting the provider of a case: a fresh mock, or the external server as it is.

use std::time::Duration;

use futures::future::BoxFuture;
use handshake_client::NativeCredentials;
use handshake_mock::{Endpoint, JournalEntry, MockProvider};
use handshake_profile::Profile;

use crate::control::{Control, JournalLine};
use crate::scenario::{EndpointName, FaultSpec, MockSetup};
use crate::target::{Registration, Secret, Target};

/// Query parameter names that carry a credential when they appear in a URL.
const CREDENTIAL_PARAMS: &[&str] = &[
    "access_token",
    "refresh_token",
    "token",
    "api_key",
    "apikey",
    "key",
    "user_key",
    "userkey",
    "password",
    "client_secret",
    "private_key",
    "privatekey",
    "personal_access_token",
    "authorization",
];

/// Whether a query parameter of this name carries a credential. One list for the scenario
/// runner and check-client, so the two never judge the same URL differently.
pub(crate) fn is_credential_param(name: &str) -> bool {
    CREDENTIAL_PARAMS.contains(&name.to_ascii_lowercase().as_str())
}

/// The provider of one case. A mock is shut down when this is dropped.
pub(crate) struct Provider {
    pub(crate) base_url: String,
    pub(crate) registration: Registration,
    /// Valid native credentials, when the profile has a native scheme and the runner knows
    /// them (always for a mock; never for an external server).
    pub(crate) native: Option<NativeCredentials>,
    mock: Option<MockProvider>,
}

impl Provider {
    pub(crate) async fn start(target: &Target, setup: &MockSetup) -> Result<Provider, String> {
        if let Some((base, reg)) = target.external_parts() {
            return Ok(Provider {
                base_url: base.clone(),
                registration: reg.clone(),
                native: None,
                mock: None,
            });
        }
        // The mock's consent page stays on: the runner's browser gets through it as a user
        // who consents, as it does through an external server's login and consent pages.
        let mut builder = MockProvider::builder(target.profile().clone());
        if let Some(rl) = setup.rate_limit {
            builder = builder.rate_limit(rl.limit, Duration::from_secs(rl.window_secs));
        }
        if let Some(n) = setup.dataset_size {
            builder = builder.dataset_size(n);
        }
        let mock = builder.start().await.map_err(|e| e.to_string())?;
        let native = native_credentials(target.profile(), mock.native_credentials());
        let client = mock.client();
        let registration = Registration::new(
            client.client_id.clone(),
            Secret::new(client.client_secret.secret()),
            client
                .redirect_uris
                .first()
                .cloned()
                .ok_or("the mock registered no redirect URI")?,
        );
        Ok(Provider {
            base_url: mock.uri(),
            registration,
            native,
            mock: Some(mock),
        })
    }

    pub(crate) fn control(&self) -> Option<&dyn Control> {
        self.mock.as_ref().map(|m| m as &dyn Control)
    }
}

fn endpoint(e: EndpointName) -> Result<Endpoint, String> {
    Ok(match e {
        EndpointName::Authorize => Endpoint::Authorize,
        EndpointName::Token => Endpoint::Token,
        EndpointName::Revoke => Endpoint::Revoke,
        EndpointName::Api => Endpoint::Api,
        EndpointName::NativeExchange => {
            return Err("faults cannot target the native key exchange".to_owned())
        }
    })
}

fn endpoint_name(e: Endpoint) -> EndpointName {
    match e {
        Endpoint::Authorize => EndpointName::Authorize,
        Endpoint::Token => EndpointName::Token,
        Endpoint::Revoke => EndpointName::Revoke,
        Endpoint::Api => EndpointName::Api,
    }
}

/// A record's id as text.
pub(crate) fn record_id(record: &serde_json::Value, field: &str) -> Option<String> {
    match record.get(field)? {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// The mock's native credentials as the client library takes them: the same fields by the
/// same (profile) names.
fn native_credentials(
    profile: &Profile,
    m: &handshake_mock::NativeCredentials,
) -> Option<NativeCredentials> {
    let scheme = profile.native_auth.as_ref()?.scheme;
    let fields = m.fields_for(scheme);
    NativeCredentials::from_fields(scheme, fields.iter().map(|(k, v)| (*k, v.as_str()))).ok()
}

/// Every secret the mock's native credentials hold (to spot one in a URL).
fn native_secrets(m: &handshake_mock::NativeCredentials) -> Vec<String> {
    [
        m.api_key(),
        m.password(),
        m.private_key(),
        m.personal_access_token(),
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(std::iter::once(m.user_key()))
    .filter(|s| !s.is_empty())
    .collect()
}

/// The name of the first query parameter that carries a credential: named like one, holding
/// a value the mock redacted as a token, or holding one of the native secrets.
fn url_credential(query: &[(String, String)], secrets: &[String]) -> Option<String> {
    url_credentials(query, secrets).into_iter().next()
}

/// The names of every query parameter that carries a credential, as [`url_credential`]
/// judges one.
fn url_credentials(query: &[(String, String)], secrets: &[String]) -> Vec<String> {
    query
        .iter()
        .filter(|(k, v)| {
            is_credential_param(k)
                || v.starts_with("[redacted")
                || secrets.iter().any(|s| v.contains(s.as_str()))
        })
        .map(|(k, _)| k.clone())
        .collect()
}

fn line(e: &JournalEntry, profile: &Profile, secrets: &[String]) -> JournalLine {
    let mut names: Vec<String> = Vec::new();
    for (k, _) in e.query.iter().chain(e.params.iter()) {
        if !names.contains(k) {
            names.push(k.clone());
        }
    }
    let exchange = profile
        .native_auth
        .as_ref()
        .and_then(|n| n.exchange_path.as_deref());
    let endpoint = if exchange == Some(e.path.as_str()) {
        Some(EndpointName::NativeExchange)
    } else {
        e.endpoint.map(endpoint_name)
    };
    let mut tags: Vec<(String, String)> = Vec::new();
    let mut plain: Vec<(String, String)> = Vec::new();
    for (k, v) in e.query.iter().chain(e.params.iter()) {
        if TAGGED_PARAMS.contains(&k.as_str()) && v.starts_with("[redacted:") {
            tags.push((k.clone(), v.clone()));
        } else if PLAIN_PARAMS.contains(&k.as_str()) {
            plain.push((k.clone(), v.clone()));
        }
    }
    // The mock tags a token (Bearer, or a profile's own word such as `Zoho-oauthtoken`);
    // paired credentials (Basic) it redacts whole.
    if let Some(bearer) = e.header("authorization").and_then(|h| {
        let (_, rest) = h.split_once(' ')?;
        Some(rest.trim().to_owned()).filter(|t| t.starts_with("[redacted:"))
    }) {
        tags.push(("bearer".to_owned(), bearer));
    }
    JournalLine {
        seq: e.seq,
        endpoint,
        method: e.method.clone(),
        path: e.path.clone(),
        grant_type: e.grant_type.clone(),
        client_auth: e.client_auth.map(|a| a.as_str().to_owned()),
        param_names: names,
        status: e.status,
        auth_mode: e.auth_mode.clone(),
        url_credential: url_credential(&e.query, secrets),
        url_credentials: url_credentials(&e.query, secrets),
        tags,
        plain,
        error: e.error.clone(),
        error_description: e.error_description.clone(),
        requirement: e.requirement.map(|r| r.as_str().to_owned()),
        user: e.user.clone(),
        from_browser: crate::browser::is_browser_request(e),
    }
}

/// Parameters whose values the mock journals as tags (`[redacted:xxxxxxxx]`).
const TAGGED_PARAMS: &[&str] = &[
    "code",
    "refresh_token",
    "access_token",
    "token",
    "code_challenge",
];

/// Parameters whose values are never secret, kept as they are.
const PLAIN_PARAMS: &[&str] = &["code_challenge_method", "response_type", "token_type_hint"];

impl Control for MockProvider {
    fn arm_fault<'a>(&'a self, spec: &'a FaultSpec) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let b = self.fail_next(endpoint(spec.endpoint)?);
            let armed = if let Some(err) = &spec.error {
                if !err.is_known() {
                    return Err(format!(
                        "the mock cannot inject OAuth error {:?}",
                        err.as_str()
                    ));
                }
                b.with(err.clone())
            } else if let Some(s) = spec.status {
                b.with_status(s)
            } else if let Some(ms) = spec.delay_ms {
                b.with_delay(Duration::from_millis(ms))
            } else if let Some(secs) = spec.retry_after_secs {
                if spec.endpoint != EndpointName::Api {
                    return Err("the CRM's 429 (retry_after_secs) applies to the api only".into());
                }
                b.rate_limited(Duration::from_secs(secs))
            } else {
                b.drop_connection()
            };
            armed.times(spec.times).mount();
            Ok(())
        })
    }

    fn journal(&self) -> Vec<JournalLine> {
        let secrets = native_secrets(self.native_credentials());
        MockProvider::journal(self)
            .iter()
            .map(|e| line(e, self.profile(), &secrets))
            .collect()
    }

    fn dataset_ids(&self) -> Option<Vec<String>> {
        let field = self
            .profile()
            .api
            .dataset
            .as_ref()
            .map_or("id", |d| d.id_field.as_str());
        Some(
            self.dataset()
                .iter()
                .filter_map(|r| record_id(r, field))
                .collect(),
        )
    }

    fn expire_access_tokens(&self) {
        MockProvider::expire_access_tokens(self)
    }

    fn revoke_grants(&self) {
        MockProvider::revoke_grants(self)
    }

    fn advance_clock(&self, by: Duration) {
        MockProvider::advance_clock(self, by)
    }
}
