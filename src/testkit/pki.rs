//! The one throw-away PKI maker of the tests (unit tests and the integration suite): RSA and
//! EC keys, certificates for a CN signed by an issuer or by themselves, valid over a chosen
//! span, with the extensions of a CA, a TLS server (SAN localhost, 127.0.0.1, ::1), a TLS
//! client, or none; PEM files in the `-t FILE` form; the test servers' TLS context
//! ([`ServerTls`]). Nothing from the system trust store.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::{
    SslContext, SslMethod, SslOptions, SslSessionCacheMode, SslVerifyMode, SslVersion,
};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509Name, X509Ref, X509};
use std::time::{SystemTime, UNIX_EPOCH};

/// One day in seconds.
pub const DAY: i64 = 86_400;

/// Now, in unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A fresh 2048-bit RSA key.
pub fn rsa_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).expect("RSA key")).expect("PKey")
}

/// A fresh P-256 key.
pub fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
    PKey::from_ec_key(EcKey::generate(&group).expect("EC key")).expect("PKey")
}

/// What a certificate is for: its extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// CA:TRUE (critical), keyCertSign and cRLSign.
    Ca,
    /// serverAuth, SAN DNS:localhost IP:127.0.0.1 IP:::1.
    Server,
    /// clientAuth.
    Client,
    /// No extensions.
    Plain,
}

/// A certificate for `cn` with `key`, signed by `issuer` (or by itself), valid over
/// `[from, to]` (unix seconds).
pub fn make_cert(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    from: i64,
    to: i64,
    kind: Kind,
) -> X509 {
    let mut name = X509Name::builder().expect("name");
    name.append_entry_by_text("CN", cn).expect("CN");
    let name = name.build();
    let mut b = X509::builder().expect("x509 builder");
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    match issuer {
        Some((cert, _)) => b.set_issuer_name(cert.subject_name()).unwrap(),
        None => b.set_issuer_name(&name).unwrap(),
    }
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(from).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(to).unwrap()).unwrap();
    match kind {
        Kind::Ca => {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            let usage = KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build();
            b.append_extension(usage.unwrap()).unwrap();
        }
        Kind::Server => {
            b.append_extension(BasicConstraints::new().build().unwrap())
                .unwrap();
            b.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap())
                .unwrap();
            let ctx = b.x509v3_context(issuer.map(|(c, _)| &**c), None);
            let san = SubjectAlternativeName::new()
                .dns("localhost")
                .ip("127.0.0.1")
                .ip("::1")
                .build(&ctx)
                .unwrap();
            b.append_extension(san).unwrap();
        }
        Kind::Client => {
            b.append_extension(BasicConstraints::new().build().unwrap())
                .unwrap();
            b.append_extension(ExtendedKeyUsage::new().client_auth().build().unwrap())
                .unwrap();
        }
        Kind::Plain => {}
    }
    let signer = issuer.map(|(_, k)| k).unwrap_or(key);
    b.sign(signer, MessageDigest::sha256()).unwrap();
    b.build()
}

/// Certificates then the private key, one PEM (the form `-t FILE` takes).
pub fn pem(certs: &[&X509], key: &PKey<Private>) -> Vec<u8> {
    let mut pem = Vec::new();
    for c in certs {
        pem.extend(c.to_pem().unwrap());
    }
    pem.extend(key.private_key_to_pem_pkcs8().unwrap());
    pem
}

/// The subject CN of a certificate, if any.
pub fn common_name(cert: &X509Ref) -> Option<String> {
    cert.subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .map(|e| String::from_utf8_lossy(e.data().as_slice()).into_owned())
}

/// A test TLS server's context: a certificate, its chain and key, and the few knobs the tests
/// turn (versions, tickets, session cache, client certificates, a peer leaving without
/// close_notify). Library defaults otherwise, like a plain server.
pub struct ServerTls {
    cert: X509,
    chain: Vec<X509>,
    key: PKey<Private>,
    min: Option<SslVersion>,
    max: Option<SslVersion>,
    tickets: bool,
    session_cache: bool,
    client_cert: bool,
    lenient_eof: bool,
}

impl ServerTls {
    /// Serves `cert` (then `chain`) with `key`; tickets and the session cache on.
    pub fn new(cert: &X509, chain: &[X509], key: &PKey<Private>) -> ServerTls {
        ServerTls {
            cert: cert.clone(),
            chain: chain.to_vec(),
            key: key.clone(),
            min: None,
            max: None,
            tickets: true,
            session_cache: true,
            client_cert: false,
            lenient_eof: false,
        }
    }

    pub fn min_version(mut self, v: Option<SslVersion>) -> Self {
        self.min = v;
        self
    }

    pub fn max_version(mut self, v: Option<SslVersion>) -> Self {
        self.max = v;
        self
    }

    /// No session tickets (a session-ID cache may still resume).
    pub fn no_tickets(mut self) -> Self {
        self.tickets = false;
        self
    }

    /// No session cache and no tickets: every handshake is a full one.
    pub fn no_session_cache(mut self) -> Self {
        self.session_cache = false;
        self.no_tickets()
    }

    /// Asks for a client certificate (any is accepted).
    pub fn request_client_cert(mut self) -> Self {
        self.client_cert = true;
        self
    }

    /// A client that goes away without close_notify is not an error.
    pub fn ignore_unexpected_eof(mut self) -> Self {
        self.lenient_eof = true;
        self
    }

    pub fn context(&self) -> SslContext {
        let mut b = SslContext::builder(SslMethod::tls_server()).expect("SslContext");
        b.set_certificate(&self.cert).expect("cert");
        for c in &self.chain {
            b.add_extra_chain_cert(c.clone()).expect("chain cert");
        }
        b.set_private_key(&self.key).expect("key");
        b.check_private_key().expect("key matches cert");
        b.set_min_proto_version(self.min).expect("min version");
        b.set_max_proto_version(self.max).expect("max version");
        b.set_session_id_context(b"imtest-tests").expect("sid ctx");
        if self.lenient_eof {
            b.set_options(SslOptions::IGNORE_UNEXPECTED_EOF);
        }
        if !self.tickets {
            b.set_options(SslOptions::NO_TICKET);
        }
        if !self.session_cache {
            b.set_session_cache_mode(SslSessionCacheMode::OFF);
            b.set_num_tickets(0).expect("num tickets");
        }
        if self.client_cert {
            b.set_verify_callback(SslVerifyMode::PEER, |_, _| true);
        }
        b.build()
    }
}
