//! What the command line asked for, after parsing (docs/behaviour.md §2.2). Filled in by `cli`,
//! read by everything else; no behaviour lives here.

use crate::ffi::secret::Secret;
use crate::protocol::Protocol;
use std::path::PathBuf;

/// `-H`: which HAProxy header to send first on every connection (docs/behaviour.md §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HaProxy {
    /// `-H local`: a v2 LOCAL header.
    Local,
    /// `-H unknown`: `PROXY UNKNOWN\r\n`.
    Unknown,
    /// Anything else, used verbatim as the v1 source address.
    ClientIp(String),
}

/// Where the interactive part goes after authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Terminal mode: stdin to the server, server to stdout.
    Terminal,
    /// `-f file`.
    File(PathBuf),
    /// `-x path` (daemon = `-X path`).
    Socket { path: PathBuf, daemon: bool },
}

#[derive(Debug)]
pub struct Options {
    pub protocol: &'static Protocol,
    /// The first non-option argument, or `localhost` (after the warning).
    pub host: Vec<u8>,
    /// `-p`, or the protocol's (SSL) default service name.
    pub port: Vec<u8>,
    /// `-s`.
    pub implicit_tls: bool,
    /// `-t FILE`: `Some("")` = STARTTLS without a client certificate.
    pub starttls_keyfile: Option<Vec<u8>>,
    /// `-m`.
    pub mechanism: Option<Vec<u8>>,
    /// `-a`; `None` = the current user's login name.
    pub authname: Option<Vec<u8>>,
    /// `-u`.
    pub authzid: Option<Vec<u8>>,
    /// `-w`, as given (bytes: a password need not be UTF-8); wiped when dropped.
    pub password: Option<Secret>,
    /// Where each `-w` argument sits in the process's argv: (index, byte offset), for masking.
    pub password_argv: Vec<(usize, usize)>,
    /// `-r`.
    pub realm: Option<Vec<u8>>,
    /// `-k` (atoi).
    pub min_ssf: u32,
    /// `-l` (atoi), default 128.
    pub max_ssf: u32,
    /// `-c`.
    pub challenge_prompts: bool,
    /// `-i`.
    pub no_initial_response: bool,
    /// `-o opt[=val]`, in order given; later duplicates win at lookup.
    pub sasl_options: Vec<(Vec<u8>, Vec<u8>)>,
    /// `-n`.
    pub rounds: u32,
    /// `-q`.
    pub compress: bool,
    /// `-z`.
    pub stress: bool,
    /// `-v`.
    pub verbose: bool,
    pub output: Output,
    /// `-H`.
    pub haproxy: Option<HaProxy>,
    /// The opt-in options the C tools do not have (all off by default).
    pub extras: Extras,
}

/// A TLS protocol version for `--tls-min`/`--tls-max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls1_0,
    Tls1_1,
    Tls1_2,
    Tls1_3,
}

/// `--cb`: which TLS channel binding the `-PLUS` mechanisms get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelBinding {
    TlsUnique,
    TlsExporter,
    TlsServerEndPoint,
    /// tls-exporter on TLS 1.3, tls-unique below it.
    Auto,
}

/// `-4`/`-6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

/// Everything `imtest-rs` adds beyond the C tools. `Extras::default()` is the C tool.
#[derive(Debug, Default)]
pub struct Extras {
    /// `--servername NAME`: SNI (and the name `--verify` checks).
    pub servername: Option<String>,
    /// `--cafile FILE` (implies `--verify`).
    pub cafile: Option<PathBuf>,
    /// `--capath DIR` (implies `--verify`).
    pub capath: Option<PathBuf>,
    /// `--verify` (or `--cafile`/`--capath`): abort on a bad chain or host-name mismatch.
    pub verify: bool,
    /// `--tls-min VERSION`.
    pub tls_min: Option<TlsVersion>,
    /// `--tls-max VERSION`.
    pub tls_max: Option<TlsVersion>,
    /// `--ciphers LIST`: OpenSSL cipher list for TLS 1.2 and below.
    pub ciphers: Option<String>,
    /// `--ciphersuites LIST`: OpenSSL TLS 1.3 cipher suites.
    pub ciphersuites: Option<String>,
    /// `--show-cert`: print the server's chain (PEM, subject, issuer, dates).
    pub show_cert: bool,
    /// `--tls-resume`: keep the session as it is at the end of a round (with its TLS 1.3
    /// ticket) for the next `-n` round, instead of the C tool's copy from right after the
    /// handshake.
    pub tls_resume: bool,
    /// `--cb TYPE`; `None` = the C tool's tls-unique.
    pub channel_binding: Option<ChannelBinding>,
    /// `--oauth-token-file FILE` / `--oauth-token-fd N`: the bearer token, read at start.
    pub oauth_token: Option<Secret>,
    /// `-4`/`-6` (`--ipv4`/`--ipv6`).
    pub family: Option<Family>,
    /// `--connect-timeout SECONDS`.
    pub connect_timeout: Option<std::time::Duration>,
    /// `--read-timeout SECONDS`.
    pub read_timeout: Option<std::time::Duration>,
    /// `--unix PATH`: connect to a UNIX-domain socket instead of host/port.
    pub unix: Option<PathBuf>,
    /// `--haproxy-version 1|2` (default 1, master's headers).
    pub haproxy_version: u8,
    /// `--haproxy-source-port N`: source port in the PROXY header (default: our local port).
    pub haproxy_source_port: Option<u16>,
    /// `--haproxy-dest ADDR`: destination address in the PROXY header (default: the server's).
    pub haproxy_dest: Option<std::net::IpAddr>,
    /// `--haproxy-dest-port N`: destination port in the PROXY header (default: the server's).
    pub haproxy_dest_port: Option<u16>,
    /// `--haproxy-tlv TYPE=VALUE` (v2 only), in order given.
    pub haproxy_tlvs: Vec<(u8, Vec<u8>)>,
    /// `--exit-status`: distinct exit codes per failure stage (`error::Stage`).
    pub exit_status: bool,
    /// `--no-plaintext-fallback`: no credential is sent unless TLS is up (STARTTLS refused, or its
    /// engine failing, ends the run); the certificate need not verify.
    pub no_plaintext_fallback: bool,
}

impl Extras {
    /// Whether any TLS-only option was given (they need `-t` or `-s`).
    pub fn wants_tls_option(&self) -> Option<&'static str> {
        [
            (self.servername.is_some(), "--servername"),
            (self.cafile.is_some(), "--cafile"),
            (self.capath.is_some(), "--capath"),
            (self.verify, "--verify"),
            (self.tls_min.is_some(), "--tls-min"),
            (self.tls_max.is_some(), "--tls-max"),
            (self.ciphers.is_some(), "--ciphers"),
            (self.ciphersuites.is_some(), "--ciphersuites"),
            (self.show_cert, "--show-cert"),
            (self.tls_resume, "--tls-resume"),
            (self.channel_binding.is_some(), "--cb"),
            (self.no_plaintext_fallback, "--no-plaintext-fallback"),
        ]
        .into_iter()
        .find_map(|(given, name)| given.then_some(name))
    }
}
