//! A finding as a scenario file: the shrunk steps, each with the outcomes seen, and at the
//! violating step the assertions that state the property (an outcome, journal counts, PKCE
//! parameters). The file is then replayed through the scenario runner itself: it must fail
//! for the explored client and pass for the reference client, every time.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use futures::future::join_all;
use handshake_profile::{PkceMethod, Profile};

use super::play::{Run, UNPLAYABLE};
use super::property::Property;
use crate::cut::{ClientFactory, ClientFailure, ClientSettings, ClientUnderTest};
use crate::reference::ReferenceClient;
use crate::report::Status;
use crate::runner::Runner;
use crate::scenario::{Action, ClockAdvance, EndpointName, JournalExpect, Scenario, Tamper};
use crate::target::Target;

/// One step of a scenario to write.
#[derive(Debug, Clone)]
pub(crate) struct WrittenStep {
    pub(crate) action: Action,
    /// Accepted outcomes (empty: none written; a client step then expects `ok`).
    pub(crate) expect: Vec<String>,
    pub(crate) journal: Vec<JournalExpect>,
}

/// How a written scenario replayed through the runner.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verification {
    /// Replays per client.
    pub runs: u32,
    /// Replays that failed for the explored client (all of them, for a good reproduction).
    pub failed_for_client: u32,
    /// Replays that passed for the reference client; `None` when the explored client is the
    /// reference client itself.
    pub passed_for_reference: Option<u32>,
    /// Why the explored client failed the replay (the runner's reason).
    pub client_reason: Option<String>,
    /// Why a reference replay failed, if one did.
    pub reference_reason: Option<String>,
}

impl Verification {
    /// The file reproduces the finding: it failed for the explored client every time, and
    /// passed for the reference client every time.
    pub fn is_reproduction(&self) -> bool {
        self.failed_for_client == self.runs
            && self.passed_for_reference.is_none_or(|p| p == self.runs)
    }
}

/// The scenario steps for a finding: `runs_flawed` are plays of the shrunk sequence by the
/// explored client (the violating one first), `runs_reference` by the reference client.
pub(crate) fn encode(
    property: Property,
    violating: usize,
    actions: &[Action],
    runs_flawed: &[Run],
    runs_reference: &[Run],
    profile: &Profile,
) -> Vec<WrittenStep> {
    let mut out = Vec::new();
    for (i, action) in actions.iter().enumerate().take(violating + 1) {
        let at = |runs: &[Run]| -> Vec<String> {
            runs.iter()
                .filter_map(|r| r.steps.get(i))
                .map(|s| s.outcome.clone())
                .collect()
        };
        // Races (parallel calls) need not play out the same way every time: the outcomes of
        // the runs that violated the property at the same step state the violation.
        let reproducing: Vec<Run> = runs_flawed
            .iter()
            .filter(|r| {
                r.violation
                    .as_ref()
                    .is_some_and(|(at, v)| *at == violating && v.property == property)
            })
            .cloned()
            .collect();
        let (flawed, reference) = if i == violating && !reproducing.is_empty() {
            (at(&reproducing), at(runs_reference))
        } else {
            (at(runs_flawed), at(runs_reference))
        };
        let playable = flawed.iter().chain(&reference).any(|o| o != UNPLAYABLE);
        if !playable {
            // The executor could not play it for anyone: it did nothing.
            continue;
        }
        let mut action = action.clone();
        let mut journal = Vec::new();
        let expect: BTreeSet<String> = if i == violating && !reference.is_empty() {
            reference.iter().cloned().collect()
        } else {
            flawed.iter().chain(&reference).cloned().collect()
        };
        if i == violating {
            if property == Property::PkceChallenge {
                if let Action::Authorize { present, equals } = &mut action {
                    present.push("code_challenge".to_owned());
                    if profile.pkce.best_method() == Some(PkceMethod::S256) {
                        present.push("code_challenge_method".to_owned());
                        equals.insert("code_challenge_method".to_owned(), "S256".to_owned());
                    }
                }
            }
            let flawed_runs = if reproducing.is_empty() {
                runs_flawed
            } else {
                &reproducing[..]
            };
            journal = journal_assertions(property, i, flawed_runs, runs_reference);
        }
        let expect = if action.needs_control() {
            Vec::new()
        } else {
            expect.into_iter().filter(|o| o != UNPLAYABLE).collect()
        };
        out.push(WrittenStep {
            action,
            expect,
            journal,
        });
    }
    out
}

