//! The opt-in TLS options (`--servername`, `--verify`/`--cafile`/`--capath`, `--tls-min`,
//! `--tls-max`, `--ciphers`, `--ciphersuites`, `--show-cert`, `--cb`) as the TLS engine uses
//! them. `Settings::default()` is the C tool: nothing of this touches the context or the
//! handshake then, so the output stays the C tool's byte for byte.

use crate::ffi::tls as raw;
use crate::options::{ChannelBinding, Options, TlsVersion};
use openssl::ssl::{SslContextBuilder, SslRef, SslVersion};
use openssl::x509::verify::X509CheckFlags;
use std::ffi::CString;
use std::net::IpAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What the engine does beyond the C tool, all off by default.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// SNI name sent in the ClientHello (`--servername`); the C tool sends none.
    pub servername: Option<String>,
    /// `--verify`: the chain and the name must check out, or the connection is given up.
    pub verify: Option<Verify>,
    pub min_version: Option<TlsVersion>,
    pub max_version: Option<TlsVersion>,
    /// OpenSSL cipher list for TLS 1.2 and below (`--ciphers`).
    pub ciphers: Option<String>,
    /// OpenSSL TLS 1.3 cipher suites (`--ciphersuites`).
    pub ciphersuites: Option<String>,
    /// `--show-cert`: print the server's chain after the handshake.
    pub show_cert: bool,
    /// `--cb`: which channel binding goes to SASL; `None` = the C tool's tls-unique.
    pub binding: Option<ChannelBinding>,
    /// `--tls-resume`: the session is taken again at the end of each round.
    pub resume_late: bool,
    /// `--no-plaintext-fallback`: TLS must come up (then a failed handshake says why).
    pub required: bool,
}

/// Trust store and expected name for `--verify`.
#[derive(Debug, Clone)]
pub struct Verify {
    /// `--cafile` / `--capath`; with neither, the system's default locations.
    pub cafile: Option<PathBuf>,
    pub capath: Option<PathBuf>,
    /// The name the certificate must carry.
    pub name: PeerName,
}

/// What the server certificate is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerName {
    /// A DNS name (subjectAltName DNS entries, else the CN).
    Host(String),
    /// An IP literal (subjectAltName IP entries).
    Ip(IpAddr),
}

impl PeerName {
    /// An IP literal (optionally in brackets) is checked as an address, anything else as a
    /// host name.
    pub fn parse(text: &str) -> PeerName {
        let bare = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        match bare.parse() {
            Ok(ip) => PeerName::Ip(ip),
            Err(_) => PeerName::Host(text.to_owned()),
        }
    }

    pub fn text(&self) -> String {
        match self {
            PeerName::Host(name) => name.clone(),
            PeerName::Ip(ip) => ip.to_string(),
        }
    }
}

impl Settings {
    /// From the command line: the name checked by `--verify` is `--servername` if given,
    /// else the host argument as typed.
    pub fn from_options(options: &Options) -> Settings {
        let extras = &options.extras;
        let verify = extras.verify.then(|| Verify {
            cafile: extras.cafile.clone(),
            capath: extras.capath.clone(),
            name: PeerName::parse(&match &extras.servername {
                Some(name) => name.clone(),
                None => String::from_utf8_lossy(&options.host).into_owned(),
            }),
        });
        Settings {
            servername: extras.servername.clone(),
            verify,
            min_version: extras.tls_min,
            max_version: extras.tls_max,
            ciphers: extras.ciphers.clone(),
            ciphersuites: extras.ciphersuites.clone(),
            show_cert: extras.show_cert,
            binding: extras.channel_binding,
            resume_late: extras.tls_resume,
            required: extras.no_plaintext_fallback,
        }
    }

    /// Whether any option asks for more than the C tool does. Only then may messages differ
    /// from the C tool's (e.g. the reason of a failed handshake).
    pub fn any(&self) -> bool {
        self.servername.is_some()
            || self.verify.is_some()
            || self.min_version.is_some()
            || self.max_version.is_some()
            || self.ciphers.is_some()
            || self.ciphersuites.is_some()
            || self.show_cert
            || self.binding.is_some()
            || self.required
    }

