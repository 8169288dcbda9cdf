//! One throw-away PKI per test process (made by `imtest::testkit::pki`, shared with the unit
//! tests; nothing from the system trust store):
//! a CA, a CA-signed server certificate (CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1),
//! a self-signed server certificate, and client certificates with CN = user name written as one
//! PEM file each (certificate then key — the form `imtest -t FILE` takes).

use super::tmp::TempDir;
use imtest::testkit::pki::{make_cert, now, pem, rsa_key as key, Kind, DAY};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

pub use imtest::testkit::pki::common_name;

/// A certificate, its private key, and the extra chain certificates a server should send.
#[derive(Clone)]
pub struct Identity {
    pub cert: X509,
    pub key: PKey<Private>,
    /// Sent after the leaf (empty = leaf only).
    pub chain: Vec<X509>,
    /// PEM file: certificate (+ chain) then private key.
    pub pem: PathBuf,
}

/// The per-process PKI.
pub struct Certs {
    dir: TempDir,
    /// The CA (self-signed, CN=imtest test CA).
    pub ca: Identity,
    /// CN=localhost signed by the CA; sends the leaf only (→ verify errors 20 and 21).
    pub server: Identity,
    /// The same leaf, but the chain includes the CA root (→ verify error 19).
    pub server_full_chain: Identity,
    /// CN=localhost, self-signed (→ verify error 18).
    pub self_signed: Identity,
    clients: Mutex<HashMap<String, Identity>>,
}

static CERTS: OnceLock<Certs> = OnceLock::new();

/// The PKI of this test process, created on first use (its directory is removed at exit).
pub fn certs() -> &'static Certs {
    CERTS.get_or_init(|| {
        let c = Certs::create();
        // SAFETY: registers a plain extern "C" function with no captured state.
        unsafe {
            libc::atexit(remove_pki_dir);
        }
        c
    })
}

extern "C" fn remove_pki_dir() {
    // Statics are never dropped: remove the files at process exit instead.
    if let Some(c) = CERTS.get() {
        let _ = std::fs::remove_dir_all(c.dir.path());
    }
}

/// A certificate valid from yesterday for 30 days.
fn cert(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    kind: Kind,
) -> X509 {
    let t = now();
    make_cert(cn, key, issuer, t - DAY, t + 30 * DAY, kind)
}

impl Identity {
    /// `cert` (then `chain`) and `key`, written to `file` in `dir` too.
    fn new(dir: &TempDir, file: &str, cert: &X509, chain: &[&X509], key: PKey<Private>) -> Self {
        let certs: Vec<&X509> = std::iter::once(cert).chain(chain.iter().copied()).collect();
        let pem = dir.write(file, &pem(&certs, &key));
        let chain = chain.iter().map(|&c| c.clone()).collect();
        Identity {
            cert: cert.clone(),
            key,
            chain,
            pem,
        }
    }
}

impl Certs {
    fn create() -> Certs {
        let dir = TempDir::new("pki");
        let ca_key = key();
        let ca_cert = cert("imtest test CA", &ca_key, None, Kind::Ca);
        let ca = Identity::new(&dir, "ca.pem", &ca_cert, &[], ca_key.clone());
        let srv_key = key();
        let srv_cert = cert(
            "localhost",
            &srv_key,
            Some((&ca_cert, &ca_key)),
            Kind::Server,
        );
        let server = Identity::new(&dir, "server.pem", &srv_cert, &[], srv_key.clone());
        let server_full_chain =
            Identity::new(&dir, "server-chain.pem", &srv_cert, &[&ca_cert], srv_key);
        let ss_key = key();
        let ss_cert = cert("localhost", &ss_key, None, Kind::Server);
        let self_signed = Identity::new(&dir, "self-signed.pem", &ss_cert, &[], ss_key);
        Certs {
            dir,
            ca,
            server,
            server_full_chain,
            self_signed,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// A client identity with CN=`user`, signed by the CA; `.pem` is the `-t FILE` form.
    pub fn client(&self, user: &str) -> Identity {
        let mut map = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(user.to_string())
            .or_insert_with(|| {
                let k = key();
                let c = cert(user, &k, Some((&self.ca.cert, &self.ca.key)), Kind::Client);
                Identity::new(&self.dir, &format!("client-{user}.pem"), &c, &[], k)
            })
            .clone()
    }
}
