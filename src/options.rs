//! What the command line asked for, after parsing (spec §2.2). Filled in by `cli`,
//! read by everything else; no behaviour lives here.

use crate::protocol::Protocol;

/// `-H`: which HAProxy header to send first on every connection (spec §3.3).
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
    File(String),
    /// `-x path` (daemon = `-X path`).
    Socket { path: String, daemon: bool },
}

#[derive(Debug)]
pub struct Options {
    pub protocol: &'static Protocol,
    /// The first non-option argument, or `localhost` (after the warning).
    pub host: String,
    /// `-p`, or the protocol's (SSL) default service name.
    pub port: String,
    /// `-s`.
    pub implicit_tls: bool,
    /// `-t FILE`: `Some("")` = STARTTLS without a client certificate.
    pub starttls_keyfile: Option<String>,
    /// `-m`.
    pub mechanism: Option<String>,
    /// `-a`; `None` = the current user's login name.
    pub authname: Option<String>,
    /// `-u`.
    pub authzid: Option<String>,
    /// `-w`.
    pub password: Option<String>,
    /// `-r`.
    pub realm: Option<String>,
    /// `-k` (atoi).
    pub min_ssf: u32,
    /// `-l` (atoi), default 128.
    pub max_ssf: u32,
    /// `-c`.
    pub challenge_prompts: bool,
    /// `-i`.
    pub no_initial_response: bool,
    /// `-o opt[=val]`, in order given; later duplicates win at lookup.
    pub sasl_options: Vec<(String, String)>,
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
}
