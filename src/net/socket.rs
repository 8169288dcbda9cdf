//! The byte stream under the connection stack: a TCP socket (the C tool's only kind) or,
//! with `--unix`, a UNIX-domain stream socket. TLS and the stack read and write it alike.
//!
//! With `--read-timeout` the socket gets a receive timeout (SO_RCVTIMEO): a read that sees
//! no data for that long fails with `ErrorKind::TimedOut`, and the thread remembers it
//! (`take_timed_out`) so that a TLS handshake, which reports failures its own way, can be
//! told apart from other handshake failures.

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

#[derive(Debug)]
pub enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

thread_local! {
    static TIMED_OUT: Cell<bool> = const { Cell::new(false) };
}

/// Whether a read on this thread ran into the receive timeout since the last call.
pub fn take_timed_out() -> bool {
    TIMED_OUT.with(|flag| flag.replace(false))
}

impl Socket {
    /// Sets (or with `None` clears) the receive timeout.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            Socket::Tcp(tcp) => tcp.set_read_timeout(timeout),
            Socket::Unix(unix) => unix.set_read_timeout(timeout),
        }
    }

    pub fn shutdown(&self, how: Shutdown) -> std::io::Result<()> {
        match self {
            Socket::Tcp(tcp) => tcp.shutdown(how),
            Socket::Unix(unix) => unix.shutdown(how),
        }
    }
}

impl From<TcpStream> for Socket {
    fn from(tcp: TcpStream) -> Socket {
        Socket::Tcp(tcp)
    }
}

impl From<UnixStream> for Socket {
    fn from(unix: UnixStream) -> Socket {
        Socket::Unix(unix)
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let result = match self {
            Socket::Tcp(tcp) => tcp.read(buf),
            Socket::Unix(unix) => unix.read(buf),
        };
        match result {
            // The socket is blocking: EAGAIN can only be the receive timeout expiring.
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                TIMED_OUT.with(|flag| flag.set(true));
                Err(ErrorKind::TimedOut.into())
            }
            other => other,
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Socket::Tcp(tcp) => tcp.write(buf),
            Socket::Unix(unix) => unix.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Socket::Tcp(tcp) => tcp.flush(),
            Socket::Unix(unix) => unix.flush(),
        }
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Socket::Tcp(tcp) => tcp.as_raw_fd(),
            Socket::Unix(unix) => unix.as_raw_fd(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn receive_timeout_is_reported_and_remembered() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut socket = Socket::from(TcpStream::connect(listener.local_addr().unwrap()).unwrap());
        let _peer = listener.accept().unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let _ = take_timed_out();
        let err = socket.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(take_timed_out());
        assert!(!take_timed_out());
    }

    #[test]
    fn unix_sockets_carry_bytes_both_ways() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut a = Socket::from(a);
        a.write_all(b"ping").unwrap();
        let mut got = [0u8; 4];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
        b.write_all(b"pong").unwrap();
        a.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"pong");
    }
}
