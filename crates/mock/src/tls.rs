//! The mock's CA and a leaf certificate for `localhost` and the bound IP.
//!
//! Without a directory the CA is a throwaway, made at start. With one
//! ([`MockProviderBuilder::tls_dir`](crate::MockProviderBuilder::tls_dir)) the CA's key and
//! certificate are kept there (`ca-key.pem`, readable by the owner only, and `ca.pem`) and
//! reused at the next start, so an app that trusts `ca.pem` keeps trusting the mock after a
//! restart. The leaf is made at every start and signed by the CA.

use std::fs;
use std::io::{ErrorKind, Write as _};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::types::MockError;

/// The CA certificate's file in a TLS directory.
pub(crate) const CA_CERT_FILE: &str = "ca.pem";
/// The CA key's file in a TLS directory.
pub(crate) const CA_KEY_FILE: &str = "ca-key.pem";

fn tls_err(e: &dyn std::fmt::Display) -> MockError {
    MockError::Tls(e.to_string())
}

/// The CA that signs the mock's leaf certificates.
pub(crate) struct Ca {
    /// The certificate clients trust (PEM): the file's text when kept in a directory.
    pub(crate) pem: String,
    /// Where `pem` is kept, if in a directory.
    pub(crate) path: Option<PathBuf>,
    cert: Certificate,
    key: KeyPair,
}

/// The CA's certificate for `key`. Its fields are fixed, so the same key gives a certificate
/// with the same subject, key identifier and serial: leaves it signs verify against any
/// certificate made from that key, the one a client trusts included.
fn ca_cert(key: &KeyPair) -> Result<Certificate, MockError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| tls_err(&e))?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params
        .distinguished_name
        .push(DnType::CommonName, "handshake mock CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.self_signed(key).map_err(|e| tls_err(&e))
}

impl Ca {
    /// A CA made now and forgotten when the mock stops.
    pub(crate) fn throwaway() -> Result<Ca, MockError> {
        let key = KeyPair::generate().map_err(|e| tls_err(&e))?;
        let cert = ca_cert(&key)?;
        Ok(Ca {
            pem: cert.pem(),
            path: None,
            cert,
            key,
        })
    }

    /// The CA kept in `dir`, made there the first time.
    pub(crate) fn in_dir(dir: &Path) -> Result<Ca, MockError> {
        let io = |what: &str, path: &Path, e: std::io::Error| {
            MockError::Tls(format!("cannot {what} {}: {e}", path.display()))
        };
        create_private_dir(dir).map_err(|e| io("create", dir, e))?;
        let key_path = dir.join(CA_KEY_FILE);
        let key = load_or_create_key(&key_path)?;
        let cert = ca_cert(&key)?;
        let cert_path = dir.join(CA_CERT_FILE);
        let pem = match fs::read_to_string(&cert_path) {
            Ok(text) if certifies(&text, &key) => text,
            Ok(_) | Err(_) => {
                // Missing, or made for another key: this key's certificate replaces it.
                let pem = cert.pem();
                write_atomically(&cert_path, pem.as_bytes())
                    .map_err(|e| io("write", &cert_path, e))?;
                pem
            }
        };
        Ok(Ca {
            pem,
            path: Some(cert_path),
            cert,
            key,
        })
    }

    /// A leaf certificate for `localhost`, 127.0.0.1 and `ip`, and the server configuration
    /// that serves it with the CA's certificate.
    pub(crate) fn server_config(&self, ip: IpAddr) -> Result<Arc<rustls::ServerConfig>, MockError> {
        let leaf_key = KeyPair::generate().map_err(|e| tls_err(&e))?;
        let mut leaf_params =
            CertificateParams::new(vec!["localhost".to_owned()]).map_err(|e| tls_err(&e))?;
        for extra in [IpAddr::from([127, 0, 0, 1]), ip] {
            if !extra.is_unspecified()
                && !leaf_params
                    .subject_alt_names
                    .contains(&SanType::IpAddress(extra))
            {
                leaf_params
                    .subject_alt_names
                    .push(SanType::IpAddress(extra));
            }
        }
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let leaf = leaf_params
            .signed_by(&leaf_key, &self.cert, &self.key)
            .map_err(|e| tls_err(&e))?;

        // Pick the ring provider explicitly: the workspace also links aws-lc-rs (via
        // axum-server), and with two providers rustls cannot choose a process default on
        // its own.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err(&e))?
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone(), self.cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .map_err(|e| tls_err(&e))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Whether the PEM certificate `text` carries `key`'s public key.
fn certifies(text: &str, key: &KeyPair) -> bool {
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END CERTIFICATE-----"))
        .collect();
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(body.trim()) else {
        return false;
    };
    let public = key.public_key_raw();
    !public.is_empty() && der.windows(public.len()).any(|w| w == public)
}

/// The key in `path`, or a new one written there (owner-only). Two mocks starting at once
/// agree on one key: the file is created exclusively, and the one that loses reads it.
fn load_or_create_key(path: &Path) -> Result<KeyPair, MockError> {
    let bad = |e: &dyn std::fmt::Display| {
        MockError::Tls(format!(
            "{} is not a private key in PEM ({e}); remove it to make a new CA",
            path.display()
        ))
    };
    for attempt in 0..50 {
        match fs::read_to_string(path) {
            Ok(text) => match KeyPair::from_pem(&text) {
                Ok(key) => return Ok(key),
                // Another mock may be writing it right now.
                Err(_) if attempt < 49 && text.len() < 64 => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(e) => return Err(bad(&e)),
            },
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let key = KeyPair::generate().map_err(|e| tls_err(&e))?;
                match write_new(path, key.serialize_pem().as_bytes()) {
                    Ok(()) => return Ok(key),
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                    Err(e) => {
                        return Err(MockError::Tls(format!(
                            "cannot write {}: {e}",
                            path.display()
                        )))
                    }
                }
            }
            Err(e) => {
                return Err(MockError::Tls(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        }
    }
    Err(MockError::Tls(format!(
        "{} stayed incomplete; remove it to make a new CA",
        path.display()
    )))
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Creates `path`, failing when it exists; owner-only on Unix.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Writes `path` through a temporary file and a rename, so a reader sees the old file or
/// the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!(
        "tmp.{}.{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    fs::write(&tmp, bytes)
        .and_then(|()| fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_ca_is_the_same_at_the_next_start_and_its_key_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = Ca::in_dir(dir.path()).unwrap();
        let second = Ca::in_dir(dir.path()).unwrap();
        assert_eq!(first.pem, second.pem);
        assert_eq!(first.key.public_key_raw(), second.key.public_key_raw());
        assert_eq!(
            fs::read_to_string(dir.path().join(CA_CERT_FILE)).unwrap(),
            first.pem
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(CA_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o077,
                0,
                "the CA key is readable by others: {mode:o}"
            );
        }
        assert!(!first.pem.contains("PRIVATE KEY"));
    }

    #[test]
    fn a_certificate_of_another_key_is_replaced_and_a_broken_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let other = Ca::throwaway().unwrap();
        fs::write(dir.path().join(CA_CERT_FILE), &other.pem).unwrap();
        let ca = Ca::in_dir(dir.path()).unwrap();
        assert_ne!(ca.pem, other.pem);
        assert!(certifies(&ca.pem, &ca.key) && !certifies(&other.pem, &ca.key));

        fs::write(dir.path().join(CA_KEY_FILE), "x".repeat(100)).unwrap();
        let err = Ca::in_dir(dir.path()).err().unwrap().to_string();
        assert!(err.contains("remove it to make a new CA"), "{err}");
    }
}
