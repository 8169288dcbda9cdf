//! `--show-cert`: the server's certificate chain as text, for stdout. Per certificate, in the
//! order the server sent them (0 = the server's own):
//!
//! ```text
//! Certificate 0:
//!   subject: CN=localhost
//!   issuer: CN=imtest lab CA
//!   notBefore: Jan  1 00:00:00 2025 GMT
//!   notAfter: Jan  8 00:00:00 2025 GMT
//! -----BEGIN CERTIFICATE-----
//! ...
//! -----END CERTIFICATE-----
//! ```
//!
//! Names are their entries in order, `SHORTNAME=value`, joined by `, `.

use openssl::ssl::SslRef;
use openssl::x509::{X509NameRef, X509Ref};

/// The whole text for the chain of `ssl` (empty when the server sent no certificate, e.g. a
/// resumed session).
pub fn chain_text(ssl: &SslRef) -> Vec<u8> {
    let mut text = Vec::new();
    let Some(chain) = ssl.peer_cert_chain() else {
        return text;
    };
    for (i, cert) in chain.iter().enumerate() {
        text.extend_from_slice(format!("Certificate {i}:\n").as_bytes());
        text.extend_from_slice(&certificate_text(cert));
    }
    text
}

fn certificate_text(cert: &X509Ref) -> Vec<u8> {
    let mut text = format!(
        "  subject: {}\n  issuer: {}\n  notBefore: {}\n  notAfter: {}\n",
        name(cert.subject_name()),
        name(cert.issuer_name()),
        cert.not_before(),
        cert.not_after()
    )
    .into_bytes();
    match cert.to_pem() {
        Ok(pem) => text.extend_from_slice(&pem),
        Err(_) => text.extend_from_slice(b"  (cannot encode the certificate as PEM)\n"),
    }
    text
}

/// `CN=localhost, O=Example`: short names where OpenSSL knows one, else the OID; values as
/// UTF-8 (undecodable ones shown as `?`).
pub fn name(name: &X509NameRef) -> String {
    name.entries()
        .map(|entry| {
            let object = entry.object();
            let key = object
                .nid()
                .short_name()
                .map(str::to_owned)
                .unwrap_or_else(|_| object.to_string());
            let value = entry.data().to_string().unwrap_or_else(|_| "?".to_owned());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
