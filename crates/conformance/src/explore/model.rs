//! What `handshake explore` generates: sequences of scenario steps over the whole vocabulary
//! (user actions, mock actions, timing), drawn by proptest-state-machine's [`Sequential`]
//! strategy from a small model of where the flow stands.
//!
//! The model only steers the draw (after a login, API calls and expiries are likely; before
//! one, a login is) and states what a step needs structurally (a `callback` needs an
//! earlier `authorize`, a replay an earlier `callback`: the rules a scenario file must
//! follow). Those preconditions are checked again while shrinking, so a shrunk sequence is
//! always a valid scenario. What actually happens is the client's and the mock's business,
//! observed by the checker.

use std::time::Duration;

use handshake_profile::{OAuthError, Profile};
use proptest::collection::SizeRange;
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Just, Union};
use proptest_state_machine::Sequential;

use crate::scenario::{Action, ClockAdvance, EndpointName, FaultSpec, Tamper};

/// Where the flow stands, as far as the draw needs to know. Approximate on purpose: faults
/// make the real flow differ, and the checker judges the real one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Model {
    /// An `authorize` step came before (structural).
    authorized: bool,
    /// A `callback` step came before (structural).
    called_back: bool,
    /// A login awaits its callback.
    pending: bool,
    /// The client probably holds tokens.
    connected: bool,
    /// The mock probably considers the access token expired.
    expired: bool,
    /// The grant was revoked at the mock.
    revoked: bool,
}

/// What the provider offers that changes the vocabulary.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Vocabulary {
    revocation: bool,
}

impl Vocabulary {
    pub(crate) fn of(profile: &Profile) -> Self {
        Vocabulary {
            revocation: !profile.oauth.revoke_paths.is_empty(),
        }
    }
}

/// The generated sequence type: proptest-state-machine's strategy over our model and the
/// scenario [`Action`]s.
pub(crate) type SequenceStrategy =
    Sequential<Model, Action, BoxedStrategy<Model>, BoxedStrategy<Action>>;

/// Sequences of 1 to `max_steps` steps for this vocabulary.
pub(crate) fn sequences(vocabulary: Vocabulary, max_steps: usize) -> SequenceStrategy {
    Sequential::new(
        SizeRange::from(1..=max_steps.max(1)),
        || Just(Model::default()).boxed(),
        preconditions,
        move |m: &Model| transitions(m, vocabulary),
        apply,
    )
}

/// The rules of the scenario format (`Scenario::check_order`), kept while shrinking.
fn preconditions(m: &Model, a: &Action) -> bool {
    match a {
        Action::Callback { tamper, .. } => {
            m.authorized && (*tamper != Tamper::Replay || m.called_back)
        }
        _ => true,
    }
}

fn apply(mut m: Model, a: &Action) -> Model {
    match a {
        Action::Authorize { .. } => {
            m.authorized = true;
            m.pending = true;
        }
        Action::Callback { tamper, error } => {
            m.called_back = true;
            if *tamper == Tamper::None && error.is_none() && m.pending {
                m.pending = false;
                m.connected = true;
                m.expired = false;
                m.revoked = false;
            } else if error.is_some() {
                m.pending = false;
            }
        }
        Action::ApiCall | Action::ParallelApiCalls { .. } | Action::Refresh => {
            if m.revoked {
                m.connected = false;
            }
            m.expired = false;
        }
        Action::Logout => {
            m.connected = false;
            m.pending = false;
        }
        Action::ExpireTokens | Action::AdvanceClock(ClockAdvance::PastAccessTokenLifetime) => {
            m.expired = true
        }
        Action::RevokeGrant => m.revoked = true,
        _ => {}
    }
    m
}

