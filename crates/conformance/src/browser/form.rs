//! Reading a provider's page the way a browser would: find the login or consent form, fill it,
//! and submit exactly what a browser would send (hidden inputs, the values the user typed, the
//! chosen button's name and value).
//!
//! Pages are anybody's markup (the mock's consent page, Authlib's templates, node-oidc-provider's
//! development login), so they are parsed with a real HTML parser, never scanned.

use std::collections::BTreeMap;
use std::fmt;

use scraper::{ElementRef, Html, Selector};

/// Which choice the user makes on a consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    /// Approve (and log in where a login form comes first).
    Approve,
    /// Deny consent.
    Deny,
}

impl Choice {
    fn word(self) -> &'static str {
        match self {
            Choice::Approve => "approve",
            Choice::Deny => "deny",
        }
    }
}

/// Words on a button or link that mean "yes" and "no". Matched as whole words.
const APPROVE_WORDS: &[&str] = &[
    "approve",
    "allow",
    "authorize",
    "authorise",
    "accept",
    "grant",
    "consent",
    "continue",
    "confirm",
    "yes",
    "agree",
    "proceed",
    "ok",
    "submit",
    "login",
    "signin",
    "sign in",
    "log in",
];
const DENY_WORDS: &[&str] = &[
    "deny", "reject", "cancel", "decline", "abort", "no", "refuse",
];

fn has_word(text: &str, words: &[&str]) -> bool {
    // Normalise to " word word " so phrases and whole words match, never substrings
    // ("no" must not match "now").
    let norm: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let norm = format!(
        " {} ",
        norm.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    words.iter().any(|w| norm.contains(&format!(" {w} ")))
}

/// Values the user types into forms, by field name (`--form-field`, `[browser] form_fields`).
///
/// `Debug` shows the names only: values are passwords.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct FormValues(BTreeMap<String, String>);

impl FormValues {
    pub(crate) fn new(values: BTreeMap<String, String>) -> Self {
        FormValues(values)
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

impl fmt::Debug for FormValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hidden,
    /// text, email, tel, number, search, url, textarea, and inputs without a type.
    Text,
    Password,
    Checkbox {
        checked: bool,
    },
    Radio {
        checked: bool,
    },
    Select,
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    value: String,
    kind: Kind,
    required: bool,
}

/// A submit button.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Submit {
    name: Option<String>,
    value: String,
    label: String,
}

impl Submit {
    fn text(&self) -> String {
        format!(
            "{} {} {}",
            self.name.as_deref().unwrap_or(""),
            self.value,
            self.label
        )
    }
}

#[derive(Debug, Clone)]
struct Form {
    action: String,
    method: String,
    fields: Vec<Field>,
    submits: Vec<Submit>,
}

impl Form {
    fn has_password(&self) -> bool {
        self.fields.iter().any(|f| f.kind == Kind::Password)
    }
    fn button(&self, words: &[&str]) -> Option<&Submit> {
        self.submits.iter().find(|s| has_word(&s.text(), words))
    }
}

/// What the browser does with a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Submission {
    /// Submit a form: `action` as written (resolve it against the page URL; empty means the
    /// page itself), `method` lower case, and the fields in document order.
    Form {
        action: String,
        method: String,
        fields: Vec<(String, String)>,
    },
    /// Follow a link (a "Cancel" link on a consent page).
    Link(String),
}

/// Why a page could not be completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FillError {
    /// The page holds no form (an error page, most likely).
    NoForm,
    /// Forms, but none with a button for this choice.
    NoButton(Choice),
    /// The form needs values nobody gave (`--form-field NAME=VALUE`).
    Missing { action: String, fields: Vec<String> },
}

