//! The long options imtest-rs adds to the C tools (`--servername`, `--exit-status`, ...; see
//! the man page). They are taken out of argv before glibc's `getopt_long` sees it, and only
//! when spelled in full: master's options then keep exactly the abbreviations and the
//! ambiguity messages glibc gives them (`--pass` still means `--password`, although
//! `--password-fd` exists). Their values are read and checked here; nothing acts on them.

use crate::ffi::getopt::LongOption;
use crate::ffi::secret::Secret;
use crate::ffi::sys;
use crate::options::{ChannelBinding, Extras, Family, TlsVersion};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

/// Our options: name, whether it takes an argument.
const EXTRAS: [(&str, bool); 29] = [
    ("servername", true),
    ("cafile", true),
    ("capath", true),
    ("verify", false),
    ("no-plaintext-fallback", false),
    ("tls-min", true),
    ("tls-max", true),
    ("ciphers", true),
    ("ciphersuites", true),
    ("show-cert", false),
    ("tls-resume", false),
    ("cb", true),
    ("oauth-token-file", true),
    ("oauth-token-fd", true),
    ("password-fd", true),
    ("password-file", true),
    ("ipv4", false),
    ("ipv6", false),
    ("connect-timeout", true),
    ("read-timeout", true),
    ("unix", true),
    ("haproxy-version", true),
    ("haproxy-source-port", true),
    ("haproxy-dest", true),
    ("haproxy-dest-port", true),
    ("haproxy-tlv", true),
    ("exit-status", false),
    ("help-extras", false),
    ("version", false),
];

/// The environment variable read for the password when no other source is given.
pub const PASSWORD_ENV: &str = "IMTEST_PASSWORD";

