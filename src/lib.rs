//! imtest and its siblings as a library: the whole tool behind [`run`], plus [`parsers`], a
//! small door to the functions that read server data, for the fuzz targets. The binary
//! (`src/main.rs`) only calls [`run`].

mod auth;
mod capabilities;
mod cli;
mod error;
mod ffi;
mod net;
mod oauth;
mod options;
mod prompt;
mod protocol;
mod relay;
mod replies;
mod secret;
mod session;
mod socket_mode;
mod stress;
mod tls;
mod transcript;

/// Runs the tool with these arguments (argv[0] first) and returns the exit status: the
/// command line, the session, and the one fatal error turned into the C tool's
/// `failure: ...` line.
pub fn run(args: Vec<std::ffi::OsString>) -> i32 {
    run_masking(args, &mut |_, _| {})
}

/// The binary's entry, behind its C `main`: std's usual start-up, the process made
/// non-dumpable (before any secret is read), then [`run`] over the process's own argv, where the password argument of `-w`/`--password` is overwritten with
/// `x` once the command line is parsed (so `/proc/PID/cmdline` and `ps` no longer show it).
///
/// # Safety
/// `argc` and `argv` must be exactly what the C runtime passed to `main`, and nothing else
/// may write to the argv strings while this runs.
pub unsafe fn c_main(argc: std::ffi::c_int, argv: *const *mut std::ffi::c_char) -> i32 {
    ffi::process::start_like_std();
    ffi::process::forbid_dumps();
    // SAFETY: forwarded from this function's contract.
    let mut argv = unsafe { ffi::process::Argv::from_c_main(argc, argv) };
    let args = argv.to_vec();
    run_masking(args, &mut |index, offset| argv.mask(index, offset))
}

/// [`run`], calling `mask(index, offset)` for each password argument right after parsing.
fn run_masking(args: Vec<std::ffi::OsString>, mask: &mut dyn FnMut(usize, usize)) -> i32 {
    ffi::term::unbuffer_stdio();
    match cli::parse(args) {
        cli::Parsed::Exit(code) => code,
        cli::Parsed::Run(options) => {
            for &(index, offset) in &options.password_argv {
                mask(index, offset);
            }
            match session::run(&options) {
                Ok(code) => code,
                Err(failure) => {
                    transcript::err(&failure.line());
                    if options.extras.exit_status {
                        failure.stage.exit_code()
                    } else {
                        1
                    }
                }
            }
        }
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

    /// Several such headers of one exchange in a row: the SCRAM `sid` seen first must stay.
    pub fn http_challenges(
        headers: &[&[u8]],
        scheme: &str,
        params: bool,
    ) -> Vec<Result<Option<Vec<u8>>, String>> {
        let mut sid = None;
        headers
            .iter()
            .map(|header| protocol::http::parse_challenge(header, scheme, params, &mut sid))
            .collect()
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

    pub use crate::auth::ReplyLine as SaslReply;

    /// How the SASL exchange of protocol `key` classifies one reply line to a step
    /// (`None` for a protocol without a SASL command).
    pub fn sasl_reply(key: &str, line: &[u8]) -> Option<SaslReply> {
        let framing = protocol::lookup(key)?.sasl.as_ref()?;
        Some(crate::auth::classify_reply(framing, line))
    }

    /// What the relay sends for these stdin reads.
    pub fn stdin_pieces(reads: &[&[u8]]) -> Vec<Vec<u8>> {
        crate::relay::split_stdin(reads)
    }
}
