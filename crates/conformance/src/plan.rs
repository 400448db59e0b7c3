//! The matrix planner: which scenario runs against which provider, and why one is skipped.

use std::sync::Arc;

use handshake_profile::{PkceMode, Profile, Rotation};

use crate::scenario::{Action, Requirement, Scenario};
use crate::target::Target;

/// One cell of the matrix.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PlannedCase {
    /// The scenario.
    pub scenario: Arc<Scenario>,
    /// Where it runs.
    pub target: Arc<Target>,
    /// Why it does not run, if it does not.
    pub skip: Option<String>,
}

/// Plans every scenario against every target, in scenario-major order.
pub fn plan(scenarios: &[Arc<Scenario>], targets: &[Arc<Target>]) -> Vec<PlannedCase> {
    let mut out = Vec::with_capacity(scenarios.len() * targets.len());
    for s in scenarios {
        for t in targets {
            out.push(PlannedCase {
                scenario: Arc::clone(s),
                target: Arc::clone(t),
                skip: skip_reason(s, t),
            });
        }
    }
    out
}

/// Why `scenario` cannot run against `target`, or `None` if it can.
///
/// ```
/// use handshake_conformance::{skip_reason, Scenario, Target};
/// use handshake_profile::Profile;
///
/// let s = Scenario::from_toml_str(
///     "title = 't'\nrfc = 'RFC 7636 §4.4'\nrequires = ['pkce']\n[[steps]]\naction = 'authorize'\n",
///     "pkce.toml",
/// ).unwrap();
/// let redtail = Target::mock(Profile::builtin("redtail").unwrap());
/// assert!(skip_reason(&s, &redtail).unwrap().contains("pkce.mode = \"unsupported\""));
/// let capsule = Target::mock(Profile::builtin("capsule").unwrap());
/// assert_eq!(skip_reason(&s, &capsule), None);
/// ```
pub fn skip_reason(scenario: &Scenario, target: &Target) -> Option<String> {
    let profile = target.profile();
    // What the provider lacks first: "the profile has no native_auth" says more than "needs
    // a mock data set" about a native scenario against a server without a native scheme.
    scenario
        .requires
        .iter()
        .filter(|r| **r != Requirement::Control)
        .find_map(|r| unmet(*r, profile))
        .or_else(|| {
            (scenario.requires.contains(&Requirement::Control) && !target.is_controllable())
                .then(|| control_reason(scenario))
        })
}

/// What exactly a scenario needs from a mock, for the skip reason against an external server.
fn control_reason(scenario: &Scenario) -> String {
    let external = "an external server cannot be set up that way";
    if let Some(n) = scenario.mock.dataset_size {
        return format!("needs a mock data set of {n} records ([mock] dataset_size): {external}");
    }
    if let Some(rl) = scenario.mock.rate_limit {
        return format!(
            "needs the mock's rate limit set to {} per {} s ([mock] rate_limit): {external}",
            rl.limit, rl.window_secs
        );
    }
    let step = scenario
        .steps
        .iter()
        .enumerate()
        .find(|(_, st)| st.action.needs_control());
    match step {
        Some((i, st)) => {
            let what = match &st.action {
                Action::ExpireTokens => {
                    "the provider to expire every access token on demand".to_owned()
                }
                Action::RevokeGrant => "the provider to revoke the grant on demand".to_owned(),
                Action::AdvanceClock(_) => "the provider's clock to move forward".to_owned(),
                Action::Fault(f) => format!(
                    "a fault injected at the {} endpoint ({})",
                    f.endpoint.as_str(),
                    f.describe()
                ),
                other => format!("the mock's control for {}", other.name()),
            };
            format!(
                "step {} ({}) needs {what}: only a handshake mock can do that",
                i + 1,
                st.action.name()
            )
        }
        None => "needs the mock's control: not available against an external server".to_owned(),
    }
}