impl fmt::Display for FillError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FillError::NoForm => f.write_str("the page has no form"),
            FillError::NoButton(c) => write!(f, "the page has no {} button", c.word()),
            FillError::Missing { action, fields } => write!(
                f,
                "the form posting to {action:?} needs {} (give them with --form-field NAME=VALUE \
                 or the profile's [browser] form_fields)",
                fields
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// Decides what a user making `choice` does on this page, typing `values` where asked.
pub(crate) fn fill(
    html: &str,
    choice: Choice,
    values: &FormValues,
) -> Result<Submission, FillError> {
    let doc = Html::parse_document(html);
    let forms = forms(&doc);
    match choice {
        Choice::Approve => {
            if forms.is_empty() {
                return Err(FillError::NoForm);
            }
            // A consent form says yes on its button; a login form has a password field; a
            // page with one form and no "no" on it is a step to get through.
            let form = forms
                .iter()
                .find(|f| f.button(APPROVE_WORDS).is_some() && f.button(DENY_WORDS).is_none())
                .or_else(|| forms.iter().find(|f| f.button(APPROVE_WORDS).is_some()))
                .or_else(|| forms.iter().find(|f| f.has_password()))
                .or_else(|| {
                    forms
                        .iter()
                        .find(|f| f.submits.iter().all(|s| !has_word(&s.text(), DENY_WORDS)))
                })
                .ok_or(FillError::NoButton(choice))?;
            let button = form
                .button(APPROVE_WORDS)
                .or_else(|| {
                    form.submits
                        .iter()
                        .find(|s| !has_word(&s.text(), DENY_WORDS))
                })
                .cloned();
            submit(form, button.as_ref(), choice, values)
        }
        Choice::Deny => {
            if let Some(form) = forms.iter().find(|f| f.button(DENY_WORDS).is_some()) {
                let button = form.button(DENY_WORDS).cloned();
                return submit(form, button.as_ref(), choice, values);
            }
            // A user who will deny consent still signs in first.
            if let Some(form) = forms.iter().find(|f| f.has_password()) {
                let button = form.button(APPROVE_WORDS).or(form.submits.first()).cloned();
                return submit(form, button.as_ref(), Choice::Approve, values);
            }
            // node-oidc-provider's consent page denies with a "[ Cancel ]" link.
            let links = Selector::parse("a[href]").expect("static selector");
            if let Some(a) = doc
                .select(&links)
                .find(|a| has_word(&a.text().collect::<String>(), DENY_WORDS))
            {
                return Ok(Submission::Link(
                    a.value().attr("href").unwrap_or_default().to_owned(),
                ));
            }
            Err(if forms.is_empty() {
                FillError::NoForm
            } else {
                FillError::NoButton(choice)
            })
        }
    }
}

fn submit(
    form: &Form,
    button: Option<&Submit>,
    choice: Choice,
    values: &FormValues,
) -> Result<Submission, FillError> {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for field in &form.fields {
        let typed = values.get(&field.name);
        match field.kind {
            Kind::Checkbox { checked } | Kind::Radio { checked } => {
                // A user approving ticks the "I agree" box; one denying leaves it.
                let ticks = choice == Choice::Approve
                    && matches!(field.kind, Kind::Checkbox { .. })
                    && has_word(&field.name, APPROVE_WORDS);
                if let Some(v) = typed {
                    out.push((field.name.clone(), v.to_owned()));
                } else if checked || ticks {
                    let v = if field.value.is_empty() {
                        "on"
                    } else {
                        &field.value
                    };
                    out.push((field.name.clone(), v.to_owned()));
                }
            }
            Kind::Hidden | Kind::Select => {
                out.push((field.name.clone(), typed.unwrap_or(&field.value).to_owned()));
            }
            Kind::Text | Kind::Password => {
                let value = typed.unwrap_or(&field.value);
                let needed = field.required || field.kind == Kind::Password;
                if value.is_empty() && needed {
                    missing.push(field.name.clone());
                }
                out.push((field.name.clone(), value.to_owned()));
            }
        }
    }
    if !missing.is_empty() {
        return Err(FillError::Missing {
            action: form.action.clone(),
            fields: missing,
        });
    }
    if let Some(Submit {
        name: Some(name),
        value,
        ..
    }) = button
    {
        out.push((name.clone(), value.clone()));
    }
    Ok(Submission::Form {
        action: form.action.clone(),
        method: form.method.clone(),
        fields: out,
    })
}

fn forms(doc: &Html) -> Vec<Form> {
    let form_sel = Selector::parse("form").expect("static selector");
    let control_sel = Selector::parse("input, select, textarea, button").expect("static selector");
    let option_sel = Selector::parse("option").expect("static selector");
    let mut out = Vec::new();
    for form in doc.select(&form_sel) {
        let attr = |e: &ElementRef<'_>, a: &str| e.value().attr(a).map(str::to_owned);
        let mut fields = Vec::new();
        let mut submits = Vec::new();
        for c in form.select(&control_sel) {
            let el = c.value();
            if el.attr("disabled").is_some() {
                continue;
            }
            let name = attr(&c, "name");
            let value = attr(&c, "value").unwrap_or_default();
            let required = el.attr("required").is_some();
            let text = || c.text().collect::<String>().trim().to_owned();
            match el.name() {
                "button" => {
                    let ty = el.attr("type").unwrap_or("submit").to_ascii_lowercase();
                    if ty == "submit" {
                        submits.push(Submit {
                            name,
                            value,
                            label: text(),
                        });
                    }
                }
                "select" => {
                    let Some(name) = name else { continue };
                    let options: Vec<_> = c.select(&option_sel).collect();
                    let chosen = options
                        .iter()
                        .find(|o| o.value().attr("selected").is_some())
                        .or(options.first());
                    let value = chosen
                        .map(|o| {
                            o.value()
                                .attr("value")
                                .map(str::to_owned)
                                .unwrap_or_else(|| o.text().collect::<String>().trim().to_owned())
                        })
                        .unwrap_or_default();
                    fields.push(Field {
                        name,
                        value,
                        kind: Kind::Select,
                        required,
                    });
                }
                "textarea" => {
                    let Some(name) = name else { continue };
                    fields.push(Field {
                        name,
                        value: c.text().collect(),
                        kind: Kind::Text,
                        required,
                    });
                }
                _ => {
                    let ty = el.attr("type").unwrap_or("text").to_ascii_lowercase();
                    let checked = el.attr("checked").is_some();
                    let kind = match ty.as_str() {
                        "submit" | "image" => {
                            submits.push(Submit {
                                name,
                                label: value.clone(),
                                value,
                            });
                            continue;
                        }
                        "reset" | "button" | "file" => continue,
                        "hidden" => Kind::Hidden,
                        "password" => Kind::Password,
                        "checkbox" => Kind::Checkbox { checked },
                        "radio" => Kind::Radio { checked },
                        _ => Kind::Text,
                    };
                    let Some(name) = name else { continue };
                    fields.push(Field {
                        name,
                        value,
                        kind,
                        required,
                    });
                }
            }
        }
        out.push(Form {
            action: attr(&form, "action").unwrap_or_default(),
            method: attr(&form, "method")
                .unwrap_or_else(|| "get".to_owned())
                .to_ascii_lowercase(),
            fields,
            submits,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> FormValues {
        FormValues::default()
    }

    fn fields(s: Submission) -> (String, String, Vec<(String, String)>) {
        match s {
            Submission::Form {
                action,
                method,
                fields,
            } => (action, method, fields),
            Submission::Link(l) => panic!("a link, not a form: {l}"),
        }
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The mock's own consent page.
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
        let (action, method, f) = fields(fill(ONE_FORM, Choice::Approve, &none()).unwrap());
        assert_eq!(action, "/oauth/authorise/consent");
        assert_eq!(method, "post");
        assert_eq!(
            f,
            pairs(&[
                ("consent_id", "abc&123"),
                ("csrf", "x y"),
                ("decision", "approve")
            ])
        );
        let (_, _, f) = fields(fill(ONE_FORM, Choice::Deny, &none()).unwrap());
        assert_eq!(f.last().unwrap().1, "deny");
    }

    #[test]
    fn two_forms_and_input_submits() {
        let html = r#"<form action="/approve" method="post"><input type="hidden" name="id" value="1"/>
            <input type="submit" value="Approve"></form>
            <form action="/deny" method="post"><input type="hidden" name="id" value="1">
            <button>Cancel</button></form>"#;
        let (action, _, f) = fields(fill(html, Choice::Approve, &none()).unwrap());
        assert_eq!(action, "/approve");
        assert_eq!(f, pairs(&[("id", "1")]));
        let (action, _, _) = fields(fill(html, Choice::Deny, &none()).unwrap());
        assert_eq!(action, "/deny");
    }

    /// node-oidc-provider's development login (lib/views/login.js, abridged).
    const OIDC_LOGIN: &str = r#"<div class="login-card"><h1>Sign-in</h1>
        <form autocomplete="off" action="/interaction/Ab1/login" method="post">
          <input type="hidden" name="prompt" value="login"/>
          <input required type="text" name="login" placeholder="Enter any login" autofocus="on">
          <input required type="password" name="password" placeholder="and password">
          <button type="submit" class="login login-submit">Sign-in</button>
        </form>
        <div class="login-help"><a href="/interaction/Ab1/abort">[ Cancel ]</a></div></div>"#;

    #[test]
    fn login_form_filled_from_values() {
        let values = FormValues::new(BTreeMap::from([
            ("login".to_owned(), "alice".to_owned()),
            ("password".to_owned(), "pw".to_owned()),
            ("unused".to_owned(), "z".to_owned()),
        ]));
        let (action, _, f) = fields(fill(OIDC_LOGIN, Choice::Approve, &values).unwrap());
        assert_eq!(action, "/interaction/Ab1/login");
        assert_eq!(
            f,
            pairs(&[("prompt", "login"), ("login", "alice"), ("password", "pw")])
        );
    }

    #[test]
    fn login_form_without_values_names_what_is_missing() {
        let err = fill(OIDC_LOGIN, Choice::Approve, &none()).unwrap_err();
        assert_eq!(
            err,
            FillError::Missing {
                action: "/interaction/Ab1/login".to_owned(),
                fields: vec!["login".to_owned(), "password".to_owned()],
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("/interaction/Ab1/login") && msg.contains("`password`"));
        assert!(msg.contains("--form-field"), "{msg}");
    }

    #[test]
    fn deny_by_cancel_link() {
        let consent = r#"<form action="/interaction/Ab1/confirm" method="post">
            <input type="hidden" name="prompt" value="consent"/>
            <button autofocus type="submit" class="login login-submit">Continue</button></form>
            <a href="/interaction/Ab1/abort">[ Cancel ]</a>"#;
        let (action, _, f) = fields(fill(consent, Choice::Approve, &none()).unwrap());
        assert_eq!(action, "/interaction/Ab1/confirm");
        assert_eq!(f, pairs(&[("prompt", "consent")]));
        assert_eq!(
            fill(consent, Choice::Deny, &none()).unwrap(),
            Submission::Link("/interaction/Ab1/abort".to_owned())
        );
    }

    /// Authlib's example server: a consent checkbox and one "Submit" button.
    #[test]
    fn consent_checkbox_ticked_only_to_approve() {
        let html = r#"<form action="" method="post">
            <label><input type="checkbox" name="confirm"><span>Consent?</span></label>
            <select name="scope"><option>read</option><option selected value="w">write</option></select>
            <button>Submit</button></form>"#;
        let (action, _, f) = fields(fill(html, Choice::Approve, &none()).unwrap());
        assert_eq!(action, "");
        assert_eq!(f, pairs(&[("confirm", "on"), ("scope", "w")]));
        assert_eq!(
            fill(html, Choice::Deny, &none()).unwrap_err(),
            FillError::NoButton(Choice::Deny)
        );
    }

    #[test]
    fn words_match_whole_words_only() {
        assert!(has_word("Sign-in", APPROVE_WORDS));
        assert!(has_word("[ Cancel ]", DENY_WORDS));
        assert!(!has_word("Know more now", DENY_WORDS));
        assert!(!has_word("tokens", APPROVE_WORDS));
    }

    #[test]
    fn no_form_no_submission() {
        assert_eq!(
            fill("<p>error: unknown client</p>", Choice::Approve, &none()).unwrap_err(),
            FillError::NoForm
        );
        // Broken markup is parsed as a browser would, never a panic.
        let _ = fill("<form action=x><input name=a", Choice::Approve, &none());
    }

    #[test]
    fn debug_shows_names_not_values() {
        let values = FormValues::new(BTreeMap::from([(
            "password".to_owned(),
            "hunter2".to_owned(),
        )]));
        let dbg = format!("{values:?}");
        assert!(
            dbg.contains("password") && !dbg.contains("hunter2"),
            "{dbg}"
        );
    }
}
