//! HTTPS: rustls server configuration from `api.server.tls`, and the identity in client certificates.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::config::{ClientVerification, TlsOptions};
use crate::error::{Error, Result};
use crate::net::PeerCert;

fn config_err(path: &Path, message: impl Into<String>) -> Error {
    Error::Config {
        path: path.display().to_string(),
        message: message.into(),
    }
}

fn read_pem(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| config_err(path, format!("cannot read: {e}")))
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read_pem(path)?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| config_err(path, format!("invalid PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(config_err(path, "no certificate found"));
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = read_pem(path)?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| config_err(path, format!("invalid PEM key: {e}")))?
        .ok_or_else(|| config_err(path, "no private key found"))
}

fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>> {
    let pem = read_pem(path)?;
    rustls_pemfile::crls(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| config_err(path, format!("invalid PEM CRL: {e}")))
}

/// Builds the rustls configuration (ring provider, HTTP/1.1 and HTTP/2) for `opts`.
pub fn server_config(opts: &TlsOptions) -> Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = load_certs(&opts.cert_file)?;
    let key = load_key(&opts.key_file)?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_err(&opts.cert_file, e.to_string()))?;
    let builder = match (&opts.ca_cert_path, opts.client_verification) {
        (_, ClientVerification::NoClientCert) | (None, _) => builder.with_no_client_auth(),
        (Some(ca_path), mode) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in load_certs(ca_path)? {
                roots
                    .add(cert)
                    .map_err(|e| config_err(ca_path, format!("invalid CA certificate: {e}")))?;
            }
            let mut verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            if let Some(crl_path) = &opts.crl_path {
                verifier = verifier.with_crls(load_crls(crl_path)?);
            }
            // rustls always verifies a certificate it is given; the modes differ on whether one is required.
            if matches!(
                mode,
                ClientVerification::RequestClientCert | ClientVerification::VerifyClientCertIfGiven
            ) {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier = verifier
                .build()
                .map_err(|e| config_err(ca_path, e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| config_err(&opts.key_file, e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Common name and organizational units of a (verified) leaf certificate.
#[must_use]
pub fn peer_identity(cert: &CertificateDer<'_>) -> Option<PeerCert> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let subject = parsed.subject();
    let common_name = subject.iter_common_name().next()?.as_str().ok()?.to_owned();
    let organizational_units = subject
        .iter_organizational_unit()
        .filter_map(|ou| ou.as_str().ok().map(str::to_owned))
        .collect();
    Some(PeerCert {
        common_name,
        organizational_units,
    })
}

/// Which kind of client a certificate identifies, by its OU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertRole {
    /// An agent (machine).
    Agent,
    /// A bouncer.
    Bouncer,
}

/// The role of `cert` under `opts`, or `None` when no OU is allowed.
#[must_use]
pub fn cert_role(cert: &PeerCert, opts: &TlsOptions) -> Option<CertRole> {
    let has = |allowed: &[String]| {
        cert.organizational_units
            .iter()
            .any(|ou| allowed.contains(ou))
    };
    if has(&opts.agents_allowed_ou) {
        Some(CertRole::Agent)
    } else if has(&opts.bouncers_allowed_ou) {
        Some(CertRole::Bouncer)
    } else {
        None
    }
}
