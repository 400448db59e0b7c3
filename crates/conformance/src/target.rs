//! Where a case runs: an in-process mock, or an external authorization server.

use std::collections::BTreeMap;

use handshake_profile::Profile;

handshake_profile::secret_type! {
    /// A secret string (client secret) that prints `Secret([redacted])` in `Debug`.
    ///
    /// ```
    /// let s = handshake_conformance::Secret::new("s3cret");
    /// assert_eq!(format!("{s:?}"), "Secret([redacted])");
    /// assert_eq!(s.expose(), "s3cret");
    /// ```
    #[derive(Clone)]
    pub struct Secret(String);
}

impl Secret {
    /// The value, as [`Secret::secret`]. Don't log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A client registration at an external server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Registration {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: Secret,
    /// The registered redirect URI.
    pub redirect_uri: String,
}

impl Registration {
    /// A registration.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: Secret,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Registration {
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
        }
    }
}

/// A provider to run scenarios against.
#[derive(Debug, Clone)]
pub struct Target {
    profile: Profile,
    external: Option<(String, Registration)>,
    form_fields: BTreeMap<String, String>,
}

impl Target {
    /// An in-process mock of this profile, started fresh for every case.
    pub fn mock(profile: Profile) -> Self {
        Target {
            profile,
            external: None,
            form_fields: BTreeMap::new(),
        }
    }

    /// An external authorization server at `base_url` (the profile's paths are appended).
    /// The runner's browser gets through its login and consent pages (see
    /// [`Target::with_form_field`]). Scenarios that need the mock's control are skipped.
    pub fn external(
        profile: Profile,
        base_url: impl Into<String>,
        registration: Registration,
    ) -> Self {
        let base = base_url.into().trim_end_matches('/').to_owned();
        Target {
            profile,
            external: Some((base, registration)),
            form_fields: BTreeMap::new(),
        }
    }

    /// A value the runner's browser types into the provider's forms (a login name, a
    /// password), over the profile's `[browser] form_fields`.
    ///
    /// ```
    /// use handshake_conformance::{Registration, Secret, Target};
    /// use handshake_profile::Profile;
    ///
    /// let profile = Profile::builtin("capsule").unwrap();
    /// let reg = Registration::new("app", Secret::new("s3cret"), "http://localhost:3000/callback");
    /// let target = Target::external(profile, "http://127.0.0.1:3001", reg)
    ///     .with_form_field("login", "alice")
    ///     .with_form_field("password", "wonderland");
    /// assert!(!target.is_controllable());
    /// ```
    pub fn with_form_field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.form_fields.insert(name.into(), value.into());
        self
    }

    /// The values the browser types into forms: the profile's, then this target's.
    pub(crate) fn form_values(&self) -> crate::browser::FormValues {
        let mut values = self.profile.browser.form_fields.clone();
        values.extend(self.form_fields.clone());
        crate::browser::FormValues::new(values)
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The provider id shown in reports.
    pub fn id(&self) -> &str {
        &self.profile.id
    }

    /// Whether faults, the clock and the journal are available (a mock, not an external server).
    pub fn is_controllable(&self) -> bool {
        self.external.is_none()
    }

    pub(crate) fn external_parts(&self) -> Option<&(String, Registration)> {
        self.external.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::IssuedCallback;
    use crate::{ClientCheckConfig, ClientSettings, RemoteMock};

    #[test]
    fn secret_bearing_types_redact_themselves_in_debug() {
        let profile = Profile::builtin("capsule").unwrap();
        let reg = Registration::new("app", Secret::new("CS-SECRET"), "http://localhost/cb");
        let settings = ClientSettings {
            base_url: "http://127.0.0.1:9".into(),
            client_id: "app".into(),
            client_secret: Secret::new("CS-SECRET"),
            redirect_uri: "http://localhost/cb".into(),
            scopes: Vec::new(),
            timeout: None,
            page_size: None,
            native: Some(handshake_client::NativeCredentials::api_key("AK-SECRET")),
        };
        let mut check = ClientCheckConfig::new(
            profile.clone(),
            3001,
            "http://127.0.0.1:3000/login".parse().unwrap(),
        );
        check.client_secret = "CS-SECRET".into();
        let remote = RemoteMock::builder("http://127.0.0.1:3001".parse().unwrap())
            .client_secret("CS-SECRET");
        let shown = [
            format!("{:?}", Secret::new("CS-SECRET")),
            format!("{}", Secret::new("CS-SECRET")),
            format!("{reg:?}"),
            format!(
                "{:?}",
                Target::external(profile, "http://127.0.0.1:3001", reg)
            ),
            format!("{settings:?}"),
            format!("{check:?}"),
            format!("{remote:?}"),
            format!(
                "{:?}",
                IssuedCallback::new("http://localhost/cb", "CODE-SECRET", "s")
            ),
        ];
        for s in &shown {
            assert!(!s.contains("SECRET"), "{s}");
            assert!(s.contains("[redacted]"), "{s}");
        }
        assert_eq!(shown[0], "Secret([redacted])");
    }
}