/// argv with our options taken out, and what they said.
#[derive(Debug, Default)]
pub struct Split {
    /// argv for getopt (argv[0] first).
    pub remaining: Vec<Vec<u8>>,
    /// For each entry of `remaining`, its index in the original argv.
    pub original_index: Vec<usize>,
    /// (name, argument) in the order given.
    pub found: Vec<(&'static str, Option<Vec<u8>>)>,
    /// glibc-style complaints already printed (missing or unwanted argument): usage follows.
    pub complained: bool,
}

/// Takes our options out of `args`, walking argv the way getopt will (option arguments
/// and everything after `--` are left alone). Complaints go to stderr in glibc's words.
pub fn split(args: &[Vec<u8>], short_options: &str, long: &[LongOption]) -> Split {
    let mut split = Split::default();
    let prog = args.first().cloned().unwrap_or_default();
    let posix = std::env::var_os("POSIXLY_CORRECT").is_some();
    let keep = |split: &mut Split, i: usize| {
        split.remaining.push(args[i].clone());
        split.original_index.push(i);
    };
    if !args.is_empty() {
        keep(&mut split, 0);
    }
    let mut i = 1;
    while i < args.len() {
        let arg = &args[i];
        if arg.as_slice() == b"--" {
            (i..args.len()).for_each(|j| keep(&mut split, j));
            break;
        }
        if let Some(body) = arg.strip_prefix(b"--") {
            let (name, value) = match body.iter().position(|&b| b == b'=') {
                Some(eq) => (&body[..eq], Some(body[eq + 1..].to_vec())),
                None => (body, None),
            };
            if let Some(&(extra, takes_argument)) =
                EXTRAS.iter().find(|(n, _)| n.as_bytes() == name)
            {
                i += 1;
                match (takes_argument, value) {
                    (true, Some(value)) => split.found.push((extra, Some(value))),
                    (true, None) if i < args.len() => {
                        split.found.push((extra, Some(args[i].clone())));
                        i += 1;
                    }
                    (true, None) => {
                        complain(&prog, &format!("option '--{extra}' requires an argument"));
                        split.complained = true;
                    }
                    (false, Some(_)) => {
                        complain(
                            &prog,
                            &format!("option '--{extra}' doesn't allow an argument"),
                        );
                        split.complained = true;
                    }
                    (false, None) => split.found.push((extra, None)),
                }
                continue;
            }
            keep(&mut split, i);
            i += 1;
            if value.is_none() && long_takes_argument(name, long) && i < args.len() {
                keep(&mut split, i);
                i += 1;
            }
            continue;
        }
        keep(&mut split, i);
        i += 1;
        if arg.len() > 1 && arg[0] == b'-' {
            // A cluster of short options: the first that takes an argument ends it, and
            // takes the next word when nothing follows it in this one.
            for (at, &c) in arg.iter().enumerate().skip(1) {
                if short_takes_argument(c, short_options) {
                    if at + 1 == arg.len() && i < args.len() {
                        keep(&mut split, i);
                        i += 1;
                    }
                    break;
                }
            }
        } else if posix {
            (i..args.len()).for_each(|j| keep(&mut split, j));
            break;
        }
    }
    split
}

fn complain(prog: &[u8], text: &str) {
    let line = [prog, b": ", text.as_bytes(), b"\n"].concat();
    crate::transcript::err(&line);
}

fn short_takes_argument(c: u8, short_options: &str) -> bool {
    let spec = short_options.as_bytes();
    c != b':'
        && spec
            .iter()
            .position(|&s| s == c)
            .is_some_and(|at| spec.get(at + 1) == Some(&b':'))
}

/// How glibc resolves `--name` against master's table: an exact name, else the one name it
/// abbreviates. Ambiguous or unknown names take no argument (getopt only complains).
fn long_takes_argument(name: &[u8], long: &[LongOption]) -> bool {
    if let Some(exact) = long.iter().find(|o| o.name.to_bytes() == name) {
        return exact.takes_argument;
    }
    let mut matches = long.iter().filter(|o| o.name.to_bytes().starts_with(name));
    match (matches.next(), matches.next()) {
        (Some(only), None) => only.takes_argument,
        _ => false,
    }
}

/// Whether `--help-extras` was asked for.
pub fn wants_help(split: &Split) -> bool {
    split.found.iter().any(|(name, _)| *name == "help-extras")
}

/// Whether `--version` was given.
pub fn wants_version(split: &Split) -> bool {
    split.found.iter().any(|(name, _)| *name == "version")
}

/// What `--help-extras` prints.
pub const HELP: &str = "\
Options added by imtest-rs (opt-in; spell them in full):
  --servername NAME        : TLS SNI name (also the name --verify checks)
  --verify                 : abort unless the server certificate verifies
  --no-plaintext-fallback  : send no credential unless TLS is up (a refused
                             STARTTLS ends the run); the certificate need not verify
  --cafile FILE            : trust the CAs in FILE (implies --verify)
  --capath DIR             : trust the hashed CA directory DIR (implies --verify)
  --tls-min VERSION        : lowest TLS version (1, 1.1, 1.2, 1.3)
  --tls-max VERSION        : highest TLS version (1, 1.1, 1.2, 1.3)
  --ciphers LIST           : OpenSSL cipher list (TLS 1.2 and below)
  --ciphersuites LIST      : OpenSSL cipher suites (TLS 1.3)
  --show-cert              : print the server's certificate chain
  --tls-resume             : with -n, resume TLS 1.3 sessions too
  --cb TYPE                : channel binding for -PLUS mechanisms: tls-unique,
                             tls-exporter, tls-server-end-point or auto
  --oauth-token-file FILE  : bearer token for XOAUTH2/OAUTHBEARER
  --oauth-token-fd N       : read the bearer token from file descriptor N
  --password-file FILE     : read the password from the first line of FILE
  --password-fd N          : read the password from file descriptor N
                             (or set IMTEST_PASSWORD; less safe)
  -4, --ipv4 / -6, --ipv6  : connect over IPv4 / IPv6 only
  --connect-timeout SECS   : give up connecting after SECS seconds
  --read-timeout SECS      : give up when the server stays silent for SECS seconds
  --unix PATH              : connect to the UNIX-domain socket PATH
  --haproxy-version 1|2    : PROXY header version for -H (default 1)
  --haproxy-source-port N  : source port in the PROXY header
  --haproxy-dest ADDR      : destination address in the PROXY header
  --haproxy-dest-port N    : destination port in the PROXY header
  --haproxy-tlv TYPE=VALUE : add a TLV to a v2 PROXY header (repeatable)
  --exit-status            : exit codes by failure stage (see the man page)
  --help-extras            : this list
";

/// Turns what `split` found into `Extras` (`family` from `-4`/`-6` already set). The
/// password sources are resolved here too: `-w` (given as `password`), `--password-fd`,
/// `--password-file`, then `IMTEST_PASSWORD`. Errors are one line, for `failure: `.
pub fn build(
    found: Vec<(&'static str, Option<Vec<u8>>)>,
    mut extras: Extras,
    password: &mut Option<Secret>,
) -> Result<Extras, String> {
    let mut password_sources = usize::from(password.is_some());
    let mut token_sources = 0;
    for (name, value) in found {
        let value = value.unwrap_or_default();
        let text = || String::from_utf8_lossy(&value).into_owned();
        match name {
            "servername" => extras.servername = Some(non_empty(name, text())?),
            "cafile" => {
                extras.cafile = Some(path(&value));
                extras.verify = true;
            }
            "capath" => {
                extras.capath = Some(path(&value));
                extras.verify = true;
            }
            "verify" => extras.verify = true,
            "no-plaintext-fallback" => extras.no_plaintext_fallback = true,
            "tls-min" => extras.tls_min = Some(tls_version(name, &text())?),
            "tls-max" => extras.tls_max = Some(tls_version(name, &text())?),
            "ciphers" => extras.ciphers = Some(non_empty(name, text())?),
            "ciphersuites" => extras.ciphersuites = Some(non_empty(name, text())?),
            "show-cert" => extras.show_cert = true,
            "tls-resume" => extras.tls_resume = true,
            "cb" => extras.channel_binding = Some(channel_binding(&text())?),
            "oauth-token-file" | "oauth-token-fd" => {
                token_sources += 1;
                let token = read_secret(name, &value)?;
                if token.is_empty() {
                    return Err(format!("--{name}: the token is empty"));
                }
                extras.oauth_token = Some(token);
            }
            "password-fd" | "password-file" => {
                password_sources += 1;
                *password = Some(read_secret(name, &value)?);
            }
            "ipv4" => set_family(&mut extras, Family::V4)?,
            "ipv6" => set_family(&mut extras, Family::V6)?,
            "connect-timeout" => extras.connect_timeout = Some(seconds(name, &text())?),
            "read-timeout" => extras.read_timeout = Some(seconds(name, &text())?),
            "unix" => {
                if value.is_empty() {
                    return Err("--unix: the socket path is empty".into());
                }
                extras.unix = Some(path(&value));
            }
            "haproxy-version" => {
                extras.haproxy_version = match text().as_str() {
                    "1" => 1,
                    "2" => 2,
                    other => return Err(format!("--haproxy-version: '{other}' is not 1 or 2")),
                }
            }
            "haproxy-source-port" => extras.haproxy_source_port = Some(port(name, &text())?),
            "haproxy-dest" => {
                let addr = text();
                extras.haproxy_dest = Some(
                    addr.parse()
                        .map_err(|_| format!("--haproxy-dest: '{addr}' is not an IP address"))?,
                );
            }
            "haproxy-dest-port" => extras.haproxy_dest_port = Some(port(name, &text())?),
            "haproxy-tlv" => extras.haproxy_tlvs.push(tlv(&value)?),
            "exit-status" => extras.exit_status = true,
            _ => {}
        }
    }
    if password_sources > 1 {
        return Err("give the password one way only: -w, --password-fd or --password-file".into());
    }
    if token_sources > 1 {
        return Err("give the token one way only: --oauth-token-file or --oauth-token-fd".into());
    }
    // Taken out of the environment even when another source wins: `/proc/PID/environ` no
    // longer shows it.
    let from_env = crate::ffi::process::take_env(PASSWORD_ENV);
    if password.is_none() {
        *password = from_env;
    }
    Ok(extras)
}

/// Checks between our options and the C tool's; `tls` = `-t` or `-s` given, `haproxy` = `-H`.
pub fn check(
    extras: &Extras,
    tls: bool,
    haproxy: Option<&crate::options::HaProxy>,
) -> Result<(), String> {
    use crate::options::HaProxy;
    if !tls {
        if let Some(name) = extras.wants_tls_option() {
            return Err(format!("{name} needs TLS: give -t or -s as well"));
        }
    }
    if let (Some(min), Some(max)) = (extras.tls_min, extras.tls_max) {
        if min > max {
            return Err("--tls-min is higher than --tls-max".into());
        }
    }
    if extras.unix.is_some() && extras.family.is_some() {
        return Err("--unix cannot be combined with -4/-6".into());
    }
    let haproxy_extras = extras.haproxy_source_port.is_some()
        || extras.haproxy_dest.is_some()
        || extras.haproxy_dest_port.is_some()
        || !extras.haproxy_tlvs.is_empty()
        || extras.haproxy_version == 2;
    if haproxy_extras && haproxy.is_none() {
        return Err("the --haproxy-* options need -H".into());
    }
    if !extras.haproxy_tlvs.is_empty() && extras.haproxy_version != 2 {
        return Err("--haproxy-tlv needs --haproxy-version 2".into());
    }
    if extras.unix.is_some() && matches!(haproxy, Some(HaProxy::ClientIp(_))) {
        let addressed = extras.haproxy_dest.is_some()
            && extras.haproxy_source_port.is_some()
            && extras.haproxy_dest_port.is_some();
        if !addressed {
            return Err("-H ADDRESS over --unix needs --haproxy-dest, --haproxy-source-port and --haproxy-dest-port".into());
        }
    }
    Ok(())
}

fn set_family(extras: &mut Extras, family: Family) -> Result<(), String> {
    match extras.family {
        Some(other) if other != family => Err("-4 and -6 cannot be combined".into()),
        _ => {
            extras.family = Some(family);
            Ok(())
        }
    }
}

fn path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

fn non_empty(name: &str, text: String) -> Result<String, String> {
    if text.is_empty() {
        Err(format!("--{name}: the value is empty"))
    } else {
        Ok(text)
    }
}

fn tls_version(name: &str, text: &str) -> Result<TlsVersion, String> {
    let lower = text.to_ascii_lowercase();
    let number = lower.strip_prefix("tlsv").unwrap_or(&lower);
    match number {
        "1" | "1.0" => Ok(TlsVersion::Tls1_0),
        "1.1" => Ok(TlsVersion::Tls1_1),
        "1.2" => Ok(TlsVersion::Tls1_2),
        "1.3" => Ok(TlsVersion::Tls1_3),
        _ => Err(format!(
            "--{name}: unknown TLS version '{text}' (use 1, 1.1, 1.2 or 1.3)"
        )),
    }
}

fn channel_binding(text: &str) -> Result<ChannelBinding, String> {
    match text.to_ascii_lowercase().as_str() {
        "tls-unique" => Ok(ChannelBinding::TlsUnique),
        "tls-exporter" => Ok(ChannelBinding::TlsExporter),
        "tls-server-end-point" => Ok(ChannelBinding::TlsServerEndPoint),
        "auto" => Ok(ChannelBinding::Auto),
        _ => Err(format!(
            "--cb: unknown channel binding '{text}' (use tls-unique, tls-exporter, tls-server-end-point or auto)"
        )),
    }
}

/// A positive number of seconds, fractions allowed, at most a day.
fn seconds(name: &str, text: &str) -> Result<Duration, String> {
    let bad = || format!("--{name}: '{text}' is not a number of seconds between 0 and 86400");
    let value: f64 = text.trim().parse().map_err(|_| bad())?;
    if !(value > 0.0 && value <= 86400.0) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(value))
}

fn port(name: &str, text: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| format!("--{name}: '{text}' is not a port number (0-65535)"))
}

