//! Starting the provider of a case: a fresh mock, or the external server as it is.

use std::time::Duration;

use futures::future::BoxFuture;
use handshake_mock::{Endpoint, JournalEntry, MockProvider, OAuthError};

use crate::control::{Control, JournalLine};
use crate::scenario::{EndpointName, FaultSpec};
use crate::target::{Registration, Secret, Target};

/// The provider of one case. A mock is shut down when this is dropped.
pub(crate) struct Provider {
    pub(crate) base_url: String,
    pub(crate) registration: Registration,
    mock: Option<MockProvider>,
}

impl Provider {
    pub(crate) async fn start(target: &Target) -> Result<Provider, String> {
        if let Some((base, reg)) = target.external_parts() {
            return Ok(Provider {
                base_url: base.clone(),
                registration: reg.clone(),
                mock: None,
            });
        }
        // Auto-approve: the runner plays a browser whose user always consents.
        let mock = MockProvider::builder(target.profile().clone())
            .auto_approve(true)
            .start()
            .await
            .map_err(|e| e.to_string())?;
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
            mock: Some(mock),
        })
    }

    pub(crate) fn control(&self) -> Option<&dyn Control> {
        self.mock.as_ref().map(|m| m as &dyn Control)
    }
}

fn endpoint(e: EndpointName) -> Endpoint {
    match e {
        EndpointName::Authorize => Endpoint::Authorize,
        EndpointName::Token => Endpoint::Token,
        EndpointName::Revoke => Endpoint::Revoke,
        EndpointName::Api => Endpoint::Api,
    }
}

fn endpoint_name(e: Endpoint) -> EndpointName {
    match e {
        Endpoint::Authorize => EndpointName::Authorize,
        Endpoint::Token => EndpointName::Token,
        Endpoint::Revoke => EndpointName::Revoke,
        Endpoint::Api => EndpointName::Api,
    }
}

fn line(e: &JournalEntry) -> JournalLine {
    let mut names: Vec<String> = Vec::new();
    for (k, _) in e.query.iter().chain(e.params.iter()) {
        if !names.contains(k) {
            names.push(k.clone());
        }
    }
    JournalLine {
        seq: e.seq,
        endpoint: e.endpoint.map(endpoint_name),
        method: e.method.clone(),
        path: e.path.clone(),
        grant_type: e.grant_type.clone(),
        client_auth: e.client_auth.map(|a| a.as_str().to_owned()),
        param_names: names,
        status: e.status,
    }
}

impl Control for MockProvider {
    fn arm_fault<'a>(&'a self, spec: &'a FaultSpec) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let b = self.fail_next(endpoint(spec.endpoint));
            let armed = if let Some(err) = &spec.error {
                let e: OAuthError = serde_json::from_value(serde_json::Value::String(err.clone()))
                    .map_err(|_| format!("the mock cannot inject OAuth error {err:?}"))?;
                b.with(e)
            } else if let Some(s) = spec.status {
                b.with_status(s)
            } else if let Some(ms) = spec.delay_ms {
                b.with_delay(Duration::from_millis(ms))
            } else {
                b.drop_connection()
            };
            armed.times(spec.times).mount();
            Ok(())
        })
    }

    fn journal(&self) -> Vec<JournalLine> {
        MockProvider::journal(self).iter().map(line).collect()
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
