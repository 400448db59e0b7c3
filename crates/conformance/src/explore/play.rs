//! Plays one generated sequence: a fresh mock and a fresh client, every step through the
//! scenario runner's own step executor (`exec::play_step`), the checker after each step.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::check::{Checker, Observed, Violation};
use crate::browser::Browser;
use crate::control::JournalLine;
use crate::cut::{ClientFactory, ClientSettings};
use crate::exec::{play_step, Env, State};
use crate::mockctl::Provider;
use crate::scenario::{Action, MockSetup, Step};
use crate::target::Target;

/// The outcome name of a step the executor could not play (no callback to deliver after an
/// authorization that never reached the redirect, ...). Such a step did nothing.
pub(crate) const UNPLAYABLE: &str = "unplayable";

/// One step as it went.
#[derive(Debug, Clone)]
pub(crate) struct PlayedStep {
    pub(crate) action: Action,
    /// The outcome name, or [`UNPLAYABLE`].
    pub(crate) outcome: String,
    /// What the client or the executor said.
    pub(crate) detail: Option<String>,
    /// For several API calls in parallel, each call's outcome.
    pub(crate) calls: Vec<String>,
    /// What crossed the wire during the step.
    pub(crate) entries: Vec<JournalLine>,
}

/// A played sequence: the steps up to the first violation, and that violation.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) steps: Vec<PlayedStep>,
    /// The 0-based index of the violating step, and what was violated.
    pub(crate) violation: Option<(usize, Violation)>,
}

/// The mock of every explored sequence: a data set of a few records, since no step walks
/// the list (generating the profile's full data set would be most of a sequence's cost).
/// OAuth outcomes do not depend on it, so a written scenario replays the same without it.
fn mock_setup() -> MockSetup {
    MockSetup {
        rate_limit: None,
        dataset_size: Some(3),
    }
}

/// Plays `actions` against a fresh mock of `target` with a fresh client from `factory`,
/// checking every property after every step and stopping at the first violation. `seen`
/// counts the steps played (proptest-state-machine drops the ones never reached before it
/// shrinks). An `Err` is a setup failure (the mock or the client could not start).
pub(crate) async fn play(
    target: &Target,
    factory: &dyn ClientFactory,
    http: &reqwest::Client,
    actions: &[Action],
    seen: Option<&AtomicUsize>,
) -> Result<Run, String> {
    let profile = target.profile();
    let provider = Provider::start(target, &mock_setup()).await?;
    let control = provider
        .control()
        .ok_or("explore needs a mock it controls, not an external server")?;
    let browser = Browser::hermetic(Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let settings = ClientSettings {
        base_url: provider.base_url.clone(),
        client_id: provider.registration.client_id.clone(),
        client_secret: provider.registration.client_secret.clone(),
        redirect_uri: provider.registration.redirect_uri.clone(),
        scopes: profile.scopes.default.clone(),
        timeout: None,
        page_size: None,
        native: provider.native.clone(),
    };
    let client = factory
        .create(profile, &settings)
        .map_err(|e| format!("the client could not be created: {e}"))?;
    let env = Env {
        profile,
        base_url: provider.base_url.clone(),
        client_id: settings.client_id.clone(),
        client_secret: settings.client_secret.clone(),
        redirect_uri: settings.redirect_uri.clone(),
        control: Some(control),
        http: http.clone(),
        browser,
        form_values: target.form_values(),
        native: provider.native.clone(),
    };
    let mut state = State::default();
    let mut checker = Checker::new(profile);
    let mut steps = Vec::with_capacity(actions.len());
    let mut last_seq = 0u64;
    for (i, action) in actions.iter().enumerate() {
        if let Some(seen) = seen {
            seen.fetch_add(1, Ordering::SeqCst);
        }
        let step = Step {
            action: action.clone(),
            expect: Vec::new(),
            journal: Vec::new(),
        };
        let played = play_step(&step, &env, client.as_ref(), &mut state).await;
        let entries: Vec<JournalLine> = control
            .journal()
            .into_iter()
            .filter(|e| e.seq > last_seq)
            .collect();
        if let Some(e) = entries.last() {
            last_seq = e.seq;
        }
        let (outcome, detail, calls) = match played {
            Ok(o) => (o.name, o.detail, o.calls),
            Err(why) => (UNPLAYABLE.to_owned(), Some(why), Vec::new()),
        };
        // A callback step that could be played delivered exactly one URL: the last one.
        let delivered = match action {
            Action::Callback { .. } if outcome != UNPLAYABLE => state.last_delivered(),
            _ => None,
        };
        let violation = if outcome == UNPLAYABLE {
            None
        } else {
            checker.observe(&Observed {
                action,
                outcome: &outcome,
                calls: &calls,
                delivered,
                entries: &entries,
            })
        };
        steps.push(PlayedStep {
            action: action.clone(),
            outcome,
            detail,
            calls,
            entries,
        });
        if let Some(v) = violation {
            return Ok(Run {
                steps,
                violation: Some((i, v)),
            });
        }
    }
    Ok(Run {
        steps,
        violation: None,
    })
}
