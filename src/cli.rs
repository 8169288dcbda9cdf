//! The command line (docs/behaviour.md §2): glibc `getopt_long` over upstream master's option
//! table, then every check the C tool makes before connecting, in its order — protocol, `-s`, `-z`,
//! usage, default port, host name, pid file. It prints its own messages; `main` only gets an exit
//! code.

mod extras;

use crate::bytes::atoi;
use crate::ffi::getopt::{Getopt, LongOption};
use crate::ffi::process;
use crate::ffi::secret::Secret;
use crate::options::{Extras, Family, HaProxy, Options, Output};
use crate::protocol::{self, Kind, Protocol};
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

/// What `main` does after parsing.
pub enum Parsed {
    Run(Box<Options>),
    /// Everything was already printed (usage, getopt complaints, `failure: ...`).
    Exit(i32),
}

/// Master's short options (alphabetical, `-?` first), then our `-4` and `-6`.
const SHORT_OPTIONS: &str = "?H:I:P:X:a:cf:hik:l:m:n:o:p:qr:st:u:vw:x:z46";

/// Master's long options, in master's order (glibc lists ambiguous matches in this order).
/// `-X` has no long form. Our `--version` is not among them: like the other options we add,
/// it is taken only when spelled in full (see `extras`), so `--v` and `--ver` stay
/// `--verbose` as in master.
const LONG_OPTIONS: [LongOption; 23] = [
    long(c"haproxy-clientip", true, b'H'),
    long(c"pidfile", true, b'I'),
    long(c"protocol", true, b'P'),
    long(c"authname", true, b'a'),
    long(c"do-challenge", false, b'c'),
    long(c"input-filename", true, b'f'),
    long(c"help", false, b'h'),
    long(c"no-initial-response", false, b'i'),
    long(c"minssf", true, b'k'),
    long(c"maxssf", true, b'l'),
    long(c"mechanism", true, b'm'),
    long(c"reauth-attempts", true, b'n'),
    long(c"sasl-option", true, b'o'),
    long(c"port", true, b'p'),
    long(c"require-compression", false, b'q'),
    long(c"realm", true, b'r'),
    long(c"require-tls", false, b's'),
    long(c"keyfile", true, b't'),
    long(c"username", true, b'u'),
    long(c"verbose", false, b'v'),
    long(c"password", true, b'w'),
    long(c"output-socket", true, b'x'),
    long(c"run-stress-test", false, b'z'),
];

const fn long(name: &'static std::ffi::CStr, takes_argument: bool, short: u8) -> LongOption {
    LongOption {
        name,
        takes_argument,
        short,
    }
}

/// `failure:` texts (docs/behaviour.md §9.2); a trailing `\n` here gives the C tool's empty line.
const UNKNOWN_PROTOCOL: &str = "unknown protocol\n";
const NOT_SSL_WRAPPABLE: &str = "protocol cannot be SSL-wrapped\n";
const STRESS_IMAP_ONLY: &str = "stress test can only be run for IMAP\n";
const BAD_ROUNDS: &str = "number of auth attempts must be > 0\n";
const FILE_AND_SOCKET: &str = "cannot pipe a file when using unix domain socket output";
const TWO_SOCKETS: &str = "cannot specify both -X and -x";

/// What `--version` prints after the program name.
const VERSION_SUFFIX: &str = concat!(" (imtest-rs) ", env!("CARGO_PKG_VERSION"), "\n");

const NO_HOSTNAME_WARNING: &str = "WARNING: no hostname supplied, assuming localhost\n\n";
/// The C tool keeps the host name in a 1024-byte buffer.
const MAX_HOSTNAME: usize = 1023;

