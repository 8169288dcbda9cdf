//! Channel-binding data for SASL's `-PLUS` mechanisms, taken from a finished handshake:
//! tls-unique (RFC 5929, the C tool's only kind), tls-exporter (RFC 9266) and
//! tls-server-end-point (RFC 5929). `--cb` picks one; without it the C tool's tls-unique.

use crate::ffi::tls as raw;
use crate::options::ChannelBinding;
use openssl::hash::{hash, MessageDigest};
use openssl::nid::Nid;
use openssl::ssl::{SslRef, SslVersion};
use openssl::x509::X509Ref;

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
    end_point_hash(&cert).map_err(|why| fail(&why))
}

/// The RFC 5929 hash of `cert`.
fn end_point_hash(cert: &X509Ref) -> Result<Vec<u8>, String> {
    let fail = |why: &str| why.to_owned();
    let digest = match raw::signature_digest(cert) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::pkey::{PKey, Private};
    use openssl::rsa::Rsa;
    use openssl::x509::{X509Builder, X509NameBuilder, X509};

    fn cert(key: &PKey<Private>, digest: MessageDigest) -> X509 {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "cb.example").unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(key, digest).unwrap();
        b.build()
    }

    fn rsa() -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
    }

    #[test]
    fn end_point_uses_the_signature_digest() {
        let key = rsa();
        let c = cert(&key, MessageDigest::sha384());
        let want = hash(MessageDigest::sha384(), &c.to_der().unwrap()).unwrap();
        assert_eq!(end_point_hash(&c).unwrap(), want.to_vec());
        assert_eq!(want.len(), 48);
    }

    #[test]
    fn end_point_turns_md5_and_sha1_into_sha256() {
        let key = rsa();
        for digest in [MessageDigest::sha1(), MessageDigest::md5()] {
            let c = cert(&key, digest);
            let want = hash(MessageDigest::sha256(), &c.to_der().unwrap()).unwrap();
            assert_eq!(end_point_hash(&c).unwrap(), want.to_vec());
        }
    }

    #[test]
    fn end_point_is_undefined_for_ed25519() {
        let key = PKey::generate_ed25519().unwrap();
        let c = cert(&key, MessageDigest::null());
        assert!(end_point_hash(&c).unwrap_err().contains("not defined"));
    }
}