/// `TYPE=VALUE`: TYPE a number (decimal or 0x..) or a PROXY v2 name; VALUE text, or
/// `0x` followed by hex digits. `ssl` alone means "the client connected over TLS, verified".
fn tlv(arg: &[u8]) -> Result<(u8, Vec<u8>), String> {
    let text = String::from_utf8_lossy(arg).into_owned();
    let (kind, value) = match arg.iter().position(|&b| b == b'=') {
        Some(eq) => (&text[..eq], Some(&arg[eq + 1..])),
        None => (text.as_str(), None),
    };
    let bad = |why: &str| format!("--haproxy-tlv: '{text}': {why}");
    let code = match kind.to_ascii_lowercase().as_str() {
        "alpn" => 0x01,
        "authority" => 0x02,
        "noop" => 0x04,
        "unique-id" => 0x05,
        "ssl" => 0x20,
        "netns" => 0x30,
        other => {
            let parsed = match other.strip_prefix("0x") {
                Some(hex) => u8::from_str_radix(hex, 16),
                None => other.parse(),
            };
            parsed.map_err(|_| bad("TYPE is not a number 0-255 or a known name"))?
        }
    };
    let value = match value {
        // PP2_TYPE_SSL: client flags PP2_CLIENT_SSL, verify result 0 (verified).
        None if code == 0x20 => vec![0x01, 0, 0, 0, 0],
        None => return Err(bad("expected TYPE=VALUE")),
        Some(value) => match value.strip_prefix(b"0x") {
            Some(hex) => hex_bytes(hex).ok_or_else(|| bad("bad hex after 0x"))?,
            None => value.to_vec(),
        },
    };
    if value.len() > 65535 - 16 {
        return Err(bad("VALUE too long"));
    }
    Ok((code, value))
}