/// The next step's strategy, weighted by where the flow stands.
fn transitions(m: &Model, v: Vocabulary) -> BoxedStrategy<Action> {
    let mut w: Vec<(u32, BoxedStrategy<Action>)> = Vec::new();
    let callbacks =
        |w: &mut Vec<(u32, BoxedStrategy<Action>)>, honest, forged, dropped, error, replay| {
            w.push((honest, Just(callback(Tamper::None)).boxed()));
            w.push((forged, Just(callback(Tamper::ForgeState)).boxed()));
            w.push((dropped, Just(callback(Tamper::DropState)).boxed()));
            w.push((error, error_callback().boxed()));
            if m.called_back {
                w.push((replay, Just(callback(Tamper::Replay)).boxed()));
            }
        };
    if m.pending {
        callbacks(&mut w, 40, 8, 6, 6, 4);
        w.push((5, Just(authorize()).boxed()));
        w.push((12, fault(v).boxed()));
        w.push((4, clock().boxed()));
        w.push((3, Just(Action::ApiCall).boxed()));
        w.push((2, Just(Action::Logout).boxed()));
    } else if m.connected {
        w.push((16, Just(Action::ApiCall).boxed()));
        w.push((12, parallel().boxed()));
        w.push((9, Just(Action::Refresh).boxed()));
        w.push((
            if m.expired { 4 } else { 12 },
            Just(Action::ExpireTokens).boxed(),
        ));
        w.push((5, Just(Action::RevokeGrant).boxed()));
        w.push((5, clock().boxed()));
        w.push((15, fault(v).boxed()));
        w.push((
            if v.revocation { 6 } else { 3 },
            Just(Action::Logout).boxed(),
        ));
        w.push((5, Just(authorize()).boxed()));
        if m.authorized {
            callbacks(&mut w, 2, 1, 1, 1, 4);
        }
    } else {
        w.push((55, Just(authorize()).boxed()));
        if m.authorized {
            callbacks(&mut w, 4, 3, 3, 2, 6);
        }
        w.push((10, fault(v).boxed()));
        w.push((4, Just(Action::ApiCall).boxed()));
        w.push((2, Just(Action::Refresh).boxed()));
        w.push((2, Just(Action::Logout).boxed()));
        w.push((3, clock().boxed()));
        w.push((1, Just(Action::ExpireTokens).boxed()));
        w.push((1, Just(Action::RevokeGrant).boxed()));
    }
    Union::new_weighted(w).boxed()
}

fn authorize() -> Action {
    Action::Authorize {
        present: Vec::new(),
        equals: Default::default(),
    }
}

fn callback(tamper: Tamper) -> Action {
    Action::Callback {
        tamper,
        error: None,
    }
}

fn error_callback() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => Just(OAuthError::AccessDenied),
        1 => Just(OAuthError::TemporarilyUnavailable),
        1 => Just(OAuthError::ServerError),
    ]
    .prop_map(|e| Action::Callback {
        tamper: Tamper::None,
        error: Some(e),
    })
}

fn parallel() -> impl Strategy<Value = Action> {
    (2u32..=4).prop_map(|calls| Action::ParallelApiCalls { calls })
}

fn clock() -> impl Strategy<Value = Action> {
    prop_oneof![
        2 => (1u64..=5).prop_map(|s| ClockAdvance::By(Duration::from_secs(s))),
        1 => (60u64..=900).prop_map(|s| ClockAdvance::By(Duration::from_secs(s))),
        2 => Just(ClockAdvance::PastAccessTokenLifetime),
        1 => Just(ClockAdvance::PastCodeLifetime),
    ]
    .prop_map(Action::AdvanceClock)
}

