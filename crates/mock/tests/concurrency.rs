//! Races: many clients redeem the same code, or the same refresh token, at the same instant.
//! Exactly one code redemption wins, and the reuse rules of each profile then apply to the
//! losers' attempts (RFC 6749 §4.1.2, §10.5; RFC 9700 §4.14.2).

mod common;

use std::sync::Arc;

use common::*;
use handshake_mock::MockProvider;
use handshake_profile::{Profile, Rotation};
use tokio::sync::Barrier;

const RACERS: usize = 16;
const ROUNDS: usize = 10;

/// Runs `RACERS` copies of `f` released together; returns the statuses and bodies.
async fn race<F, Fut>(f: F) -> Vec<(u16, serde_json::Value)>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = reqwest::Response> + Send,
{
    let barrier = Arc::new(Barrier::new(RACERS));
    let f = Arc::new(f);
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let barrier = barrier.clone();
            let f = f.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let resp = f().await;
                let status = resp.status().as_u16();
                (status, resp.json().await.unwrap_or_default())
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn auto_approving(id: &str) -> Arc<MockProvider> {
    Arc::new(
        MockProvider::builder(Profile::builtin(id).unwrap())
            .auto_approve(true)
            .start()
            .await
            .unwrap(),
    )
}

async fn code(mock: &MockProvider) -> String {
    let resp = get_authorize(mock, &auth_params(mock.profile())).await;
    assert_eq!(resp.status(), 302);
    query(&location(&resp), "code").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_redeemed_at_once_by_many_has_exactly_one_winner() {
    for p in Profile::builtins() {
        let id = p.id.clone();
        let mock = auto_approving(&id).await;
        for _ in 0..ROUNDS {
            let c = code(&mock).await;
            let m = mock.clone();
            let answers = race(move || {
                let m = m.clone();
                let c = c.clone();
                async move { exchange(&m, &c).await }
            })
            .await;
            let winners: Vec<_> = answers.iter().filter(|(s, _)| *s == 200).collect();
            assert_eq!(winners.len(), 1, "{id}: {answers:?}");
            for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
                assert_eq!(*status, 400, "{id}");
                assert_eq!(body["error"], "invalid_grant", "{id}: {body}");
            }
            // The losers reused the code: where the profile revokes on reuse, the winner's
            // tokens went with it (RFC 6749 §4.1.2).
            let at = winners[0].1["access_token"].as_str().unwrap();
            let api_status = api(&mock, Some(at)).await.status().as_u16();
            if p.security.revoke_on_code_reuse {
                assert_eq!(api_status, 401, "{id}: reuse revokes what the code issued");
            } else {
                assert_eq!(api_status, 200, "{id}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_refresh_token_presented_at_once_by_many_follows_the_rotation_rules() {
    for p in Profile::builtins()
        .into_iter()
        .filter(|p| p.tokens.refresh_tokens)
    {
        let id = p.id.clone();
        let mock = auto_approving(&id).await;
        for _ in 0..ROUNDS {
            let c = code(&mock).await;
            let first = exchange(&mock, &c).await;
            assert_eq!(first.status(), 200, "{id}");
            let tokens: serde_json::Value = first.json().await.unwrap();
            let rt = tokens["refresh_token"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: no refresh token in {tokens}"))
                .to_owned();
            let m = mock.clone();
            let presented = rt.clone();
            let answers = race(move || {
                let m = m.clone();
                let rt = presented.clone();
                async move { refresh(&m, &rt).await }
            })
            .await;
            let wins: Vec<_> = answers.iter().filter(|(s, _)| *s == 200).collect();
            match p.tokens.rotation {
                Rotation::Off => {
                    assert_eq!(
                        wins.len(),
                        RACERS,
                        "{id}: a non-rotating token refreshes each time"
                    );
                    assert_eq!(refresh(&mock, &rt).await.status(), 200, "{id}");
                }
                Rotation::RotateOldStaysValid => {
                    // Entra: each refresh brings a new token and the old one keeps working,
                    // until the mock's bound of old tokens per grant pushes it out.
                    let kept = handshake_mock::limits::RETIRED_REFRESH_TOKENS;
                    assert_eq!(wins.len(), RACERS.min(kept + 1), "{id}: {answers:?}");
                    for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
                        assert_eq!(*status, 400, "{id}");
                        assert_eq!(body["error"], "invalid_grant", "{id}: {body}");
                    }
                    for (_, body) in &wins {
                        assert_ne!(body["refresh_token"], rt.as_str(), "{id}");
                    }
                    let newest = wins.iter().filter_map(|(_, b)| b["refresh_token"].as_str());
                    for t in newest.take(1) {
                        assert_eq!(refresh(&mock, t).await.status(), 200, "{id}");
                    }
                }
                Rotation::Rotate | Rotation::RotateReuseRevokesFamily => {
                    assert_eq!(wins.len(), 1, "{id}: {answers:?}");
                    for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
                        assert_eq!(*status, 400, "{id}");
                        assert_eq!(body["error"], "invalid_grant", "{id}: {body}");
                    }
                    let new_rt = wins[0].1["refresh_token"].as_str().unwrap();
                    assert_ne!(new_rt, rt, "{id}");
                    let after = refresh(&mock, new_rt).await.status().as_u16();
                    if p.tokens.rotation == Rotation::RotateReuseRevokesFamily {
                        // The losers presented a rotated-out token: reuse revokes the family.
                        assert_eq!(after, 400, "{id}");
                    } else {
                        assert_eq!(after, 200, "{id}");
                    }
                }
            }
        }
    }
}