fn hex_bytes(hex: &[u8]) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// The first line (without `\n` or `\r\n`) of a file or of an inherited descriptor.
fn read_secret(name: &str, value: &[u8]) -> Result<Secret, String> {
    let shown = String::from_utf8_lossy(value).into_owned();
    let mut bytes = if name.ends_with("-fd") {
        let fd: i32 = shown
            .parse()
            .ok()
            .filter(|fd| *fd >= 0)
            .ok_or_else(|| format!("--{name}: '{shown}' is not a file descriptor number"))?;
        read_first_line_fd(fd).map_err(|e| {
            format!(
                "--{name}: cannot read descriptor {fd}: {}",
                sys::io_error_text(&e)
            )
        })?
    } else {
        std::fs::File::open(OsStr::from_bytes(value))
            .and_then(read_all)
            .map_err(|e| format!("--{name}: cannot read {shown}: {}", sys::io_error_text(&e)))?
    };
    if let Some(end) = bytes.iter().position(|&b| b == b'\n') {
        bytes.truncate(end);
    }
    if bytes.last() == Some(&b'\r') {
        bytes.truncate(bytes.len() - 1);
    }
    Ok(bytes)
}

/// The whole file (a pipe too, as `<(...)` gives), straight into a `Secret`.
fn read_all(mut file: std::fs::File) -> std::io::Result<Secret> {
    use std::io::Read;
    let mut bytes = Secret::default();
    let mut chunk = [0u8; 4096];
    let result = loop {
        match file.read(&mut chunk) {
            Ok(0) => break Ok(()),
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    crate::ffi::memory::wipe(&mut chunk);
    result.map(|()| bytes)
}

/// Reads until the first newline or end of input, a byte at a time: what follows the line
/// stays unread (`--password-fd 0` leaves the rest of stdin for the session).
fn read_first_line_fd(fd: i32) -> std::io::Result<Secret> {
    let mut bytes = Secret::with_capacity(256);
    let mut byte = [0u8; 1];
    while sys::read_fd(fd, &mut byte)? == 1 {
        bytes.push(byte[0]);
        if byte[0] == b'\n' {
            break;
        }
    }
    crate::ffi::memory::wipe(&mut byte);
    Ok(bytes)
}

#[cfg(test)]
mod tests;