/// The journal counts that state the property at the violating step: for each candidate
/// (endpoint, grant type), the most the reference client sent, when the explored client
/// always sent more. Without reference runs, the property's own bound.
fn journal_assertions(
    property: Property,
    i: usize,
    flawed: &[Run],
    reference: &[Run],
) -> Vec<JournalExpect> {
    let candidates: &[(EndpointName, Option<&str>)] = match property {
        Property::CallbackState | Property::ErrorCallback => &[(EndpointName::Token, None)],
        Property::CodeSingleUse | Property::PkceVerifier => {
            &[(EndpointName::Token, Some("authorization_code"))]
        }
        Property::SingleFlightRefresh => &[(EndpointName::Token, Some("refresh_token"))],
        Property::ReauthorizeAfterInvalidGrant => &[
            (EndpointName::Token, Some("refresh_token")),
            (EndpointName::Api, None),
        ],
        Property::RotatedRefreshToken => &[
            (EndpointName::Token, Some("refresh_token")),
            (EndpointName::Revoke, None),
        ],
        Property::RateLimitRespected => &[(EndpointName::Api, None)],
        Property::TokensMatchLastResponse => &[
            (EndpointName::Api, None),
            (EndpointName::Token, Some("refresh_token")),
        ],
        Property::NoCredentialsInUrl | Property::PkceChallenge => &[],
    };
    let count = |r: &Run, endpoint: EndpointName, grant: Option<&str>| -> Option<usize> {
        r.steps.get(i).map(|s| {
            s.entries
                .iter()
                .filter(|e| e.endpoint == Some(endpoint))
                .filter(|e| grant.is_none_or(|g| e.grant_type.as_deref() == Some(g)))
                .count()
        })
    };
    let mut out = Vec::new();
    for &(endpoint, grant) in candidates {
        let flawed_min = flawed
            .iter()
            .filter_map(|r| count(r, endpoint, grant))
            .min();
        let reference_max = reference
            .iter()
            .filter_map(|r| count(r, endpoint, grant))
            .max();
        let bound = match (reference_max, property) {
            (Some(max), _) => Some(max),
            (None, Property::CallbackState | Property::ErrorCallback) => Some(0),
            (None, Property::SingleFlightRefresh) => Some(1),
            (None, _) => None,
        };
        if let (Some(bound), Some(min)) = (bound, flawed_min) {
            if min > bound {
                out.push(count_expect(endpoint, grant, bound));
            }
        }
    }
    if property == Property::PkceVerifier {
        let mut e = count_expect(EndpointName::Token, Some("authorization_code"), 1);
        e.count = None;
        e.min = Some(1);
        e.with_params = vec!["code_verifier".to_owned()];
        out.push(e);
    }
    if property == Property::NoCredentialsInUrl {
        let leaked = flawed
            .first()
            .and_then(|r| r.steps.get(i))
            .and_then(|s| {
                s.entries.iter().find(|e| {
                    e.url_credentials.iter().any(|n| {
                        !(e.endpoint == Some(EndpointName::Authorize) && n == "code_challenge")
                    })
                })
            })
            .and_then(|e| e.endpoint);
        if let Some(endpoint) = leaked {
            let mut e = count_expect(endpoint, None, 0);
            e.count = None;
            e.min = Some(0);
            e.credentials_in_url = Some(false);
            out.push(e);
        }
    }
    out
}

