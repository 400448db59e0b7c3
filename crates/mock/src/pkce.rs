//! PKCE (RFC 7636), in one place: the syntax of verifiers and challenges, the S256 and plain
//! transforms, the authorization request's challenge as the profile allows it, and the token
//! request's verifier checked against it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use handshake_profile::{PkceMethod, PkceMode, Profile};
use sha2::{Digest, Sha256};

use crate::params::{ct_eq, Params};
use crate::types::Relaxation;

/// RFC 7636 §4.1: 43–128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
/// The challenge has the same syntax (§4.2).
pub(crate) fn valid_value(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The challenge a verifier produces under `method` (RFC 7636 §4.2).
pub(crate) fn transform(method: PkceMethod, verifier: &str) -> String {
    match method {
        PkceMethod::S256 => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        PkceMethod::Plain => verifier.to_owned(),
    }
}

/// RFC 7636 §4.6, compared in constant time.
pub(crate) fn matches(method: PkceMethod, verifier: &str, challenge: &str) -> bool {
    valid_value(verifier) && ct_eq(&transform(method, verifier), challenge)
}

/// Why an authorization request's PKCE parameters were refused, and the [`Relaxation`] that
/// would have let them pass, if any.
pub(crate) type Refusal = (String, Option<Relaxation>);

/// The PKCE methods a profile accepts, `S256 or plain`.
fn methods(p: &Profile) -> String {
    p.pkce
        .methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The authorization request's PKCE challenge, if any. `relaxed` ([`Relaxation::Pkce`])
/// makes PKCE optional with either method.
pub(crate) fn challenge(
    p: &Profile,
    q: &Params,
    relaxed: bool,
) -> Result<Option<(PkceMethod, String)>, Refusal> {
    if p.pkce.mode == PkceMode::Unsupported {
        // This provider ignores PKCE parameters, as real ones without PKCE do.
        return Ok(None);
    }
    let best = p.pkce.best_method().map_or("S256", |m| m.as_str());
    match (q.get("code_challenge"), q.get("code_challenge_method")) {
        (None, Some(_)) => Err((
            "code_challenge_method sent without code_challenge (RFC 7636 §4.3)".to_owned(),
            None,
        )),
        (None, None) if p.pkce.mode == PkceMode::Required && !relaxed => Err((
            format!(
                "code_challenge is required: {} requires PKCE (RFC 7636); send code_challenge with code_challenge_method={best} (accepted: {}), then the code_verifier at the token endpoint",
                p.name,
                methods(p)
            ),
            Some(Relaxation::Pkce),
        )),
        (None, None) => Ok(None),
        (Some(c), method) => {
            // RFC 7636 §4.3: the method defaults to plain.
            let m = PkceMethod::parse(method.unwrap_or("plain")).ok_or_else(|| {
                (
                    "code_challenge_method must be S256 or plain (RFC 7636 §4.3)".to_owned(),
                    None,
                )
            })?;
            if !p.pkce.methods.contains(&m) && !relaxed {
                let sent = if method.is_some() {
                    format!("code_challenge_method={}", m.as_str())
                } else {
                    "no code_challenge_method, which means plain,".to_owned()
                };
                return Err((
                    format!(
                        "transform algorithm not supported: the request sent {sent} and {} accepts {} (RFC 7636 §4.4.1)",
                        p.name,
                        methods(p)
                    ),
                    Some(Relaxation::Pkce),
                ));
            }
            if !valid_value(c) {
                return Err((
                    "code_challenge must be 43-128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.2)"
                        .to_owned(),
                    None,
                ));
            }
            Ok(Some((m, c.to_owned())))
        }
    }
}

/// The token request's `code_verifier` against the code's challenge, as the profile checks
/// it. `Err` is the `invalid_grant` description.
pub(crate) fn verify(
    p: &Profile,
    challenge: Option<&(PkceMethod, String)>,
    verifier: Option<&str>,
) -> Result<(), String> {
    let sec = &p.security;
    if p.pkce.mode == PkceMode::Unsupported || !sec.verify_pkce {
        return Ok(());
    }
    match (challenge, verifier) {
        (Some((m, c)), Some(v)) if !matches(*m, v, c) => {
            let rule = match m {
                PkceMethod::S256 => "BASE64URL(SHA256(code_verifier))",
                PkceMethod::Plain => "the code_verifier itself",
            };
            Err(format!(
                "code_verifier does not match the code_challenge (RFC 7636 §4.6): send the verifier this login's challenge was made from; with {} the challenge is {rule}",
                m.as_str()
            ))
        }
        (Some(_), Some(_)) => Ok(()),
        (Some((m, _)), None) => Err(format!(
            "code_verifier is required: the authorization request had a code_challenge ({}); send the code_verifier it was made from (RFC 7636 §4.5)",
            m.as_str()
        )),
        (None, Some(_)) if sec.reject_pkce_downgrade => Err(
            "code_verifier sent for a code issued without code_challenge (PKCE downgrade, RFC 9700 §4.8.2)"
                .to_owned(),
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(transform(PkceMethod::S256, RFC_VERIFIER), RFC_CHALLENGE);
        assert!(matches(PkceMethod::S256, RFC_VERIFIER, RFC_CHALLENGE));
        assert!(!matches(PkceMethod::Plain, RFC_VERIFIER, RFC_CHALLENGE));
        assert!(matches(PkceMethod::Plain, RFC_VERIFIER, RFC_VERIFIER));
    }

    fn verifier() -> impl Strategy<Value = String> {
        "[A-Za-z0-9._~-]{43,128}"
    }

    proptest! {
        #[test]
        fn s256_accepts_its_own_challenge(v in verifier()) {
            let c = transform(PkceMethod::S256, &v);
            prop_assert_eq!(c.len(), 43);
            prop_assert!(matches(PkceMethod::S256, &v, &c));
            prop_assert!(!matches(PkceMethod::Plain, &v, &c));
        }

        #[test]
        fn plain_is_identity(v in verifier()) {
            prop_assert!(matches(PkceMethod::Plain, &v, &v));
        }

        #[test]
        fn other_verifiers_fail(v in verifier(), w in verifier()) {
            prop_assume!(v != w);
            let c = transform(PkceMethod::S256, &v);
            prop_assert!(!matches(PkceMethod::S256, &w, &c));
            prop_assert!(!matches(PkceMethod::Plain, &w, &v));
        }

        #[test]
        fn out_of_syntax_verifiers_fail(v in "[A-Za-z0-9._~-]{0,42}|[A-Za-z0-9._~-]{129,140}|[A-Za-z0-9]{20}[ +/=%][A-Za-z0-9]{30}") {
            for m in [PkceMethod::S256, PkceMethod::Plain] {
                let c = transform(m, &v);
                prop_assert!(!matches(m, &v, &c));
            }
        }
    }
}
