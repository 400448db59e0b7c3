//! What the runner needs from a mock: faults, clock, expiry, revocation and the journal.
//!
//! Kept behind a small internal trait so the step executor does not depend on the mock's
//! concrete types, and so the journal is reduced here to what a report may show.

use std::time::Duration;

use futures::future::BoxFuture;

use crate::scenario::{EndpointName, FaultSpec};

/// One journal entry, reduced to what a report may show: no parameter or header values except
/// `grant_type`, so no secret can leak through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JournalLine {
    pub(crate) seq: u64,
    pub(crate) endpoint: Option<EndpointName>,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) grant_type: Option<String>,
    pub(crate) client_auth: Option<String>,
    /// Names of the query and body parameters sent.
    pub(crate) param_names: Vec<String>,
    pub(crate) status: u16,
    /// `oauth` or `native`, when the mock recorded how the request authenticated.
    pub(crate) auth_mode: Option<String>,
    /// The name of a query parameter that carried a credential (never its value).
    pub(crate) url_credential: Option<String>,
    /// The names of every query parameter that carried a credential or a tagged value
    /// (a PKCE `code_challenge` is one, and is public by design).
    pub(crate) url_credentials: Vec<String>,
    /// The mock's tags (`[redacted:1a2b3c4d]`: 4 bytes of a SHA-256, never the value) of the
    /// codes and tokens the request presented, by parameter name (`code`, `refresh_token`,
    /// `token`, `code_challenge`), and `bearer` for an `Authorization: Bearer` header. Two
    /// requests with the same tag presented the same code or token.
    pub(crate) tags: Vec<(String, String)>,
    /// Values of parameters that are never secret: `code_challenge_method`,
    /// `response_type`, `token_type_hint`.
    pub(crate) plain: Vec<(String, String)>,
    /// A refusal's error code, as the mock journaled it.
    pub(crate) error: Option<String>,
    /// Why the mock refused the request, in its own words (never a secret);
    /// `injected fault` for a fault's answer.
    pub(crate) error_description: Option<String>,
    /// The relaxable requirement that refused it (`pkce`, ...), as the mock journaled it.
    pub(crate) requirement: Option<String>,
    /// The user account the request acted for.
    pub(crate) user: Option<String>,
    /// Sent by the harness's browser (its `User-Agent`), not by the client.
    pub(crate) from_browser: bool,
}

impl JournalLine {
    /// The tag of the code or token presented as `name` (`refresh_token`, `bearer`, ...).
    pub(crate) fn tag(&self, name: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a non-secret parameter (`code_challenge_method`, ...).
    pub(crate) fn plain(&self, name: &str) -> Option<&str> {
        self.plain
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl JournalLine {
    /// The request as an arrow of a sequence diagram says it: method and path, then
    /// `grant_type`, client authentication and parameter names, never a value.
    pub(crate) fn request_label(&self) -> (String, String) {
        let mut detail: Vec<String> = Vec::new();
        if let Some(g) = &self.grant_type {
            detail.push(g.clone());
        }
        if let Some(a) = &self.client_auth {
            detail.push(a.clone());
        }
        if let Some(m) = &self.auth_mode {
            detail.push(format!("auth_mode {m}"));
        }
        // The authorization request's query is the protocol (its `code_challenge` is tagged,
        // and public by design).
        if let Some(p) = self
            .url_credential
            .as_ref()
            .filter(|_| self.endpoint != Some(EndpointName::Authorize))
        {
            detail.push(format!("CREDENTIAL IN URL ({p})"));
        }
        let names: Vec<&str> = self
            .param_names
            .iter()
            .map(String::as_str)
            .filter(|n| *n != "grant_type")
            .collect();
        if !names.is_empty() {
            detail.push(names.join(", "));
        }
        (format!("{} {}", self.method, self.path), detail.join(" · "))
    }

    pub(crate) fn render(&self) -> String {
        let mut s = format!("#{} {} {}", self.seq, self.method, self.path);
        if let Some(g) = &self.grant_type {
            s.push_str(&format!(" grant_type={g}"));
        }
        if let Some(a) = &self.client_auth {
            s.push_str(&format!(" auth={a}"));
        }
        if let Some(m) = &self.auth_mode {
            s.push_str(&format!(" auth_mode={m}"));
        }
        if !self.param_names.is_empty() {
            s.push_str(&format!(" [{}]", self.param_names.join(",")));
        }
        if let Some(p) = &self.url_credential {
            s.push_str(&format!(" CREDENTIAL IN URL ({p})"));
        }
        if self.status == 0 {
            s.push_str(" -> dropped");
        } else {
            s.push_str(&format!(" -> {}", self.status));
        }
        s
    }
}

/// Control of a running mock.
pub(crate) trait Control: Send + Sync {
    fn arm_fault<'a>(&'a self, spec: &'a FaultSpec) -> BoxFuture<'a, Result<(), String>>;
    fn journal(&self) -> Vec<JournalLine>;
    /// The ids of every record the API resource serves, in order.
    fn dataset_ids(&self) -> Option<Vec<String>>;
    fn expire_access_tokens(&self);
    fn revoke_grants(&self);
    fn advance_clock(&self, by: Duration);
}