fn count_expect(endpoint: EndpointName, grant: Option<&str>, bound: usize) -> JournalExpect {
    JournalExpect {
        endpoint,
        grant_type: grant.map(str::to_owned),
        count: (bound == 0).then_some(0),
        min: None,
        max: (bound > 0).then_some(bound),
        client_auth: None,
        with_params: Vec::new(),
        auth_mode: None,
        credentials_in_url: None,
    }
}

/// What a scenario needs of a provider for the finding to apply there.
pub(crate) fn requirements(property: Property) -> &'static [&'static str] {
    match property {
        Property::PkceChallenge | Property::PkceVerifier => &["pkce"],
        Property::RotatedRefreshToken => &["rotation"],
        Property::SingleFlightRefresh | Property::ReauthorizeAfterInvalidGrant => &["refresh"],
        _ => &[],
    }
}

fn q(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn list(items: &[String]) -> String {
    format!(
        "[{}]",
        items.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
    )
}

fn tamper_name(t: Tamper) -> &'static str {
    match t {
        Tamper::None => "none",
        Tamper::ForgeState => "forge_state",
        Tamper::DropState => "drop_state",
        Tamper::Replay => "replay",
    }
}

/// The `key = value` lines of an action (after `action = "..."`), as a scenario file has
/// them. Only the vocabulary explore generates is rendered.
pub(crate) fn action_lines(a: &Action) -> Result<Vec<String>, String> {
    let mut l = Vec::new();
    match a {
        Action::Authorize { present, equals } => {
            if !present.is_empty() {
                l.push(format!("present = {}", list(present)));
            }
            if !equals.is_empty() {
                let pairs: Vec<String> = equals
                    .iter()
                    .map(|(k, v)| format!("{k} = {}", q(v)))
                    .collect();
                l.push(format!("equals = {{ {} }}", pairs.join(", ")));
            }
        }
        Action::Callback { tamper, error } => {
            if *tamper != Tamper::None {
                l.push(format!("tamper = {}", q(tamper_name(*tamper))));
            }
            if let Some(e) = error {
                l.push(format!("error = {}", q(e.as_str())));
            }
        }
        Action::ParallelApiCalls { calls } => l.push(format!("parallel = {calls}")),
        Action::ApiCall
        | Action::Refresh
        | Action::Logout
        | Action::ExpireTokens
        | Action::RevokeGrant => {}
        Action::AdvanceClock(adv) => l.push(match adv {
            ClockAdvance::By(d) => format!("seconds = {}", d.as_secs()),
            ClockAdvance::PastCodeLifetime => "past = \"code_lifetime\"".to_owned(),
            ClockAdvance::PastAccessTokenLifetime => "past = \"access_token_lifetime\"".to_owned(),
        }),
        Action::Fault(f) => {
            l.push(format!("endpoint = {}", q(f.endpoint.as_str())));
            if let Some(e) = &f.error {
                l.push(format!("error = {}", q(e.as_str())));
            }
            if let Some(s) = f.status {
                l.push(format!("status = {s}"));
            }
            if let Some(ms) = f.delay_ms {
                l.push(format!("delay_ms = {ms}"));
            }
            if f.drop_connection {
                l.push("drop_connection = true".to_owned());
            }
            if let Some(secs) = f.retry_after_secs {
                l.push(format!("retry_after_secs = {secs}"));
            }
            if f.times != 1 {
                l.push(format!("times = {}", f.times));
            }
        }
        other => return Err(format!("explore does not write `{}` steps", other.name())),
    }
    Ok(l)
}

/// One line for a report: `callback tamper = "forge_state"`.
pub(crate) fn describe(a: &Action) -> String {
    let rest = action_lines(a).unwrap_or_default();
    if rest.is_empty() {
        a.name().to_owned()
    } else {
        format!("{} {}", a.name(), rest.join(", "))
    }
}

