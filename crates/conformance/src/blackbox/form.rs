//! Reading the mock's consent page the way a browser would: find the form, its hidden fields
//! and the approve or deny button, and submit exactly that.
//!
//! A tolerant scanner, not an HTML parser: the consent page is ours (the mock's), simple and
//! well-formed, and pulling in a DOM for two forms would be out of proportion.

/// One `<form>`: where it posts and what it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Form {
    /// The `action` attribute, as written (resolve it against the page URL).
    pub(crate) action: String,
    /// `method`, lower case (`get` when absent).
    pub(crate) method: String,
    /// Named `<input>` fields that are not submit buttons, with their values.
    pub(crate) fields: Vec<(String, String)>,
    /// Submit buttons: name (if any), value, and the text a user would read.
    pub(crate) submits: Vec<Submit>,
}

/// A submit button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Submit {
    pub(crate) name: Option<String>,
    pub(crate) value: String,
    pub(crate) label: String,
}

/// Which choice the user makes on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    Approve,
    Deny,
}

impl Choice {
    fn matches(self, s: &Submit) -> bool {
        let text = format!(
            "{} {} {}",
            s.name.as_deref().unwrap_or(""),
            s.value,
            s.label
        )
        .to_ascii_lowercase();
        let words: &[&str] = match self {
            Choice::Approve => &[
                "approve",
                "allow",
                "authorize",
                "authorise",
                "accept",
                "grant",
            ],
            Choice::Deny => &["deny", "reject", "cancel", "decline"],
        };
        words.iter().any(|w| text.contains(w))
    }
}

/// The fields to submit for `choice`: the form, and its fields plus the chosen button.
pub(crate) fn submission(html: &str, choice: Choice) -> Option<(Form, Vec<(String, String)>)> {
    for form in forms(html) {
        let Some(button) = form.submits.iter().find(|s| choice.matches(s)) else {
            continue;
        };
        let mut fields = form.fields.clone();
        if let Some(name) = &button.name {
            fields.push((name.clone(), button.value.clone()));
        }
        return Some((form, fields));
    }
    None
}

/// Every form in the page.
pub(crate) fn forms(html: &str) -> Vec<Form> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<form").map(|i| i + at) {
        let Some(tag_end) = lower[start..].find('>').map(|i| i + start) else {
            break;
        };
        let end = lower[tag_end..]
            .find("</form")
            .map_or(html.len(), |i| i + tag_end);
        let attrs = attributes(&html[start + 5..tag_end]);
        let mut form = Form {
            action: attr(&attrs, "action").unwrap_or_default(),
            method: attr(&attrs, "method")
                .unwrap_or_else(|| "get".to_owned())
                .to_ascii_lowercase(),
            fields: Vec::new(),
            submits: Vec::new(),
        };
        scan_controls(&html[tag_end + 1..end], &mut form);
        out.push(form);
        at = end.max(tag_end + 1);
    }
    out
}

fn scan_controls(body: &str, form: &mut Form) {
    let lower = body.to_ascii_lowercase();
    let mut at = 0;
    loop {
        let next_input = lower[at..].find("<input").map(|i| i + at);
        let next_button = lower[at..].find("<button").map(|i| i + at);
        let (start, is_button) = match (next_input, next_button) {
            (Some(i), Some(b)) if b < i => (b, true),
            (Some(i), _) => (i, false),
            (None, Some(b)) => (b, true),
            (None, None) => return,
        };
        let skip = if is_button { 7 } else { 6 };
        let Some(tag_end) = lower[start..].find('>').map(|i| i + start) else {
            return;
        };
        let attrs = attributes(&body[start + skip..tag_end]);
        let kind = attr(&attrs, "type")
            .unwrap_or_else(|| if is_button { "submit" } else { "text" }.to_owned())
            .to_ascii_lowercase();
        let name = attr(&attrs, "name");
        let value = attr(&attrs, "value").unwrap_or_default();
        at = tag_end + 1;
        if is_button {
            let close = lower[at..].find("</button").map_or(body.len(), |i| i + at);
            let label = decode_entities(strip_tags(&body[at..close]).trim());
            at = close;
            if kind == "submit" {
                form.submits.push(Submit { name, value, label });
            }
        } else if kind == "submit" {
            form.submits.push(Submit {
                name,
                label: value.clone(),
                value,
            });
        } else if let Some(name) = name {
            form.fields.push((name, value));
        }
    }
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn attr(attrs: &[(String, String)], name: &str) -> Option<String> {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// `name="v" name='v' name=v name` → pairs, names lower-cased, values entity-decoded.
fn attributes(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == '/') {
            i += 1;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '=' && chars[i] != '/' {
            i += 1;
        }
        if start == i {
            i += 1;
            continue;
        }
        let name: String = chars[start..i]
            .iter()
            .collect::<String>()
            .to_ascii_lowercase();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            if i < chars.len() && (chars[i] == '"' || chars[i] == '\'') {
                let quote = chars[i];
                i += 1;
                let vs = i;
                while i < chars.len() && chars[i] != quote {
                    i += 1;
                }
                value = chars[vs..i].iter().collect();
                i += 1;
            } else {
                let vs = i;
                while i < chars.len() && !chars[i].is_whitespace() {
                    i += 1;
                }
                value = chars[vs..i].iter().collect();
            }
        }
        out.push((name, decode_entities(&value)));
    }
    out
}

/// The character references a server's HTML escaping produces.
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_FORM: &str = r#"<!doctype html><html><body>
        <h1>Authorize &quot;My App&quot;?</h1>
        <form method="POST" action="/oauth/authorise/consent">
          <input type="hidden" name="consent_id" value="abc&amp;123">
          <input type=hidden name='csrf' value='x y'>
          <button type="submit" name="decision" value="approve">Allow access</button>
          <button type="submit" name="decision" value="deny">Deny</button>
        </form></body></html>"#;

    #[test]
    fn one_form_two_buttons() {
        let (form, fields) = submission(ONE_FORM, Choice::Approve).unwrap();
        assert_eq!(form.action, "/oauth/authorise/consent");
        assert_eq!(form.method, "post");
        assert_eq!(
            fields,
            vec![
                ("consent_id".to_owned(), "abc&123".to_owned()),
                ("csrf".to_owned(), "x y".to_owned()),
                ("decision".to_owned(), "approve".to_owned()),
            ]
        );
        let (_, fields) = submission(ONE_FORM, Choice::Deny).unwrap();
        assert_eq!(fields.last().unwrap().1, "deny");
    }

    #[test]
    fn two_forms_and_input_submits() {
        let html = r#"<form action="/approve" method="post"><input type="hidden" name="id" value="1"/>
            <input type="submit" value="Approve"></form>
            <form action="/deny" method="post"><input type="hidden" name="id" value="1">
            <button>Cancel</button></form>"#;
        let (form, fields) = submission(html, Choice::Approve).unwrap();
        assert_eq!(form.action, "/approve");
        assert_eq!(fields, vec![("id".to_owned(), "1".to_owned())]);
        let (form, _) = submission(html, Choice::Deny).unwrap();
        assert_eq!(form.action, "/deny");
    }

    #[test]
    fn no_form_no_submission() {
        assert!(submission("<p>error: unknown client</p>", Choice::Approve).is_none());
        assert!(submission("<form action=x><input name=a", Choice::Approve).is_none());
    }

    #[test]
    fn entities() {
        assert_eq!(
            decode_entities("a&amp;b&#39;c&#x41;&bogus;&"),
            "a&b'cA&bogus;&"
        );
    }
}