/// Why parsing ended without a run; all but `--version` exit with status 1.
#[derive(Debug)]
enum Stop {
    /// `--version`: stdout `<prog> (imtest-rs) <version>`, status 0.
    Version { prog: Vec<u8> },
    /// stderr `failure: <text>\n`.
    Failure(&'static str),
    /// The usage text on stdout.
    Usage {
        prog: Vec<u8>,
        protocol: &'static Protocol,
    },
    /// stderr `could not open <path> for writing` + `error: <strerror>`.
    PidFile { path: Vec<u8>, errno: i32 },
    /// One of our own options was wrong: stderr `failure: <text>`.
    Extra(String),
    /// `--help-extras`: our options on stdout, status 0.
    HelpExtras,
}

impl Stop {
    fn status(&self) -> i32 {
        match self {
            Stop::Version { .. } | Stop::HelpExtras => 0,
            _ => 1,
        }
    }
}

impl PartialEq for Stop {
    fn eq(&self, other: &Stop) -> bool {
        match (self, other) {
            (Stop::Failure(a), Stop::Failure(b)) => a == b,
            (
                Stop::Usage {
                    prog: a,
                    protocol: p,
                },
                Stop::Usage {
                    prog: b,
                    protocol: q,
                },
            ) => a == b && std::ptr::eq(*p, *q),
            (Stop::PidFile { path: a, errno: e }, Stop::PidFile { path: b, errno: f }) => {
                a == b && e == f
            }
            (Stop::Version { prog: a }, Stop::Version { prog: b }) => a == b,
            (Stop::Extra(a), Stop::Extra(b)) => a == b,
            (Stop::HelpExtras, Stop::HelpExtras) => true,
            _ => false,
        }
    }
}

/// What the option loop saw, still as raw bytes.
#[derive(Debug)]
struct Collected {
    protocol: Option<Vec<u8>>,
    haproxy: Option<Vec<u8>>,
    compress: bool,
    implicit_tls: bool,
    challenge_prompts: bool,
    no_initial_response: bool,
    stress: bool,
    verbose: bool,
    min_ssf: i32,
    max_ssf: i32,
    port: Vec<u8>,
    authzid: Option<Vec<u8>>,
    authname: Option<Vec<u8>>,
    password: Option<Secret>,
    /// Where every `-w` argument sits in argv (index, byte offset), to be masked.
    password_argv: Vec<(usize, usize)>,
    mechanism: Option<Vec<u8>>,
    realm: Option<Vec<u8>>,
    keyfile: Option<Vec<u8>>,
    filename: Option<Vec<u8>>,
    socket: Option<(Vec<u8>, bool)>,
    pidfile: Option<Vec<u8>>,
    rounds: i32,
    sasl_options: Vec<(Vec<u8>, Vec<u8>)>,
    /// `-4`/`-6`.
    family: Option<Family>,
    /// Our long options, as found (see `extras`).
    extras: Vec<(&'static str, Option<Vec<u8>>)>,
    /// `-h`, `-?` or any getopt complaint: usage after the protocol checks.
    usage: bool,
}

impl Default for Collected {
    fn default() -> Self {
        Collected {
            protocol: None,
            haproxy: None,
            compress: false,
            implicit_tls: false,
            challenge_prompts: false,
            no_initial_response: false,
            stress: false,
            verbose: false,
            min_ssf: 0,
            max_ssf: 128,
            port: Vec::new(),
            authzid: None,
            authname: None,
            password: None,
            password_argv: Vec::new(),
            mechanism: None,
            realm: None,
            keyfile: None,
            filename: None,
            socket: None,
            pidfile: None,
            rounds: 1,
            sasl_options: Vec::new(),
            family: None,
            extras: Vec::new(),
            usage: false,
        }
    }
}

/// Parses argv the C tool's way (docs/behaviour.md §2) and runs every check up to the pid file.
pub fn parse(args: Vec<OsString>) -> Parsed {
    match run(args, process::daemonize) {
        Ok(options) => Parsed::Run(Box::new(options)),
        Err(stop) => {
            report(&stop);
            Parsed::Exit(stop.status())
        }
    }
}

/// The usage text for `prog` speaking `protocol` (docs/behaviour.md §2.3).
// Part of the module's interface; `parse` prints the byte form itself.
#[cfg_attr(not(test), allow(dead_code))]
pub fn usage(prog: &str, protocol: &Protocol) -> String {
    String::from_utf8_lossy(&usage_text(prog.as_bytes(), protocol)).into_owned()
}

/// The usage text as bytes (the program name may not be UTF-8).
fn usage_text(prog: &[u8], protocol: &Protocol) -> Vec<u8> {
    let key = protocol.key;
    let mut text = Vec::with_capacity(1500);
    text.extend_from_slice(b"Usage: ");
    text.extend_from_slice(prog);
    text.extend_from_slice(b" [options] hostname\n");
    let mut line = |s: &str| text.extend_from_slice(s.as_bytes());
    line("  -p port  : port to use (default=standard port for protocol)\n");
    if protocol.kind == Kind::Imap {
        line("  -z       : timing test\n");
    }
    line("  -k #     : minimum protection layer required\n");
    line("  -l #     : max protection layer (0=none; 1=integrity; etc)\n");
    line("  -u user  : authorization name to use\n");
    line("  -a user  : authentication name to use\n");
    line("  -w pass  : password to use (if not supplied, we will prompt)\n");
    line("  -v       : verbose\n");
    line("  -m mech  : SASL mechanism to use\n");
    if let Some(hint) = protocol.mech_hint {
        line(hint);
    }
    line("  -f file  : pipe file into connection after authentication\n");
    line("  -r realm : realm\n");
    if protocol.ssl_port.is_some() {
        line(&format!("  -s       : Enable {key} over SSL ({key}s)\n"));
    }
    if protocol.kind != Kind::Mupdate {
        line("  -t file  : Enable TLS. file has the TLS public and private keys\n");
        line("             (specify \"\" to not use TLS for authentication)\n");
    }
    if protocol.compress.is_some() {
        line(&format!(
            "  -q       : Enable {key} COMPRESSion (after authentication)\n"
        ));
    }
    if protocol.lists_haproxy {
        line("  -H ip    : Enable the HAProxy protocol and send the specified client IP address in a v1 header\n");
        line("             If the address is \"unknown\", a v1 header with UNKNOWN protocol will be sent\n");
        line("             If the address is \"local\", a v2 header with LOCAL command will be sent\n");
    }
    line("  -c       : enable challenge prompt callbacks\n");
    line("             (enter one-time password instead of secret pass-phrase)\n");
    line("  -n       : number of auth attempts (default=1)\n");
    line("  -I file  : output my PID to (file) (useful with -X)\n");
    line("  -x file  : open the named socket for the interactive portion\n");
    line("  -X file  : same as -X, except close all file descriptors & daemonize\n");
    text
}

/// Prints what ended the parse, exactly as the C tool does.
fn report(stop: &Stop) {
    match stop {
        Stop::Version { prog } => {
            let mut text = prog.clone();
            text.extend_from_slice(VERSION_SUFFIX.as_bytes());
            write_stdout(&text);
        }
        Stop::Failure(text) => write_stderr(format!("failure: {text}\n").as_bytes()),
        Stop::Usage { prog, protocol } => write_stdout(&usage_text(prog, protocol)),
        Stop::Extra(text) => write_stderr(format!("failure: {text}\n").as_bytes()),
        Stop::HelpExtras => write_stdout(extras::HELP.as_bytes()),
        Stop::PidFile { path, errno } => {
            let mut text = b"could not open ".to_vec();
            text.extend_from_slice(path);
            text.extend_from_slice(b" for writing\n");
            text.extend_from_slice(format!("error: {}\n", process::strerror(*errno)).as_bytes());
            write_stderr(&text);
        }
    }
}

/// The usage text and the other answers go to stdout; a closed stdout is not an error here.
fn write_stdout(bytes: &[u8]) {
    crate::transcript::out(bytes);
}

fn write_stderr(bytes: &[u8]) {
    crate::transcript::err(bytes);
}

/// The whole parse; `daemonize` is what `-X` does the moment it is seen.
fn run(args: Vec<OsString>, daemonize: fn()) -> Result<Options, Stop> {
    let mut args: Vec<Vec<u8>> = args.into_iter().map(OsStringExt::into_vec).collect();
    if args.is_empty() {
        // No argv[0] at all: behave like an unknown program name.
        args.push(Vec::new());
    }
    let mut split = extras::split(&args, SHORT_OPTIONS, &LONG_OPTIONS);
    if extras::wants_help(&split) {
        return Err(Stop::HelpExtras);
    }
    if extras::wants_version(&split) {
        return Err(Stop::Version {
            prog: basename(&args[0]).to_vec(),
        });
    }
    let parsed = {
        let mut getopt = Getopt::new(&split.remaining, SHORT_OPTIONS, &LONG_OPTIONS);
        collect(&mut getopt, daemonize).map(|mut collected| {
            // Password positions back in the caller's argv.
            for (index, _) in &mut collected.password_argv {
                *index = split.original_index[*index];
            }
            collected.usage |= split.complained;
            collected.extras = split.found;
            (collected, getopt.operands())
        })
    };
    let result = parsed.and_then(|(collected, operands)| finish(collected, &args[0], operands));
    // The copies of argv may hold the password.
    for arg in args.iter_mut().chain(&mut split.remaining) {
        crate::ffi::memory::wipe(arg);
    }
    result
}

/// The option loop; the `-n`, `-f`/`-x` and `-x`/`-X` errors and `-X` act at once.
fn collect(getopt: &mut Getopt, daemonize: fn()) -> Result<Collected, Stop> {
    let mut c = Collected::default();
    while let Some(found) = getopt.next_option() {
        let arg = found.argument.unwrap_or_default();
        match found.option {
            b'P' => c.protocol = Some(arg),
            b'H' => c.haproxy = Some(arg),
            b'q' => c.compress = true,
            b's' => c.implicit_tls = true,
            b'c' => c.challenge_prompts = true,
            b'i' => c.no_initial_response = true,
            b'z' => c.stress = true,
            b'v' => c.verbose = true,
            b'k' => c.min_ssf = atoi(&arg),
            b'l' => c.max_ssf = atoi(&arg),
            b'p' => c.port = arg,
            b'u' => c.authzid = Some(arg),
            b'a' => c.authname = Some(arg),
            b'w' => {
                c.password = Some(Secret::new(arg));
                c.password_argv.extend(found.argument_at);
            }
            b'm' => c.mechanism = Some(arg),
            b'f' => {
                if c.socket.is_some() {
                    return Err(Stop::Failure(FILE_AND_SOCKET));
                }
                c.filename = Some(arg);
            }
            b'r' => c.realm = Some(arg),
            b't' => c.keyfile = Some(arg),
            b'n' => {
                c.rounds = atoi(&arg);
                if c.rounds <= 0 {
                    return Err(Stop::Failure(BAD_ROUNDS));
                }
            }
            b'I' => c.pidfile = Some(arg),
            option @ (b'x' | b'X') => {
                if c.filename.is_some() {
                    return Err(Stop::Failure(FILE_AND_SOCKET));
                }
                if c.socket.is_some() {
                    return Err(Stop::Failure(TWO_SOCKETS));
                }
                let daemon = option == b'X';
                c.socket = Some((arg, daemon));
                if daemon {
                    daemonize();
                }
            }
            b'o' => c.sasl_options.push(split_sasl_option(&arg)),
            b'4' => c.family = Some(Family::V4),
            b'6' => c.family = Some(Family::V6),
            _ => c.usage = true,
        }
    }
    Ok(c)
}

/// The checks after the loop, in the C tool's order, then the pid file.
fn finish(c: Collected, argv0: &[u8], operands: Vec<Vec<u8>>) -> Result<Options, Stop> {
    let prog = basename(argv0);
    let key = match c.protocol.as_deref() {
        Some(name) if !name.is_empty() => std::str::from_utf8(name).ok(),
        _ => std::str::from_utf8(prog)
            .ok()
            .and_then(protocol::key_for_program),
    };
    let protocol = key
        .and_then(protocol::lookup)
        .ok_or(Stop::Failure(UNKNOWN_PROTOCOL))?;
    if c.implicit_tls && protocol.ssl_port.is_none() {
        return Err(Stop::Failure(NOT_SSL_WRAPPABLE));
    }
    if c.stress && protocol.kind != Kind::Imap {
        return Err(Stop::Failure(STRESS_IMAP_ONLY));
    }
    if c.usage {
        return Err(Stop::Usage {
            prog: prog.to_vec(),
            protocol,
        });
    }
    let mut c = c;
    let haproxy_kind = c.haproxy.as_deref().map(haproxy);
    let mut password = c.password.take();
    let given = Extras {
        family: c.family,
        haproxy_version: 1,
        ..Extras::default()
    };
    let extras = extras::build(std::mem::take(&mut c.extras), given, &mut password)
        .and_then(|extras| {
            let tls = c.implicit_tls || c.keyfile.is_some();
            extras::check(&extras, tls, haproxy_kind.as_ref()).map(|()| extras)
        })
        .map_err(Stop::Extra)?;
    crate::oauth::check_options(protocol, extras.oauth_token.is_some()).map_err(Stop::Extra)?;

    let port = if !c.port.is_empty() {
        c.port.clone()
    } else if c.implicit_tls {
        protocol
            .ssl_port
            .unwrap_or(protocol.port)
            .as_bytes()
            .to_vec()
    } else {
        protocol.port.as_bytes().to_vec()
    };

    let host = match operands.first() {
        Some(name) => name[..name.len().min(MAX_HOSTNAME)].to_vec(),
        // A UNIX socket needs no host name: no warning.
        None if extras.unix.is_some() => b"localhost".to_vec(),
        None => {
            write_stderr(NO_HOSTNAME_WARNING.as_bytes());
            b"localhost".to_vec()
        }
    };

    if let Some(path) = &c.pidfile {
        write_pidfile(path)?;
    }

    let output = match (c.socket, c.filename) {
        (Some((path, daemon)), _) => Output::Socket {
            path: path_from(path),
            daemon,
        },
        (None, Some(file)) => Output::File(path_from(file)),
        (None, None) => Output::Terminal,
    };

    Ok(Options {
        protocol,
        host,
        port,
        implicit_tls: c.implicit_tls,
        starttls_keyfile: c.keyfile.clone(),
        mechanism: c.mechanism.clone(),
        authname: c.authname.clone(),
        authzid: c.authzid.clone(),
        password,
        password_argv: c.password_argv.clone(),
        realm: c.realm.clone(),
        // The C tool hands these ints to SASL's unsigned ssf fields.
        min_ssf: c.min_ssf as u32,
        max_ssf: c.max_ssf as u32,
        challenge_prompts: c.challenge_prompts,
        no_initial_response: c.no_initial_response,
        sasl_options: c.sasl_options.clone(),
        rounds: c.rounds.unsigned_abs(),
        compress: c.compress,
        stress: c.stress,
        verbose: c.verbose,
        output,
        haproxy: haproxy_kind,
        extras,
    })
}

/// `-I`: our PID in decimal, no newline, file truncated (docs/behaviour.md §2.2). Unlike the C
/// tool, the file's mode is 0644 at most, and a symbolic link at `path` is refused (not followed:
/// one planted there would make us overwrite its target).
fn write_pidfile(path: &[u8]) -> Result<(), Stop> {
    let failed = |e: std::io::Error| match e.raw_os_error() {
        Some(libc::ELOOP) if is_symlink(path) => Stop::Extra(format!(
            "-I: {} is a symbolic link; not writing the pid file through it",
            lossy(path)
        )),
        errno => Stop::PidFile {
            path: path.to_vec(),
            errno: errno.unwrap_or(libc::EIO),
        },
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(OsStr::from_bytes(path))
        .map_err(failed)?;
    // A regular file that was there with a wider mode is narrowed too (through the open
    // descriptor; devices such as /dev/null are left alone). Failing that is not an error.
    if let Ok(meta) = file.metadata() {
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_file() && mode & !0o644 != 0 {
            let _ = file.set_permissions(std::fs::Permissions::from_mode(mode & 0o644));
        }
    }
    // Like the C tool, a failed write after a successful open goes unreported.
    let _ = write!(file, "{}", std::process::id());
    Ok(())
}

fn is_symlink(path: &[u8]) -> bool {
    std::fs::symlink_metadata(OsStr::from_bytes(path)).is_ok_and(|m| m.file_type().is_symlink())
}

/// The text after the last `/` of argv[0].
fn basename(argv0: &[u8]) -> &[u8] {
    match argv0.iter().rposition(|&b| b == b'/') {
        Some(slash) => &argv0[slash + 1..],
        None => argv0,
    }
}

/// A path given on the command line, byte for byte.
fn path_from(bytes: Vec<u8>) -> std::path::PathBuf {
    std::ffi::OsString::from_vec(bytes).into()
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `-H`: `local` and `unknown` are recognised case-insensitively, anything else is an address.
pub(crate) fn haproxy(arg: &[u8]) -> HaProxy {
    if arg.eq_ignore_ascii_case(b"local") {
        HaProxy::Local
    } else if arg.eq_ignore_ascii_case(b"unknown") {
        HaProxy::Unknown
    } else {
        HaProxy::ClientIp(lossy(arg))
    }
}

/// `-o opt[=val]`: split at the first `=`; without one the value is `1`.
fn split_sasl_option(arg: &[u8]) -> (Vec<u8>, Vec<u8>) {
    match arg.iter().position(|&b| b == b'=') {
        Some(eq) => (arg[..eq].to_vec(), arg[eq + 1..].to_vec()),
        None => (arg.to_vec(), b"1".to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{lookup, PROTOCOLS};

    fn no_daemon() {}

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn options(list: &[&str]) -> Options {
        match run(args(list), no_daemon) {
            Ok(options) => options,
            Err(stop) => panic!("{list:?} stopped: {stop:?}"),
        }
    }

    fn stop(list: &[&str]) -> Stop {
        match run(args(list), no_daemon) {
            Ok(options) => panic!("{list:?} did not stop: {options:?}"),
            Err(stop) => stop,
        }
    }

    fn proto(key: &str) -> &'static Protocol {
        lookup(key).expect("known protocol")
    }

    fn usage_stop(prog: &str, key: &str) -> Stop {
        Stop::Usage {
            prog: prog.as_bytes().to_vec(),
            protocol: proto(key),
        }
    }

    #[test]
    fn sasl_option_splits_at_first_equals_and_defaults_to_one() {
        let split = |s: &str| {
            let (k, v) = split_sasl_option(s.as_bytes());
            (lossy(&k), lossy(&v))
        };
        assert_eq!(split("a=b"), ("a".into(), "b".into()));
        assert_eq!(split("a=b=c"), ("a".into(), "b=c".into()));
        assert_eq!(split("flag"), ("flag".into(), "1".into()));
        assert_eq!(split("a="), ("a".into(), "".into()));
        assert_eq!(split("=v"), ("".into(), "v".into()));
        assert_eq!(split(""), ("".into(), "1".into()));
    }

    #[test]
    fn basename_is_text_after_last_slash() {
        assert_eq!(basename(b"/usr/lib/cyrus/bin/imtest"), b"imtest");
        assert_eq!(basename(b"imtest"), b"imtest");
        assert_eq!(basename(b"dir/"), b"");
        assert_eq!(basename(b""), b"");
    }

    #[test]
    fn haproxy_keywords_are_case_insensitive() {
        assert_eq!(haproxy(b"LOCAL"), HaProxy::Local);
        assert_eq!(haproxy(b"Unknown"), HaProxy::Unknown);
        assert_eq!(haproxy(b"10.0.0.1"), HaProxy::ClientIp("10.0.0.1".into()));
        assert_eq!(haproxy(b""), HaProxy::ClientIp(String::new()));
    }

    const IMAP_USAGE: &str = "\
Usage: imtest [options] hostname
  -p port  : port to use (default=standard port for protocol)
  -z       : timing test
  -k #     : minimum protection layer required
  -l #     : max protection layer (0=none; 1=integrity; etc)
  -u user  : authorization name to use
  -a user  : authentication name to use
  -w pass  : password to use (if not supplied, we will prompt)
  -v       : verbose
  -m mech  : SASL mechanism to use
             (\"login\" for IMAP LOGIN)
  -f file  : pipe file into connection after authentication
  -r realm : realm
  -s       : Enable imap over SSL (imaps)
  -t file  : Enable TLS. file has the TLS public and private keys
             (specify \"\" to not use TLS for authentication)
  -q       : Enable imap COMPRESSion (after authentication)
  -H ip    : Enable the HAProxy protocol and send the specified client IP address in a v1 header
             If the address is \"unknown\", a v1 header with UNKNOWN protocol will be sent
             If the address is \"local\", a v2 header with LOCAL command will be sent
  -c       : enable challenge prompt callbacks
             (enter one-time password instead of secret pass-phrase)
  -n       : number of auth attempts (default=1)
  -I file  : output my PID to (file) (useful with -X)
  -x file  : open the named socket for the interactive portion
  -X file  : same as -X, except close all file descriptors & daemonize
";

    const MUPDATE_USAGE: &str = "\
Usage: x [options] hostname
  -p port  : port to use (default=standard port for protocol)
  -k #     : minimum protection layer required
  -l #     : max protection layer (0=none; 1=integrity; etc)
  -u user  : authorization name to use
  -a user  : authentication name to use
  -w pass  : password to use (if not supplied, we will prompt)
  -v       : verbose
  -m mech  : SASL mechanism to use
  -f file  : pipe file into connection after authentication
  -r realm : realm
  -q       : Enable mupdate COMPRESSion (after authentication)
  -c       : enable challenge prompt callbacks
             (enter one-time password instead of secret pass-phrase)
  -n       : number of auth attempts (default=1)
  -I file  : output my PID to (file) (useful with -X)
  -x file  : open the named socket for the interactive portion
  -X file  : same as -X, except close all file descriptors & daemonize
";

    #[test]
    fn usage_for_imap_is_exact() {
        assert_eq!(usage("imtest", proto("imap")), IMAP_USAGE);
    }

    #[test]
    fn usage_for_mupdate_is_exact() {
        assert_eq!(usage("x", proto("mupdate")), MUPDATE_USAGE);
    }

    #[test]
    fn usage_lines_depend_on_protocol() {
        let has = |key: &str, needle: &str| usage("p", proto(key)).contains(needle);
        for p in &PROTOCOLS {
            let text = usage("p", p);
            assert!(
                text.starts_with("Usage: p [options] hostname\n"),
                "{}",
                p.key
            );
            assert!(text.ends_with("daemonize\n"), "{}", p.key);
            assert_eq!(text.contains("-z       :"), p.key == "imap", "{}", p.key);
            assert_eq!(text.contains("-t file"), p.key != "mupdate", "{}", p.key);
            let haproxy = ["imap", "pop3", "smtp", "http", "sieve"].contains(&p.key);
            assert_eq!(
                text.matches("HAProxy").count() + text.matches("header with").count(),
                if haproxy { 3 } else { 0 },
                "{}",
                p.key
            );
            let ssl = ["imap", "pop3", "smtp", "http", "nntp"].contains(&p.key);
            assert_eq!(
                text.contains(&format!(
                    "-s       : Enable {} over SSL ({}s)\n",
                    p.key, p.key
                )),
                ssl,
                "{}",
                p.key
            );
            let compress = ["imap", "mupdate", "csync", "nntp"].contains(&p.key);
            assert_eq!(
                text.contains(&format!("-q       : Enable {} COMPRESSion", p.key)),
                compress,
                "{}",
                p.key
            );
        }
        assert!(has(
            "pop3",
            "             (\"user\" for USER/PASS, \"apop\" for APOP)\n"
        ));
        assert!(has(
            "http",
            "             (\"basic\", \"digest\", \"negotiate\", \"ntlm\")\n"
        ));
        assert!(has(
            "nntp",
            "             (\"user\" for AUTHINFO USER/PASS\n"
        ));
        assert!(!has("smtp", "SASL mechanism to use\n             ("));
        // The -H block sits between -q/-t and -c.
        let imap = usage("p", proto("imap"));
        let order: Vec<usize> = ["  -q ", "  -H ", "  -c "]
            .iter()
            .map(|l| imap.find(l).unwrap_or(0))
            .collect();
        assert!(order[0] < order[1] && order[1] < order[2]);
    }

    #[test]
    fn defaults() {
        let o = options(&["/x/imtest", "host"]);
        assert_eq!(o.protocol.kind, Kind::Imap);
        assert_eq!(o.host, b"host");
        assert_eq!(o.port, b"imap");
        assert!(!o.implicit_tls && !o.challenge_prompts && !o.no_initial_response);
        assert!(!o.compress && !o.stress && !o.verbose);
        assert_eq!(o.starttls_keyfile, None);
        assert_eq!(o.mechanism, None);
        assert_eq!(o.authname, None);
        assert_eq!(o.authzid, None);
        assert_eq!(o.password, None);
        assert_eq!(o.realm, None);
        assert_eq!((o.min_ssf, o.max_ssf, o.rounds), (0, 128, 1));
        assert!(o.sasl_options.is_empty());
        assert_eq!(o.output, Output::Terminal);
        assert_eq!(o.haproxy, None);
    }

    #[test]
    fn every_short_option_lands_in_its_field() {
        let o = options(&[
            "imtest", "-H", "1.2.3.4", "-P", "imap", "-a", "an", "-c", "-f", "file", "-i", "-k",
            "3", "-l", "56", "-m", "PLAIN", "-n", "4", "-o", "k=v", "-o", "flag", "-p", "1143",
            "-q", "-r", "realm", "-s", "-t", "key.pem", "-u", "user", "-v", "-w", "pw", "-z",
            "server",
        ]);
        assert_eq!(o.haproxy, Some(HaProxy::ClientIp("1.2.3.4".into())));
        assert_eq!(o.authname.as_deref(), Some(&b"an"[..]));
        assert!(o.challenge_prompts);
        assert_eq!(o.output, Output::File("file".into()));
        assert!(o.no_initial_response);
        assert_eq!((o.min_ssf, o.max_ssf, o.rounds), (3, 56, 4));
        assert_eq!(o.mechanism.as_deref(), Some(&b"PLAIN"[..]));
        assert_eq!(
            o.sasl_options,
            [
                (b"k".to_vec(), b"v".to_vec()),
                (b"flag".to_vec(), b"1".to_vec())
            ]
        );
        assert_eq!(o.port, b"1143");
        assert!(o.compress && o.implicit_tls && o.verbose && o.stress);
        assert_eq!(o.realm.as_deref(), Some(&b"realm"[..]));
        assert_eq!(o.starttls_keyfile.as_deref(), Some(&b"key.pem"[..]));
        assert_eq!(o.authzid.as_deref(), Some(&b"user"[..]));
        assert_eq!(o.password.as_deref(), Some(&b"pw"[..]));
        assert_eq!(o.host, b"server");
    }

    #[test]
    fn every_long_option_lands_in_its_field() {
        let o = options(&[
            "imtest",
            "--haproxy-clientip=local",
            "--protocol",
            "imap",
            "--authname=an",
            "--do-challenge",
            "--input-filename",
            "file",
            "--no-initial-response",
            "--minssf=3",
            "--maxssf",
            "56",
            "--mechanism=PLAIN",
            "--reauth-attempts=4",
            "--sasl-option",
            "k=v",
            "--port=1143",
            "--require-compression",
            "--realm=realm",
            "--require-tls",
            "--keyfile=",
            "--username=user",
            "--verbose",
            "--password=pw",
            "--run-stress-test",
            "server",
        ]);
        assert_eq!(o.haproxy, Some(HaProxy::Local));
        assert_eq!(o.authname.as_deref(), Some(&b"an"[..]));
        assert!(o.challenge_prompts);
        assert_eq!(o.output, Output::File("file".into()));
        assert!(o.no_initial_response);
        assert_eq!((o.min_ssf, o.max_ssf, o.rounds), (3, 56, 4));
        assert_eq!(o.mechanism.as_deref(), Some(&b"PLAIN"[..]));
        assert_eq!(o.sasl_options, [(b"k".to_vec(), b"v".to_vec())]);
        assert_eq!(o.port, b"1143");
        assert!(o.compress && o.implicit_tls && o.verbose && o.stress);
        assert_eq!(o.realm.as_deref(), Some(&b"realm"[..]));
        assert_eq!(o.starttls_keyfile.as_deref(), Some(&b""[..]));
        assert_eq!(o.authzid.as_deref(), Some(&b"user"[..]));
        assert_eq!(o.password.as_deref(), Some(&b"pw"[..]));
        assert_eq!(o.host, b"server");

        let o = options(&[
            "imtest",
            "--output-socket=/tmp/s",
            "--haproxy-clientip",
            "UNKNOWN",
            "h",
        ]);
        assert_eq!(
            o.output,
            Output::Socket {
                path: "/tmp/s".into(),
                daemon: false
            }
        );
        assert_eq!(o.haproxy, Some(HaProxy::Unknown));
    }

    #[test]
    fn abbreviations_clusters_and_permutation() {
        let o = options(&[
            "imtest", "host", "--verb", "--po=7", "-vcik5", "--mech", "X", "other",
        ]);
        assert!(o.verbose && o.challenge_prompts && o.no_initial_response);
        assert_eq!(o.min_ssf, 5);
        assert_eq!(o.port, b"7");
        assert_eq!(o.mechanism.as_deref(), Some(&b"X"[..]));
        assert_eq!(o.host, b"host");
        let o = options(&["imtest", "-p1", "--", "-v"]);
        assert_eq!(o.host, b"-v");
        assert!(!o.verbose);
    }

    #[test]
    fn version_is_long_only_and_acts_at_once() {
        let version = |prog: &str| Stop::Version {
            prog: prog.as_bytes().to_vec(),
        };
        assert_eq!(stop(&["imtest", "--version"]), version("imtest"));
        assert_eq!(
            stop(&["/usr/lib/cyrus/bin/sivtest", "h", "--version"]),
            version("sivtest")
        );
        // Taken before the options are read (like --help-extras), so any name works and
        // nothing else is looked at; an option's argument is not an option.
        assert_eq!(
            stop(&["cyrus-imtest", "--version", "-n", "0"]),
            version("cyrus-imtest")
        );
        assert_eq!(stop(&["imtest", "-n", "0", "--version"]), version("imtest"));
        assert_eq!(options(&["imtest", "-w", "--version", "h"]).host, b"h");
        // `-V` is not in the C option string; `--version=1` is not spelled as ours.
        for bad in ["-V", "--version=1"] {
            assert_eq!(
                stop(&["imtest", bad]),
                usage_stop("imtest", "imap"),
                "{bad}"
            );
        }
        // Master's abbreviations stay: `--v`, `--ver` are `--verbose`; `--vers` is nothing.
        assert_eq!(stop(&["imtest", "--vers"]), usage_stop("imtest", "imap"));
        for short in ["--v", "--ver", "--verb"] {
            assert!(options(&["imtest", short, "h"]).verbose, "{short}");
        }
        assert!(options(&["imtest", "--verb", "h"]).verbose);
        assert_eq!(
            VERSION_SUFFIX,
            format!(" (imtest-rs) {}\n", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn long_port_is_the_same_as_short() {
        let a = options(&["imtest", "--port=1", "127.0.0.1"]);
        let b = options(&["imtest", "-p", "1", "127.0.0.1"]);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    #[test]
    fn socket_options() {
        let o = options(&["imtest", "-x", "/tmp/s", "h"]);
        assert_eq!(
            o.output,
            Output::Socket {
                path: "/tmp/s".into(),
                daemon: false
            }
        );
        let o = options(&["imtest", "-X", "/tmp/d", "h"]);
        assert_eq!(
            o.output,
            Output::Socket {
                path: "/tmp/d".into(),
                daemon: true
            }
        );
    }

    #[test]
    fn later_values_replace_earlier_ones() {
        let o = options(&[
            "imtest", "-p", "1", "-p", "2", "-f", "a", "-f", "b", "-m", "x", "-m", "y", "h",
        ]);
        assert_eq!(o.port, b"2");
        assert_eq!(o.output, Output::File("b".into()));
        assert_eq!(o.mechanism.as_deref(), Some(&b"y"[..]));
    }

    #[test]
    fn ssf_values_use_atoi_and_wrap_like_c() {
        let o = options(&["imtest", "-k", "abc", "-l", "-1", "h"]);
        assert_eq!((o.min_ssf, o.max_ssf), (0, u32::MAX));
        let o = options(&["imtest", "-n", "4294967297", "h"]);
        assert_eq!(o.rounds, 1);
        let o = options(&["imtest", "-n", " 3x", "h"]);
        assert_eq!(o.rounds, 3);
    }

    #[test]
    fn ports_default_per_protocol_and_ssl() {
        let port = |list: &[&str]| String::from_utf8(options(list).port.clone()).unwrap();
        assert_eq!(port(&["imtest", "h"]), "imap");
        assert_eq!(port(&["imtest", "-s", "h"]), "imaps");
        assert_eq!(port(&["imtest", "-p", "", "h"]), "imap");
        assert_eq!(port(&["imtest", "-p", "", "-s", "h"]), "imaps");
        assert_eq!(port(&["imtest", "-s", "-p", "99", "h"]), "99");
        assert_eq!(port(&["pop3test", "-s", "h"]), "pop3s");
        assert_eq!(port(&["smtptest", "-s", "h"]), "smtps");
        assert_eq!(port(&["httptest", "-s", "h"]), "https");
        assert_eq!(port(&["nntptest", "-s", "h"]), "nntps");
        assert_eq!(port(&["lmtptest", "h"]), "lmtp");
        assert_eq!(port(&["sivtest", "h"]), "sieve");
        assert_eq!(port(&["synctest", "h"]), "csync");
        assert_eq!(port(&["mupdatetest", "h"]), "mupdate");
    }

    #[test]
    fn protocol_from_name_or_dash_p() {
        let kind = |list: &[&str]| options(list).protocol.kind;
        assert_eq!(kind(&["/a/b/SIVTEST", "h"]), Kind::Sieve);
        assert_eq!(kind(&["imtest", "-P", "POP3", "h"]), Kind::Pop3);
        assert_eq!(kind(&["synctest", "-P", "", "h"]), Kind::Csync);
        assert_eq!(kind(&["cyrus-imtest", "-P", "nntp", "h"]), Kind::Nntp);
        assert_eq!(
            stop(&["cyrus-imtest", "h"]),
            Stop::Failure(UNKNOWN_PROTOCOL)
        );
        assert_eq!(
            stop(&["imtest", "-P", "bogus", "-h"]),
            Stop::Failure(UNKNOWN_PROTOCOL)
        );
        assert_eq!(stop(&[]), Stop::Failure(UNKNOWN_PROTOCOL));
    }

    #[test]
    fn checks_run_in_the_c_order() {
        assert_eq!(
            stop(&["lmtptest", "-s", "-z", "-h"]),
            Stop::Failure(NOT_SSL_WRAPPABLE)
        );
        assert_eq!(
            stop(&["sivtest", "-z", "-h"]),
            Stop::Failure(STRESS_IMAP_ONLY)
        );
        assert_eq!(stop(&["imtest", "-z", "-Z"]), usage_stop("imtest", "imap"));
        assert_eq!(stop(&["/p/pop3test", "-?"]), usage_stop("pop3test", "pop3"));
        assert_eq!(stop(&["imtest", "--help"]), usage_stop("imtest", "imap"));
        assert_eq!(stop(&["imtest", "-p"]), usage_stop("imtest", "imap"));
        assert_eq!(
            stop(&["imtest", "--verbose=1", "h"]),
            usage_stop("imtest", "imap")
        );
        assert_eq!(stop(&["imtest", "--re", "h"]), usage_stop("imtest", "imap"));
        assert_eq!(
            stop(&["imtest", "-P", "sieve", "-s"]),
            Stop::Failure(NOT_SSL_WRAPPABLE)
        );
    }

    #[test]
    fn immediate_failures_while_parsing() {
        assert_eq!(stop(&["imtest", "-n", "0"]), Stop::Failure(BAD_ROUNDS));
        assert_eq!(stop(&["imtest", "-n", "abc"]), Stop::Failure(BAD_ROUNDS));
        assert_eq!(
            stop(&["imtest", "-n", "99999999999999999999", "-h"]),
            Stop::Failure(BAD_ROUNDS)
        );
        assert_eq!(
            stop(&["nobody", "-n", "-1", "-P", "bogus"]),
            Stop::Failure(BAD_ROUNDS)
        );
        assert_eq!(
            stop(&["imtest", "-f", "x", "-x", "y"]),
            Stop::Failure(FILE_AND_SOCKET)
        );
        assert_eq!(
            stop(&["imtest", "-x", "y", "-f", "x"]),
            Stop::Failure(FILE_AND_SOCKET)
        );
        assert_eq!(
            stop(&["imtest", "-f", "", "-x", ""]),
            Stop::Failure(FILE_AND_SOCKET)
        );
        assert_eq!(
            stop(&["imtest", "-x", "a", "-x", "b"]),
            Stop::Failure(TWO_SOCKETS)
        );
        assert_eq!(
            stop(&["imtest", "-x", "a", "-X", "b"]),
            Stop::Failure(TWO_SOCKETS)
        );
        assert_eq!(
            stop(&["imtest", "-X", "a", "-f", "b"]),
            Stop::Failure(FILE_AND_SOCKET)
        );
    }

    #[test]
    fn host_is_first_operand_truncated_or_localhost() {
        assert_eq!(options(&["imtest"]).host, b"localhost");
        assert_eq!(options(&["imtest", "a", "b"]).host, b"a");
        let long = "h".repeat(2000);
        assert_eq!(options(&["imtest", &long]).host.len(), MAX_HOSTNAME);
    }

    #[test]
    fn non_utf8_arguments_do_not_panic() {
        use std::os::unix::ffi::OsStringExt;
        let o = match run(
            vec![
                OsString::from("imtest"),
                OsString::from_vec(b"-w\xff\xfe".to_vec()),
                OsString::from_vec(b"h\xe9".to_vec()),
            ],
            no_daemon,
        ) {
            Ok(o) => o,
            Err(stop) => panic!("{stop:?}"),
        };
        assert_eq!(o.password.as_deref(), Some(&b"\xff\xfe"[..]));
        assert_eq!(o.host, b"h\xe9", "the host keeps its bytes");
        assert_eq!(
            run(
                vec![
                    OsString::from_vec(b"/x/\xff".to_vec()),
                    OsString::from("-h")
                ],
                no_daemon
            )
            .err(),
            Some(Stop::Failure(UNKNOWN_PROTOCOL))
        );
    }

    fn temp_path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("imtest-cli-unit-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        dir.join(name)
    }

    #[test]
    fn pidfile_gets_pid_without_newline() {
        let path = temp_path("pid");
        std::fs::write(&path, "old contents that are longer").expect("prepare pid file");
        let path_str = path.to_str().expect("utf-8 temp path");
        options(&["imtest", "-I", path_str, "h"]);
        let written = std::fs::read_to_string(&path).expect("pid file");
        assert_eq!(written, std::process::id().to_string());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn pidfile_failure_carries_errno() {
        assert_eq!(
            stop(&["imtest", "-I", "/nonexistent/dir/pid", "h"]),
            Stop::PidFile {
                path: b"/nonexistent/dir/pid".to_vec(),
                errno: libc::ENOENT
            }
        );
        // Usage wins over the pid file.
        assert_eq!(
            stop(&["imtest", "-I", "/nonexistent/dir/pid", "-h"]),
            usage_stop("imtest", "imap")
        );
    }
}