fn journal_line(j: &JournalExpect) -> String {
    let mut parts = vec![format!("endpoint = {}", q(j.endpoint.as_str()))];
    if let Some(g) = &j.grant_type {
        parts.push(format!("grant_type = {}", q(g)));
    }
    if let Some(n) = j.count {
        parts.push(format!("count = {n}"));
    }
    if let Some(n) = j.min {
        parts.push(format!("min = {n}"));
    }
    if let Some(n) = j.max {
        parts.push(format!("max = {n}"));
    }
    if !j.with_params.is_empty() {
        parts.push(format!("with_params = {}", list(&j.with_params)));
    }
    if let Some(b) = j.credentials_in_url {
        parts.push(format!("credentials_in_url = {b}"));
    }
    format!("{{ {} }}", parts.join(", "))
}

/// The text of a scenario file: `header` (comment lines, without `#`), title, citation,
/// requirements, then the steps.
pub(crate) fn scenario_text(
    title: &str,
    rfc: &str,
    requires: &[&str],
    steps: &[WrittenStep],
    header: &str,
) -> Result<String, String> {
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "{}", format!("# {line}").trim_end());
    }
    let _ = writeln!(out, "title = {}", q(title));
    let _ = writeln!(out, "rfc = {}", q(rfc));
    if !requires.is_empty() {
        let r: Vec<String> = requires.iter().map(|s| (*s).to_owned()).collect();
        let _ = writeln!(out, "requires = {}", list(&r));
    }
    for s in steps {
        let _ = writeln!(out, "\n[[steps]]\naction = {}", q(s.action.name()));
        for l in action_lines(&s.action)? {
            let _ = writeln!(out, "{l}");
        }
        match s.expect.as_slice() {
            [] => {}
            [one] => {
                let _ = writeln!(out, "expect = {}", q(one));
            }
            many => {
                let _ = writeln!(out, "expect = {}", list(many));
            }
        }
        if !s.journal.is_empty() {
            let items: Vec<String> = s.journal.iter().map(journal_line).collect();
            let _ = writeln!(out, "journal = [{}]", items.join(", "));
        }
    }
    Ok(out)
}

/// A factory shared with the runner.
struct Shared(Arc<dyn ClientFactory>);

impl ClientFactory for Shared {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn create(
        &self,
        profile: &Profile,
        settings: &ClientSettings,
    ) -> Result<Box<dyn ClientUnderTest>, ClientFailure> {
        self.0.create(profile, settings)
    }
}

/// Replays `scenario` through the scenario runner `runs` times for the explored client and,
/// unless it is the reference client, `runs` times for the reference client.
pub(crate) async fn verify(
    scenario: &Scenario,
    target: &Target,
    client: Arc<dyn ClientFactory>,
    with_reference: bool,
    runs: u32,
) -> Verification {
    let replay = |factory: Shared| {
        let scenario = scenario.clone();
        let target = target.clone();
        async move {
            let report = Runner::new(factory)
                .scenarios([scenario])
                .targets([target])
                .concurrency(1)
                .run()
                .await;
            report
                .cases
                .first()
                .map(|c| (c.status, c.reason.clone()))
                .unwrap_or((Status::Failed, Some("no case ran".to_owned())))
        }
    };
    let flawed = join_all((0..runs).map(|_| replay(Shared(Arc::clone(&client))))).await;
    let reference = if with_reference {
        Some(join_all((0..runs).map(|_| replay(Shared(Arc::new(ReferenceClient))))).await)
    } else {
        None
    };
    Verification {
        runs,
        failed_for_client: flawed.iter().filter(|(s, _)| *s == Status::Failed).count() as u32,
        passed_for_reference: reference
            .as_ref()
            .map(|r| r.iter().filter(|(s, _)| *s == Status::Passed).count() as u32),
        client_reason: flawed
            .iter()
            .find(|(s, _)| *s == Status::Failed)
            .and_then(|(_, r)| r.clone()),
        reference_reason: reference
            .iter()
            .flatten()
            .find(|(s, _)| *s != Status::Passed)
            .map(|(s, r)| r.clone().unwrap_or_else(|| s.as_str().to_owned())),
    }
}
