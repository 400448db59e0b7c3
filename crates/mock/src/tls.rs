//! A throwaway CA and a leaf certificate for `localhost` and the bound IP, made at start.

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::types::MockError;

/// Returns the CA certificate (PEM) clients should trust and the server configuration.
pub(crate) fn server_config(ip: IpAddr) -> Result<(String, Arc<rustls::ServerConfig>), MockError> {
    let tls = |e: &dyn std::fmt::Display| MockError::Tls(e.to_string());
    let ca_key = KeyPair::generate().map_err(|e| tls(&e))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| tls(&e))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "handshake mock CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).map_err(|e| tls(&e))?;

    let leaf_key = KeyPair::generate().map_err(|e| tls(&e))?;
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned()]).map_err(|e| tls(&e))?;
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
        .signed_by(&leaf_key, &ca, &ca_key)
        .map_err(|e| tls(&e))?;

    // Pick the ring provider explicitly: the workspace also links aws-lc-rs (via axum-server),
    // and with two providers rustls cannot choose a process default on its own.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(&e))?
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone(), ca.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .map_err(|e| tls(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((ca.pem(), Arc::new(config)))
}
