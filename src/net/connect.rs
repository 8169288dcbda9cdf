//! Name resolution and the TCP connect of one round (spec §3.1).

use crate::error::{Failure, Result, Stage};
use crate::ffi::sys;
use crate::transcript;
use std::net::{SocketAddr, TcpStream};

pub struct Connected {
    pub tcp: TcpStream,
    /// The canonical name when the resolver gave one, else the name as given.
    pub host: String,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// `<numeric-ip>;<port>`, the form libsasl2 takes for local/remote addresses.
pub fn ip_semicolon_port(addr: &SocketAddr) -> String {
    format!("{};{}", addr.ip(), addr.port())
}

/// Resolves `host`/`port` (port is a service name or number, passed verbatim) and
/// connects to the first address that answers. The host is bytes as given on the command
/// line; failure messages quote it unchanged, as the C tool does.
pub fn connect(host: &[u8], port: &[u8]) -> Result<Connected> {
    let cannot_connect = |name: &[u8]| {
        let message = [
            b"Network initialization - cannot connect to ",
            name,
            b":",
            port,
        ];
        Failure::bytes(message.concat(), Stage::Connect)
    };
    let resolved = match sys::resolve(host, port) {
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
        match TcpStream::connect(addr) {
            Ok(tcp) => {
                let (Ok(local), Ok(remote)) = (tcp.local_addr(), tcp.peer_addr()) else {
                    return Err(Failure::new("SASL initialization"));
                };
                return Ok(Connected {
                    tcp,
                    host: name,
                    local,
                    remote,
                });
            }
            Err(err) => last_error = Some(err),
        }
    }
    let text = match last_error {
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
