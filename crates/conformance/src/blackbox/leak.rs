//! Finding the mock's codes and tokens in what an app sends to the browser.
//!
//! The mock's journal never shows a code or token, only a tag: `[redacted:xxxxxxxx]`, the first
//! four bytes of the value's SHA-256 in hex (see `handshake_mock::JournalEntry`). The harness
//! tags every token-shaped string in the app's answers the same way and looks the tags up: a
//! hit means the app echoed a secret it was issued, yet neither the journal nor this module
//! ever holds a token in clear beyond the one answer being scanned.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

/// The journal tag of a secret value, exactly as the mock writes it.
pub(crate) fn tag(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("[redacted:{hex}]")
}

/// Extracts the tag from a journal value such as `[redacted:1a2b3c4d]` or
/// `Bearer [redacted:1a2b3c4d]`.
pub(crate) fn tag_in(value: &str) -> Option<String> {
    let start = value.find("[redacted:")?;
    let rest = &value[start..];
    let end = rest.find(']')?;
    Some(rest[..=end].to_owned())
}

/// Shortest string considered: codes and tokens of any sane provider are longer, and shorter
/// runs (words, numbers) would only cost hashing time.
const MIN_LEN: usize = 16;

/// Every tag of a token-shaped run in `text`, and in its percent-decoded form.
///
/// Runs are maximal sequences of RFC 6750 `b64token` characters; the narrower base64url
/// alphabet and `=`-split pieces are tried too, so a token inside `access_token=...&` or at
/// the end of a sentence is still found.
pub(crate) fn tags_in_text(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let decoded = percent_decode(text);
    for t in [text, decoded.as_str()] {
        let wide = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
        let narrow = |c: char| c.is_ascii_alphanumeric() || "-_".contains(c);
        for run in t.split(|c: char| !wide(c)) {
            add(&mut out, run);
            add(&mut out, run.trim_end_matches(['.', '=']));
            for piece in run.split('=') {
                add(&mut out, piece);
            }
        }
        for run in t.split(|c: char| !narrow(c)) {
            add(&mut out, run);
        }
    }
    out
}

fn add(out: &mut BTreeSet<String>, run: &str) {
    if run.len() >= MIN_LEN {
        out.insert(tag(run));
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5";

    #[test]
    fn tag_matches_the_journal_format() {
        // SHA-256("abc") starts with ba7816bf.
        assert_eq!(tag("abc"), "[redacted:ba7816bf]");
        assert_eq!(
            tag_in("Bearer [redacted:ba7816bf]").as_deref(),
            Some("[redacted:ba7816bf]")
        );
        assert_eq!(tag_in("[redacted]"), None);
    }

    #[test]
    fn finds_a_token_wherever_an_app_puts_it() {
        let t = tag(TOKEN);
        for text in [
            format!("<p>Your access token: <code>{TOKEN}</code></p>"),
            format!(r#"{{"access_token":"{TOKEN}","token_type":"bearer"}}"#),
            format!("/#access_token={TOKEN}&state=x"),
            format!("token is {TOKEN}."),
            format!("/?t={}", TOKEN.replace('Z', "%5A")),
        ] {
            assert!(tags_in_text(&text).contains(&t), "not found in {text}");
        }
    }

    #[test]
    fn does_not_flag_other_text() {
        let tags = tags_in_text("<h1>Connected to your CRM</h1><a href=\"/api\">contacts</a>");
        assert!(!tags.contains(&tag(TOKEN)));
    }

    #[test]
    fn percent_decoding_is_total() {
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41%zz+"), "A%zz ");
        assert_eq!(percent_decode("%"), "%");
    }
}
