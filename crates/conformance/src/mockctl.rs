//! Starting the provider of a case: a fresh mock, or the external server as it is.

use crate::control::Control;
use crate::target::{Registration, Target};

/// The provider of one case.
pub(crate) struct Provider {
    pub(crate) base_url: String,
    pub(crate) registration: Registration,
    control: Option<Box<dyn Control>>,
}

impl Provider {
    pub(crate) async fn start(target: &Target) -> Result<Provider, String> {
        if let Some((base, reg)) = target.external_parts() {
            return Ok(Provider {
                base_url: base.clone(),
                registration: reg.clone(),
                control: None,
            });
        }
        Err("the mock provider crate is not wired yet".to_owned())
    }

    pub(crate) fn control(&self) -> Option<&dyn Control> {
        self.control.as_deref()
    }
}