/// A fault on any endpoint, of each kind that endpoint can have. Delays stay short (the
/// run has a time budget) and no fault drops the browser's own connection to the
/// authorization endpoint (the runner, not the client, would fail then).
fn fault(v: Vocabulary) -> impl Strategy<Value = Action> {
    let token = prop_oneof![
        3 => oauth_error(vec![OAuthError::InvalidGrant, OAuthError::InvalidRequest, OAuthError::InvalidClient, OAuthError::TemporarilyUnavailable, OAuthError::ServerError]),
        2 => status(&[500, 502, 503]),
        2 => delay(),
        1 => Just(Kind::Drop),
    ];
    let api = prop_oneof![
        3 => status(&[401, 500, 503]),
        3 => (1u64..=2).prop_map(Kind::RateLimited),
        2 => delay(),
        1 => Just(Kind::Drop),
    ];
    let revoke = prop_oneof![
        2 => status(&[500, 503]),
        1 => oauth_error(vec![OAuthError::InvalidRequest, OAuthError::InvalidClient]),
        1 => delay(),
        1 => Just(Kind::Drop),
    ];
    let authorize = prop_oneof![
        2 => oauth_error(vec![OAuthError::AccessDenied, OAuthError::ServerError, OAuthError::TemporarilyUnavailable]),
        1 => status(&[500, 503]),
        1 => delay(),
    ];
    let revoke_weight = if v.revocation { 2 } else { 0 };
    let mut choices: Vec<(u32, BoxedStrategy<(EndpointName, Kind)>)> = vec![
        (5, token.prop_map(|k| (EndpointName::Token, k)).boxed()),
        (5, api.prop_map(|k| (EndpointName::Api, k)).boxed()),
        (
            1,
            authorize.prop_map(|k| (EndpointName::Authorize, k)).boxed(),
        ),
    ];
    if revoke_weight > 0 {
        choices.push((
            revoke_weight,
            revoke.prop_map(|k| (EndpointName::Revoke, k)).boxed(),
        ));
    }
    (Union::new_weighted(choices), 1u32..=3).prop_map(|((endpoint, kind), times)| {
        let mut spec = FaultSpec {
            endpoint,
            error: None,
            status: None,
            delay_ms: None,
            drop_connection: false,
            retry_after_secs: None,
            times,
        };
        match kind {
            Kind::Error(e) => spec.error = Some(e),
            Kind::Status(s) => spec.status = Some(s),
            Kind::Delay(ms) => spec.delay_ms = Some(ms),
            Kind::Drop => spec.drop_connection = true,
            Kind::RateLimited(secs) => spec.retry_after_secs = Some(secs),
        }
        Action::Fault(spec)
    })
}

#[derive(Debug, Clone)]
enum Kind {
    Error(OAuthError),
    Status(u16),
    Delay(u64),
    Drop,
    RateLimited(u64),
}

fn oauth_error(errors: Vec<OAuthError>) -> BoxedStrategy<Kind> {
    proptest::sample::select(errors)
        .prop_map(Kind::Error)
        .boxed()
}

fn status(statuses: &'static [u16]) -> BoxedStrategy<Kind> {
    proptest::sample::select(statuses)
        .prop_map(Kind::Status)
        .boxed()
}

fn delay() -> BoxedStrategy<Kind> {
    (5u64..=40).prop_map(Kind::Delay).boxed()
}

#[cfg(test)]
mod tests {
    use proptest::strategy::ValueTree as _;
    use proptest::test_runner::TestRunner;

    use super::*;

    #[test]
    fn every_generated_sequence_is_a_valid_scenario() {
        let capsule = Profile::builtin("capsule").unwrap();
        let strategy = sequences(Vocabulary::of(&capsule), 16);
        let mut runner = TestRunner::deterministic();
        let mut kinds = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let (_, actions, _) = strategy.new_tree(&mut runner).unwrap().current();
            let mut m = Model::default();
            for a in &actions {
                assert!(preconditions(&m, a), "{a:?} after {m:?}");
                m = apply(m, a);
                kinds.insert(a.name());
            }
            let text = super::super::write::scenario_text(
                "t",
                "RFC 6749",
                &[],
                &actions
                    .iter()
                    .map(|a| super::super::write::WrittenStep {
                        action: a.clone(),
                        expect: Vec::new(),
                        journal: Vec::new(),
                    })
                    .collect::<Vec<_>>(),
                "",
            )
            .unwrap();
            // A sequence of control steps only asserts nothing: the format refuses it, and a
            // written scenario always has assertions. Here only the grammar matters.
            if let Err(e) = crate::Scenario::from_toml_str(&text, "t.toml") {
                assert!(e.reason.contains("asserts nothing"), "{e}\n{text}");
            }
        }
        for k in [
            "authorize",
            "callback",
            "api_call",
            "refresh",
            "logout",
            "expire_tokens",
            "revoke_grant",
            "advance_clock",
            "fault",
        ] {
            assert!(kinds.contains(k), "{k} never drawn: {kinds:?}");
        }
    }
}
