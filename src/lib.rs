//! imtest and its siblings as a library: the whole tool behind [`run`], plus [`parsers`], a
//! small door to the functions that read server data, for the fuzz targets. The binary
//! (`src/main.rs`) only calls [`run`].

mod auth;
mod capabilities;
mod cli;
mod error;
mod ffi;
mod net;
mod options;
mod prompt;
mod protocol;
mod relay;
mod replies;
mod session;
mod socket_mode;
mod stress;
mod tls;
mod transcript;

/// Runs the tool with these arguments (argv[0] first) and returns the exit status: the
/// command line, the session, and the one fatal error turned into the C tool's
/// `failure: ...` line.
pub fn run(args: Vec<std::ffi::OsString>) -> i32 {
    ffi::term::unbuffer_stdio();
    match cli::parse(args) {
        cli::Parsed::Exit(code) => code,
        cli::Parsed::Run(options) => match session::run(&options) {
            Ok(code) => code,
            Err(failure) => {
                transcript::err(format!("{failure}\n").as_bytes());
                1
            }
        },
    }
}

/// The parsers of server data, for fuzzing; nothing here touches the network.
#[doc(hidden)]
pub mod parsers {
    use crate::capabilities::{Caps, Learnt};
    use crate::protocol;

    /// Scans capability lines the way protocol `key` does; returns the mechanism list.
    pub fn capability_lines(key: &str, lines: &[&[u8]]) -> Option<Vec<u8>> {
        let protocol = protocol::lookup(key)?;
        let mut caps = Caps::fresh(protocol);
        let mut learnt = Learnt::default();
        for line in lines {
            caps.scan_line(protocol, line, &mut learnt);
        }
        caps.mechs.map(|m| m.as_bytes().to_vec())
    }

    /// The POP3 greeting's APOP challenge.
    pub fn apop_challenge(line: &[u8]) -> Option<Vec<u8>> {
        protocol::pop3::apop_challenge(line)
    }

    /// An HTTP `WWW-Authenticate:`/`Authentication-Info:` header for `scheme`.
    pub fn http_challenge(
        header: &[u8],
        scheme: &str,
        params: bool,
    ) -> Result<Option<Vec<u8>>, String> {
        let mut sid = None;
        protocol::http::parse_challenge(header, scheme, params, &mut sid)
    }

    /// The PROXY header for `-H value` between two addresses.
    pub fn haproxy_header(
        value: &str,
        local: std::net::SocketAddr,
        remote: std::net::SocketAddr,
    ) -> Vec<u8> {
        let kind = crate::cli::haproxy(value.as_bytes());
        crate::net::haproxy::header(&kind, &local, &remote)
    }

    /// What the relay sends for these stdin reads.
    pub fn stdin_pieces(reads: &[&[u8]]) -> Vec<Vec<u8>> {
        crate::relay::split_stdin(reads)
    }
}