    /// Context part: versions, ciphers, trust store. Errors are one line (for `failure: `).
    pub fn apply_to_context(&self, builder: &mut SslContextBuilder) -> Result<(), String> {
        if let Some(v) = self.min_version {
            builder
                .set_min_proto_version(Some(ssl_version(v)))
                .map_err(|e| format!("--tls-min: {}", reason(&e)))?;
        }
        if let Some(v) = self.max_version {
            builder
                .set_max_proto_version(Some(ssl_version(v)))
                .map_err(|e| format!("--tls-max: {}", reason(&e)))?;
        }
        if let Some(list) = &self.ciphers {
            builder
                .set_cipher_list(list)
                .map_err(|_| format!("--ciphers: no usable cipher in '{list}'"))?;
        }
        if let Some(list) = &self.ciphersuites {
            builder
                .set_ciphersuites(list)
                .map_err(|_| format!("--ciphersuites: no usable cipher suite in '{list}'"))?;
        }
        if let Some(verify) = &self.verify {
            load_trust(builder, verify)?;
        }
        Ok(())
    }

    /// Connection part: SNI and the name the chain check includes.
    pub fn apply_to_ssl(&self, ssl: &mut SslRef) -> Result<(), String> {
        if let Some(name) = &self.servername {
            ssl.set_hostname(name)
                .map_err(|_| format!("--servername: OpenSSL refuses the name '{name}'"))?;
        }
        if let Some(verify) = &self.verify {
            let param = ssl.param_mut();
            param.set_hostflags(X509CheckFlags::NO_PARTIAL_WILDCARDS);
            let set = match &verify.name {
                PeerName::Host(name) => param.set_host(name),
                PeerName::Ip(ip) => param.set_ip(*ip),
            };
            set.map_err(|_| {
                format!(
                    "--verify: cannot check for the name '{}'",
                    verify.name.text()
                )
            })?;
        }
        Ok(())
    }
}

fn ssl_version(v: TlsVersion) -> SslVersion {
    match v {
        TlsVersion::Tls1_0 => SslVersion::TLS1,
        TlsVersion::Tls1_1 => SslVersion::TLS1_1,
        TlsVersion::Tls1_2 => SslVersion::TLS1_2,
        TlsVersion::Tls1_3 => SslVersion::TLS1_3,
    }
}

/// The reason text of the first entry of an OpenSSL error stack.
pub fn reason(stack: &openssl::error::ErrorStack) -> String {
    stack
        .errors()
        .first()
        .and_then(|e| e.reason().map(str::to_owned))
        .unwrap_or_else(|| "unknown OpenSSL error".to_owned())
}

/// `--cafile`/`--capath`, or OpenSSL's default locations. The paths are checked first so
/// that the message can say what is wrong with them; names are bytes as given.
fn load_trust(builder: &mut SslContextBuilder, verify: &Verify) -> Result<(), String> {
    if verify.cafile.is_none() && verify.capath.is_none() {
        return builder
            .set_default_verify_paths()
            .map_err(|e| format!("cannot load the system's trusted CAs: {}", reason(&e)));
    }
    if let Some(file) = &verify.cafile {
        std::fs::File::open(file)
            .map_err(|e| format!("--cafile '{}': {}", show(file), io_reason(&e)))?;
    }
    if let Some(dir) = &verify.capath {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(format!("--capath '{}': not a directory", show(dir))),
            Err(e) => return Err(format!("--capath '{}': {}", show(dir), io_reason(&e))),
        }
    }
    let file = verify.cafile.as_deref().map(c_path).transpose()?;
    let dir = verify.capath.as_deref().map(c_path).transpose()?;
    if !raw::load_verify_locations(builder, file.as_deref(), dir.as_deref()) {
        return Err(match &verify.cafile {
            Some(file) => format!("--cafile '{}': no CA certificate in it", show(file)),
            None => "--capath: OpenSSL cannot use the directory".to_owned(),
        });
    }
    Ok(())
}

fn c_path(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("'{}': a path cannot contain a NUL byte", show(path)))
}

fn show(path: &Path) -> String {
    String::from_utf8_lossy(path.as_os_str().as_bytes()).into_owned()
}

/// `No such file or directory`, without Rust's ` (os error 2)`.
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::PeerName;

    #[test]
    fn ip_literals_are_checked_as_addresses() {
        assert_eq!(
            PeerName::parse("127.0.0.1"),
            PeerName::Ip("127.0.0.1".parse().unwrap())
        );
        assert_eq!(PeerName::parse("::1"), PeerName::Ip("::1".parse().unwrap()));
        assert_eq!(
            PeerName::parse("[::1]"),
            PeerName::Ip("::1".parse().unwrap())
        );
        assert_eq!(
            PeerName::parse("mail.example"),
            PeerName::Host("mail.example".into())
        );
        assert_eq!(PeerName::parse("[x]"), PeerName::Host("[x]".into()));
    }
}
