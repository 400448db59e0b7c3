//! Secret values: one way, for the whole workspace, to hold a value that must never be shown.
//!
//! [`secret_type!`](crate::secret_type) declares a newtype (after oauth2-rs's
//! `new_secret_type!`) whose `Debug` prints `Name([redacted])` and whose `Display` prints
//! `[redacted]`; the value is read with `secret()`. Every secret newtype of the workspace
//! (the mock's `ClientSecret`, the client's `NativeSecret`, `SessionId` and `StoreKey`, the
//! runner's `Secret`) is declared with it. [`Redacted`] is what a hand-written `Debug` of a
//! struct shows in place of a secret field kept as a plain `String`.

use std::fmt;

/// What every secret prints in place of its value.
pub const REDACTED: &str = "[redacted]";

/// Shows as `[redacted]` in `Debug` and `Display`: the stand-in for a secret field in a
/// hand-written `Debug` (`.field("client_secret", &Redacted)`).
///
/// ```
/// use handshake_profile::Redacted;
///
/// assert_eq!(format!("{Redacted:?} {Redacted}"), "[redacted] [redacted]");
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Declares a secret newtype: `Debug` prints `Name([redacted])`, `Display` prints
/// `[redacted]`, and the value is read with `secret()` (`&str` for a `String`, `&T`
/// otherwise) or taken with `into_secret()`. `new` takes anything `Into` the inner type.
///
/// Attributes (docs, derives, serde) are passed through to the struct, so a secret can be
/// `Clone`, `Hash` or `#[serde(transparent)]` as it needs; `PartialEq` is left out unless
/// asked for, so secrets are not compared casually (compare them in constant time).
///
/// ```
/// handshake_profile::secret_type! {
///     /// An API key.
///     #[derive(Clone)]
///     pub struct ApiKey(String);
/// }
///
/// let key = ApiKey::new("k-123");
/// assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
/// assert_eq!(key.to_string(), "[redacted]");
/// assert_eq!(key.secret(), "k-123");
///
/// handshake_profile::secret_type! {
///     /// Raw key bytes.
///     pub struct KeyBytes([u8; 4]);
/// }
/// let bytes = KeyBytes::new([1, 2, 3, 4]);
/// assert_eq!(format!("{bytes:?}"), "KeyBytes([redacted])");
/// assert_eq!(bytes.secret(), &[1, 2, 3, 4]);
/// ```
#[macro_export]
macro_rules! secret_type {
    ($(#[$attr:meta])* $vis:vis struct $name:ident(String);) => {
        $(#[$attr])*
        $vis struct $name(::std::string::String);

        #[allow(dead_code)]
        impl $name {
            /// Wraps a secret value.
            $vis fn new(secret: impl ::core::convert::Into<::std::string::String>) -> Self {
                $name(secret.into())
            }

            /// The secret itself. Never log it.
            $vis fn secret(&self) -> &str {
                &self.0
            }

            /// The secret, unwrapped. Never log it.
            $vis fn into_secret(self) -> ::std::string::String {
                self.0
            }
        }

        $crate::secret_type!(@fmt $name);
    };
    ($(#[$attr:meta])* $vis:vis struct $name:ident($inner:ty);) => {
        $(#[$attr])*
        $vis struct $name($inner);

        #[allow(dead_code)]
        impl $name {
            /// Wraps a secret value.
            $vis fn new(secret: impl ::core::convert::Into<$inner>) -> Self {
                $name(secret.into())
            }

            /// The secret itself. Never log it.
            $vis fn secret(&self) -> &$inner {
                &self.0
            }

            /// The secret, unwrapped. Never log it.
            $vis fn into_secret(self) -> $inner {
                self.0
            }
        }

        $crate::secret_type!(@fmt $name);
    };
    (@fmt $name:ident) => {
        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_tuple(::core::stringify!($name))
                    .field(&$crate::Redacted)
                    .finish()
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str($crate::REDACTED)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    secret_type! {
        #[derive(Clone, PartialEq, Eq, Hash)]
        struct Keyed(String);
    }

    secret_type! {
        struct Bytes(Vec<u8>);
    }

    secret_type! {
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        struct Wire(String);
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let k = Keyed::new("hunter2");
        for shown in [
            format!("{k:?}"),
            format!("{k:#?}"),
            format!("{k}"),
            format!("{:?}", Some(&k)),
            format!("{:?}", Bytes::new(b"hunter2".to_vec())),
            format!("{:?}", Wire::new("hunter2")),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
        assert_eq!(format!("{:?}", Keyed::new("x")), "Keyed([redacted])");
        assert_eq!(
            format!("{:#?}", Keyed::new("x")),
            "Keyed(\n    [redacted],\n)"
        );
        assert_eq!(format!("{}", Bytes::new(vec![1])), "[redacted]");
    }

    #[test]
    fn the_value_is_read_explicitly() {
        assert_eq!(Keyed::new(String::from("v")).secret(), "v");
        assert_eq!(Keyed::new("v").into_secret(), "v");
        assert_eq!(Bytes::new(vec![1u8]).secret(), &[1u8]);
        assert!(Keyed::new("a") == Keyed::new("a"));
    }

    #[test]
    fn serde_passes_through_when_asked_for() {
        let s: Wire = serde_json::from_str("\"v\"").unwrap();
        assert_eq!(s.secret(), "v");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"v\"");
    }
}
