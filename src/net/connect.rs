//! Name resolution and the TCP connect of one round (spec §3.1).

use crate::error::{Failure, Result};
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
/// connects to the first address that answers.
pub fn connect(host: &str, port: &str) -> Result<Connected> {
    let cannot_connect = |name: &str| {
        Failure::new(format!(
            "Network initialization - cannot connect to {name}:{port}"
        ))
    };
    let resolved = match sys::resolve(host.as_bytes(), port.as_bytes()) {
        Ok(resolved) => resolved,
        Err(text) => {
            transcript::err(format!("getaddrinfo: {text}\n").as_bytes());
            return Err(cannot_connect(host));
        }
    };
    let name = match resolved.canonical_name {
        Some(canonical) => truncate_utf8(canonical, 1023),
        None => host.to_string(),
    };
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
    Err(cannot_connect(&name))
}

fn truncate_utf8(mut text: String, max: usize) -> String {
    while text.len() > max {
        text.pop();
    }
    text
}
