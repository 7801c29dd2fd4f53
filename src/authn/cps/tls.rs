//! Trousseau's own TLS listener for card login (cps.md, deployment 1): the handshake asks for
//! a client certificate without requiring one, proves the client holds the card's key, and
//! leaves every other check to the card login, which uses the injected clock and gives the
//! user a precise message instead of a failed handshake.

use std::any::Any;
use std::path::Path;
use std::sync::Arc;

use actix_web::dev::Extensions;
use anyhow::Context;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::check::{CardVerifier, read_pem_certs};
use crate::config::CpsTlsSettings;

/// The chain a TLS client presented (empty: none), put in the connection data by
/// [`on_connect`].
#[derive(Debug, Clone)]
pub struct PeerChain(pub Vec<CertificateDer<'static>>);

/// Asks for a certificate from the card CAs, checks only the handshake signature.
#[derive(Debug)]
struct RequestCard {
    hints: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for RequestCard {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // The card login runs the chain, date, usage and revocation checks itself.
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The server configuration of the card listener.
pub fn server_config(
    settings: &CpsTlsSettings,
    verifier: &CardVerifier,
) -> anyhow::Result<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = read_pem_certs(Path::new(&settings.cert_file)).context("cps.tls.cert_file")?;
    let key = PrivateKeyDer::from_pem_file(&settings.key_file).with_context(|| {
        format!(
            "cps.tls.key_file: cannot read a private key from {}",
            settings.key_file
        )
    })?;
    let mut hints: Vec<DistinguishedName> = verifier
        .anchor_subjects()
        .iter()
        .map(|s| DistinguishedName::in_sequence(s))
        .collect();
    for ca in verifier.cas() {
        if let Ok((_, c)) = X509Certificate::from_der(ca) {
            let name = DistinguishedName::from(c.subject().as_raw().to_vec());
            if !hints.iter().any(|h| h.as_ref() == name.as_ref()) {
                hints.push(name);
            }
        }
    }
    let client = Arc::new(RequestCard {
        hints,
        algorithms: provider.signature_verification_algorithms,
    });
    let config = ServerConfig::builder_with_provider(provider.clone() as Arc<CryptoProvider>)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_client_cert_verifier(client)
        .with_single_cert(certs, key)
        .context("cps.tls: the certificate and key do not match")?;
    Ok(config)
}

/// Puts the client's certificate chain of a TLS connection in the request's extensions.
pub fn on_connect(conn: &dyn Any, ext: &mut Extensions) {
    type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    // Every TLS connection gets one (empty without a certificate): on a connection Trousseau
    // terminated itself, a proxy's certificate header is never read.
    if let Some(tls) = conn.downcast_ref::<Tls>() {
        let chain = tls
            .get_ref()
            .1
            .peer_certificates()
            .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
            .unwrap_or_default();
        ext.insert(PeerChain(chain));
    }
}
