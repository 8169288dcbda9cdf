//! What the command line asked for, after parsing (spec §2.2). Filled in by `cli`,
//! read by everything else; no behaviour lives here.

use crate::ffi::process::wipe;
use crate::protocol::Protocol;
use std::path::PathBuf;

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
    pub password: Option<Password>,
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
}

/// Password bytes that are wiped when dropped (prompt answers, argv copies).
#[derive(Default, Clone, PartialEq, Eq)]
pub struct Password(Vec<u8>);

impl Password {
    pub fn new(bytes: Vec<u8>) -> Password {
        Password(bytes)
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::Deref for Password {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}
