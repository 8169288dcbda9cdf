//! imtest and its siblings as a library: the whole tool behind [`run`], plus [`parsers`], a
//! small door to the functions that read server data, for the fuzz targets. The binary
//! (`src/main.rs`) only calls [`run_process`].
//!
//! `unsafe` is allowed in `src/ffi/` alone (the thin wrappers around C libraries) and in the
//! binary's C `main`; the compiler holds the rest of the crate to that.
#![deny(unsafe_code)]

mod auth;
mod bytes;
mod capabilities;
mod cli;
mod error;
#[allow(unsafe_code)]
mod ffi;
mod net;
mod oauth;
mod options;
mod prompt;
mod protocol;
mod relay;
mod replies;
mod session;
mod socket_mode;
mod stress;

mod transcript;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

/// Runs the tool with these arguments (argv[0] first) and returns the exit status: the
/// command line, the session, and the one fatal error turned into the C tool's
/// `failure: ...` line.
pub fn run(args: Vec<std::ffi::OsString>) -> i32 {
    run_masking(args, &mut |_, _| {})
}

/// The process's own argv (its strings are what `/proc/PID/cmdline` shows); the binary's C
/// `main` takes it from the C runtime and hands it to [`run_process`].
pub use ffi::process::Argv;

/// The binary's entry, behind its C `main`: std's usual start-up, the process made
/// non-dumpable (before any secret is read), then [`run`] over the
/// process's own argv, where the password argument of `-w`/`--password` is overwritten with
/// `x` once the command line is parsed (so `/proc/PID/cmdline` and `ps` no longer show it).
pub fn run_process(mut argv: Argv) -> i32 {
    ffi::process::start_like_std();
    ffi::process::forbid_dumps();
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
            let outcome = session::run(&options).and_then(|connected| {
                let code = after_login(&options, connected.stack)?;
                Ok((code, connected.auth_failed))
            });
            exit_status(&options, outcome)
        }
    }
}

/// What follows the last round: the stress test (`-z`), socket mode (`-x`/`-X`), or the
/// relay of the terminal or the `-f` file.
fn after_login(options: &options::Options, mut stack: net::stack::Stack) -> error::Result<i32> {
    if options.stress {
        return stress::run(&mut stack);
    }
    match &options.output {
        options::Output::Terminal => relay::run(options, stack, None),
        options::Output::File(path) => relay::run(options, stack, Some(path)),
        options::Output::Socket { path, .. } => {
            let logout = options.protocol.logout.map(|l| l.command);
            socket_mode::run(options.protocol.kind, logout, stack, path)
        }
    }
}

/// The exit status of a session: its own code, or the one fatal error printed as the C
/// tool's `failure: ...` line (status 1). With `--exit-status`, each failure says its stage,
/// and a failed authentication the C tool would carry on after still shows in the status.
fn exit_status(options: &options::Options, outcome: error::Result<(i32, bool)>) -> i32 {
    let exit_status = options.extras.exit_status;
    match outcome {
        Ok((0, true)) if exit_status => error::Stage::Auth.exit_code(),
        Ok((code, _)) => code,
        Err(failure) => {
            transcript::err(&failure.line());
            if exit_status {
                failure.stage.exit_code()
            } else {
                1
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
        crate::auth::pop3::apop_challenge(line)
    }

    /// An HTTP `WWW-Authenticate:`/`Authentication-Info:` header for `scheme`.
    pub fn http_challenge(
        header: &[u8],
        scheme: &str,
        params: bool,
    ) -> Result<Option<Vec<u8>>, String> {
        let mut sid = None;
        crate::auth::http::parse_challenge(header, scheme, params, &mut sid)
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
            .map(|header| crate::auth::http::parse_challenge(header, scheme, params, &mut sid))
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

    pub use crate::auth::exchange::ReplyLine as SaslReply;

    /// How the SASL exchange of protocol `key` classifies one reply line to a step
    /// (`None` for a protocol without a SASL command).
    pub fn sasl_reply(key: &str, line: &[u8]) -> Option<SaslReply> {
        let framing = protocol::lookup(key)?.sasl.as_ref()?;
        Some(crate::auth::exchange::classify_reply(framing, line))
    }

    /// What the relay sends for these stdin reads.
    pub fn stdin_pieces(reads: &[&[u8]]) -> Vec<Vec<u8>> {
        crate::relay::split_stdin(reads)
    }
}
