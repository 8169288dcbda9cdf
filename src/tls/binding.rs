//! Channel-binding data for SASL's `-PLUS` mechanisms, taken from a finished handshake:
//! tls-unique (RFC 5929, the C tool's only kind), tls-exporter (RFC 9266) and
//! tls-server-end-point (RFC 5929). `--cb` picks one; without it the C tool's tls-unique.

use crate::ffi::tls as raw;
use crate::options::ChannelBinding;
use openssl::hash::{hash, MessageDigest};
use openssl::nid::Nid;
use openssl::ssl::{SslRef, SslVersion};

/// The name libsasl2 is given (SCRAM sends it as `p=<name>`) and the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub name: &'static str,
    pub data: Vec<u8>,
}

/// Room for a Finished message, as in the C tool (EVP_MAX_MD_SIZE).
const FINISHED_MAX: usize = 64;

/// RFC 9266: label, no context, 32 bytes.
const EXPORTER_LABEL: &str = "EXPORTER-Channel-Binding";
const EXPORTER_LEN: usize = 32;

/// The binding `kind` asks for (`None`: tls-unique, as the C tool). Errors are one line.
pub fn compute(ssl: &SslRef, kind: Option<ChannelBinding>) -> Result<Binding, String> {
    let kind = match kind {
        None => ChannelBinding::TlsUnique,
        Some(ChannelBinding::Auto) if is_tls13(ssl) => ChannelBinding::TlsExporter,
        Some(ChannelBinding::Auto) => ChannelBinding::TlsUnique,
        Some(other) => other,
    };
    match kind {
        ChannelBinding::TlsExporter => Ok(Binding {
            name: "tls-exporter",
            data: exporter(ssl)?,
        }),
        ChannelBinding::TlsServerEndPoint => Ok(Binding {
            name: "tls-server-end-point",
            data: server_end_point(ssl)?,
        }),
        ChannelBinding::TlsUnique | ChannelBinding::Auto => Ok(Binding {
            name: "tls-unique",
            data: unique(ssl),
        }),
    }
}

fn is_tls13(ssl: &SslRef) -> bool {
    ssl.session()
        .is_some_and(|s| s.protocol_version() == SslVersion::TLS1_3)
}

/// The first Finished message of the handshake: our own on a full handshake, the server's on
/// a resumed one (OpenSSL returns data for TLS 1.3 too, and the C tool uses it there).
pub fn unique(ssl: &SslRef) -> Vec<u8> {
    let mut finished = [0u8; FINISHED_MAX];
    let len = if ssl.session_reused() {
        ssl.peer_finished(&mut finished)
    } else {
        ssl.finished(&mut finished)
    };
    finished[..len.min(FINISHED_MAX)].to_vec()
}

fn exporter(ssl: &SslRef) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; EXPORTER_LEN];
    ssl.export_keying_material(&mut out, EXPORTER_LABEL, None)
        .map_err(|e| {
            format!(
                "channel binding tls-exporter: {}",
                super::settings::reason(&e)
            )
        })?;
    Ok(out)
}

/// Hash of the server certificate (DER) with its signature's digest; MD5 and SHA-1 become
/// SHA-256. Undefined (an error) when the signature has no single digest, e.g. Ed25519.
fn server_end_point(ssl: &SslRef) -> Result<Vec<u8>, String> {
    let fail = |why: &str| format!("channel binding tls-server-end-point: {why}");
    let cert = ssl
        .peer_certificate()
        .ok_or_else(|| fail("the server sent no certificate"))?;
    let digest = match raw::signature_digest(&cert) {
        Some(nid) if nid == Nid::MD5 || nid == Nid::SHA1 => MessageDigest::sha256(),
        Some(nid) => MessageDigest::from_nid(nid)
            .ok_or_else(|| fail("the certificate's signature digest is unknown"))?,
        None => {
            return Err(fail(
                "not defined for this certificate (its signature uses no single digest)",
            ))
        }
    };
    let der = cert
        .to_der()
        .map_err(|_| fail("cannot encode the certificate"))?;
    let digest = hash(digest, &der).map_err(|_| fail("hashing failed"))?;
    Ok(digest.to_vec())
}
