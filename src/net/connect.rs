//! Name resolution and the connect of one round (docs/behaviour.md §3.1): TCP as the C tool does
//! it, restricted by `-4`/`-6` and bounded by `--connect-timeout` when those are given, or a
//! UNIX-domain socket with `--unix`.

use super::socket::Socket;
use crate::error::{Failure, Result, Stage};
use crate::ffi::sys::{self, AddressFamily};
use crate::options::{Family, Options};
use crate::transcript;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

pub struct Connected {
    pub socket: Socket,
    /// The canonical name when the resolver gave one, else the name as given.
    pub host: String,
    /// This end's and the server's TCP address; `None` over a UNIX-domain socket.
    pub ends: Option<(SocketAddr, SocketAddr)>,
}

/// Connects as the options say: `--unix PATH`, or host and port over TCP.
pub fn open(options: &Options) -> Result<Connected> {
    let extras = &options.extras;
    if let Some(path) = &extras.unix {
        return connect_unix(path, &options.host);
    }
    let family = match extras.family {
        None => AddressFamily::Any,
        Some(Family::V4) => AddressFamily::Inet,
        Some(Family::V6) => AddressFamily::Inet6,
    };
    connect(&options.host, &options.port, family, extras.connect_timeout)
}

/// `--unix`: the socket at `path`; `host` is the server name for SASL.
fn connect_unix(path: &Path, host: &[u8]) -> Result<Connected> {
    match UnixStream::connect(path) {
        Ok(unix) => Ok(Connected {
            socket: unix.into(),
            host: String::from_utf8_lossy(host).into_owned(),
            ends: None,
        }),
        Err(err) => {
            let text = sys::io_error_text(&err);
            transcript::err(format!("connect: {text}\n").as_bytes());
            let message = [
                b"Network initialization - cannot connect to ",
                path.as_os_str().as_bytes(),
            ];
            Err(Failure::bytes(message.concat(), Stage::Connect))
        }
    }
}

/// `<numeric-ip>;<port>`, the form libsasl2 takes for local/remote addresses.
pub fn ip_semicolon_port(addr: &SocketAddr) -> String {
    format!("{};{}", addr.ip(), addr.port())
}

/// Resolves `host`/`port` (port is a service name or number, passed verbatim) and
/// connects to the first address that answers, giving each at most `timeout` when set. The
/// host is bytes as given on the command line; failure messages quote it unchanged, as the
/// C tool does.
pub fn connect(
    host: &[u8],
    port: &[u8],
    family: AddressFamily,
    timeout: Option<Duration>,
) -> Result<Connected> {
    let cannot_connect = |name: &[u8]| {
        let message = [
            b"Network initialization - cannot connect to ",
            name,
            b":",
            port,
        ];
        Failure::bytes(message.concat(), Stage::Connect)
    };
    let resolved = match sys::resolve(host, port, family) {
        Ok(resolved) => resolved,
        Err(text) => {
            transcript::err(format!("getaddrinfo: {text}\n").as_bytes());
            return Err(cannot_connect(host));
        }
    };
    let canonical = resolved
        .canonical_name
        .map(|name| truncate_utf8(name, 1023));
    let name = canonical
        .clone()
        .unwrap_or_else(|| String::from_utf8_lossy(host).into_owned());
    let mut last_error = None;
    for addr in &resolved.addresses {
        let attempt = match timeout {
            Some(timeout) => TcpStream::connect_timeout(addr, timeout),
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(tcp) => {
                let (Ok(local), Ok(remote)) = (tcp.local_addr(), tcp.peer_addr()) else {
                    return Err(Failure::new("SASL initialization"));
                };
                return Ok(Connected {
                    socket: tcp.into(),
                    host: name,
                    ends: Some((local, remote)),
                });
            }
            Err(err) => last_error = Some(err),
        }
    }
    let text = match last_error {
        // std's own connect timeout carries no errno: it is the kernel's ETIMEDOUT.
        Some(err) if err.kind() == std::io::ErrorKind::TimedOut && err.raw_os_error().is_none() => {
            sys::strerror(libc::ETIMEDOUT)
        }
        Some(err) => sys::io_error_text(&err),
        None => sys::strerror(libc::EADDRNOTAVAIL),
    };
    transcript::err(format!("connect: {text}\n").as_bytes());
    // The name as the resolver returned it, or the bytes given on the command line.
    Err(cannot_connect(
        canonical.as_deref().map_or(host, str::as_bytes),
    ))
}

fn truncate_utf8(mut text: String, max: usize) -> String {
    while text.len() > max {
        text.pop();
    }
    text
}