fn unmet(r: Requirement, p: &Profile) -> Option<String> {
    let sec = &p.security;
    let off = |knob: &str| Some(format!("security.{knob} = false in this profile"));
    match r {
        Requirement::Pkce if !p.pkce.supported() => {
            Some("pkce.mode = \"unsupported\": the provider has no PKCE".to_owned())
        }
        Requirement::PkceOptional if p.pkce.mode != PkceMode::Optional => Some(format!(
            "needs pkce.mode = \"optional\" (a code issued without a challenge); this profile has {:?}",
            mode_name(p.pkce.mode)
        )),
        Requirement::PkceRequired if p.pkce.mode != PkceMode::Required => Some(format!(
            "needs pkce.mode = \"required\"; this profile has {:?}",
            mode_name(p.pkce.mode)
        )),
        Requirement::Refresh if !p.tokens.refresh_tokens => {
            Some("tokens.refresh_tokens = false: the provider issues no refresh tokens".to_owned())
        }
        Requirement::Rotation if p.tokens.rotation == Rotation::Off => {
            Some("tokens.rotation = \"off\": refresh tokens do not rotate".to_owned())
        }
        Requirement::RotationFamily if p.tokens.rotation != Rotation::RotateReuseRevokesFamily => {
            Some(
                "needs tokens.rotation = \"rotate_reuse_revokes_family\" (refresh-token reuse detection)"
                    .to_owned(),
            )
        }
        Requirement::RotationRetiresOld if !p.tokens.rotation.retires_old() => Some(format!(
            "needs a rotation that refuses a rotated-out refresh token (\"rotate\" or \"rotate_reuse_revokes_family\"); this profile has tokens.rotation = {:?}",
            rotation_name(p.tokens.rotation)
        )),
        Requirement::Revocation if p.oauth.revoke_path().is_none() => {
            Some("oauth.revoke_paths is empty: the provider has no revocation endpoint".to_owned())
        }
        Requirement::RateLimit if p.rate_limit.limit.is_none() => {
            Some("rate_limit.limit is unset: the provider documents no rate limit".to_owned())
        }
        Requirement::Scope => match &p.api.required_scope {
            None => Some("api.required_scope is unset: the API needs no particular scope".to_owned()),
            Some(_) if !p.scopes.requestable => Some(
                "scopes.requestable = false: scopes are fixed when the app is registered, so a client cannot leave one out"
                    .to_owned(),
            ),
            Some(req) if p.scopes.required.contains(req) => Some(format!(
                "{req:?} is in scopes.required: the authorization page refuses a request without it"
            )),
            Some(req) if !p.scopes.supported.iter().any(|s| s != req) => Some(format!(
                "{req:?} is the only supported scope: a client cannot leave it out"
            )),
            Some(_) if !sec.enforce_scope => off("enforce_scope"),
            Some(_) => None,
        },
        Requirement::SingleUseCodes if !sec.single_use_codes => off("single_use_codes"),
        Requirement::RevokeOnCodeReuse if !sec.revoke_on_code_reuse => off("revoke_on_code_reuse"),
        Requirement::ExactRedirectUri if !sec.exact_redirect_uri || !sec.bind_code => {
            off(if sec.exact_redirect_uri {
                "bind_code"
            } else {
                "exact_redirect_uri"
            })
        }
        Requirement::VerifyPkce if !sec.verify_pkce => off("verify_pkce"),
        Requirement::RejectPkceDowngrade if !sec.reject_pkce_downgrade => {
            off("reject_pkce_downgrade")
        }
        Requirement::AuthenticateClient if !sec.authenticate_client => off("authenticate_client"),
        Requirement::Native if p.native_auth.is_none() => Some(
            "the profile has no native_auth: the provider has no native (API-key) scheme"
                .to_owned(),
        ),
        Requirement::NativeClientIdHeader
            if p.native_auth.as_ref().and_then(|n| n.client_id_header.as_ref()).is_none() =>
        {
            Some("native_auth.client_id_header is unset: the native scheme sends no client-id header".to_owned())
        }
        Requirement::NativeKeyExchange
            if p.native_auth.as_ref().and_then(|n| n.exchange_path.as_ref()).is_none() =>
        {
            Some("native_auth.exchange_path is unset: the native scheme has no key exchange".to_owned())
        }
        Requirement::Paging if p.api.paging.is_none() || p.api.dataset.is_none() => Some(
            "api.paging or api.dataset is unset: the API serves no paged data set".to_owned(),
        ),
        _ => None,
    }
}

fn rotation_name(r: Rotation) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn mode_name(m: PkceMode) -> &'static str {
    match m {
        PkceMode::Required => "required",
        PkceMode::Optional => "optional",
        PkceMode::Unsupported => "unsupported",
    }
}
