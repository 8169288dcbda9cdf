//! `-x path` / `-X path` (docs/behaviour.md §8.3): the interactive part goes through a listening
//! UNIX socket. Clients come one after another; IMAP and SMTP/LMTP clients' data passes a line
//! filter that swallows LOGOUT/QUIT, and after each client the server session is reset
//! (IMAP `UN0 UNSELECT`, SMTP `RSET`) so the next client finds it unselected. Other
//! protocols end with their first client.

use crate::bytes::starts_with_ci;
use crate::error::{Failure, Result};
use crate::ffi::{process, sys};
use crate::net::stack::{ReadError, Stack};
use crate::protocol::Kind;
use crate::replies;
use crate::transcript;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// How long to wait for the next client.
const ACCEPT_TIMEOUT_MS: i32 = 600_000;
const CLIENT_READ: usize = 2048;
const SERVER_READ: usize = 2047;

/// The listening socket file, removed at the end only if it is still ours.
struct SocketFile {
    path: PathBuf,
    inode: u64,
}

impl SocketFile {
    fn remove_if_ours(&self) {
        if std::fs::metadata(&self.path).is_ok_and(|m| m.ino() == self.inode) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// How one client's session ended.
enum ClientEnd {
    /// Disconnected or sent LOGOUT/QUIT: reset the server and take the next client.
    Next,
    /// Ctrl-C, an unresettable state, or a protocol without reset: clean up and exit.
    CleanUp,
    /// The server closed: exit without removing the socket file.
    ServerClosed,
}

pub fn run(kind: Kind, logout: Option<&str>, mut stack: Stack, path: &Path) -> Result<i32> {
    let _ = std::fs::remove_file(path);
    // Owner-only (0600) whatever the umask: whoever can connect drives the session.
    let listener = process::with_umask(0o177, || UnixListener::bind(path))
        .map_err(|_| Failure::new("could not bind output socket"))?;
    let inode = std::fs::metadata(path)
        .map_err(|_| Failure::new("could not stat output socket"))?
        .ino();
    let file = SocketFile {
        path: path.to_path_buf(),
        inode,
    };
    let result = serve(kind, &mut stack, &listener);
    match result {
        Ok(ClientEnd::ServerClosed) => Ok(0),
        Ok(_) => {
            drop(listener);
            file.remove_if_ours();
            if let Some(logout) = logout {
                transcript::client_line(logout.as_bytes());
                let _ = stack.send(format!("{logout}\r\n").as_bytes());
            }
            stack.close();
            transcript::message("Connection closed.");
            Ok(0)
        }
        Err(failure) => {
            file.remove_if_ours();
            Err(failure)
        }
    }
}

fn serve(kind: Kind, stack: &mut Stack, listener: &UnixListener) -> Result<ClientEnd> {
    // Ctrl-C is only caught once the first client was accepted (before that it kills).
    let mut sigint: Option<i32> = None;
    loop {
        let mut fds = vec![listener.as_raw_fd()];
        fds.extend(sigint);
        match sys::poll_read(&fds, ACCEPT_TIMEOUT_MS) {
            Ok(ready) if ready[0].readable && !ready.get(1).is_some_and(|r| r.readable) => {}
            _ => return Ok(ClientEnd::CleanUp),
        }
        let (client, _) = listener
            .accept()
            .map_err(|_| Failure::new("accept failure"))?;
        if sigint.is_none() {
            sigint = sys::sigint_pipe().ok();
        }
        let mut filter = Filter::new(kind);
        match relay_client(stack, client, &mut filter, sigint)? {
            ClientEnd::Next if filter.reset(stack)? => continue,
            ClientEnd::ServerClosed => return Ok(ClientEnd::ServerClosed),
            _ => return Ok(ClientEnd::CleanUp),
        }
    }
}

fn relay_client(
    stack: &mut Stack,
    mut client: UnixStream,
    filter: &mut Filter,
    sigint: Option<i32>,
) -> Result<ClientEnd> {
    loop {
        if !stack.has_buffered_plaintext() {
            let mut fds = vec![stack.fd(), client.as_raw_fd()];
            fds.extend(sigint);
            let ready = match sys::poll_read(&fds, -1) {
                Ok(ready) => ready,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    transcript::err(format!("select: {}\n", sys::io_error_text(&err)).as_bytes());
                    return Err(Failure::new("select"));
                }
            };
            if ready.get(2).is_some_and(|r| r.readable) {
                return Ok(ClientEnd::CleanUp);
            }
            if !ready[0].readable {
                if ready[1].readable {
                    let mut buf = [0u8; CLIENT_READ];
                    let n = client.read(&mut buf).unwrap_or(0);
                    if n == 0 || filter.pipe(&buf[..n], stack) == Piped::CloseMe {
                        return Ok(ClientEnd::Next);
                    }
                }
                continue;
            }
        }
        loop {
            match stack.read_chunk(SERVER_READ) {
                Ok(data) => {
                    let _ = client.write_all(&data);
                }
                Err(ended) => {
                    match ended {
                        ReadError::Broken(text) => {
                            transcript::message(&format!("Protection error: {text}"))
                        }
                        ReadError::TimedOut(timeout) => {
                            return Err(replies::silent_server(timeout))
                        }
                        ReadError::Eof => {}
                    }
                    stack.close();
                    transcript::message("Connection closed.");
                    return Ok(ClientEnd::ServerClosed);
                }
            }
            if !stack.has_buffered_plaintext() {
                break;
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Piped {
    Sent,
    CloseMe,
}

/// Per-protocol handling of a client's bytes.
enum Filter {
    /// IMAP: literal bytes still to pass before lines are looked at again.
    Imap { literal: usize, partial: Vec<u8> },
    /// SMTP/LMTP: inside DATA.
    Xmtp { in_data: bool, partial: Vec<u8> },
    /// Everything else: bytes pass as they are; no reset, so one client only.
    Raw,
}

impl Filter {
    fn new(kind: Kind) -> Filter {
        match kind {
            Kind::Imap => Filter::Imap {
                literal: 0,
                partial: Vec::new(),
            },
            Kind::Smtp | Kind::Lmtp => Filter::Xmtp {
                in_data: false,
                partial: Vec::new(),
            },
            _ => Filter::Raw,
        }
    }

    /// Passes a client's bytes on, a complete line at a time where the protocol filters.
    fn pipe(&mut self, data: &[u8], stack: &mut Stack) -> Piped {
        let partial = match self {
            Filter::Raw => {
                let _ = stack.send(data);
                return Piped::Sent;
            }
            Filter::Imap { partial, .. } | Filter::Xmtp { partial, .. } => partial,
        };
        partial.extend_from_slice(data);
        let mut pending = std::mem::take(partial);
        let mut start = 0;
        while let Some(newline) = pending[start..].iter().position(|&b| b == b'\n') {
            let line = pending[start..start + newline + 1].to_vec();
            start += newline + 1;
            let result = match self {
                Filter::Imap { literal, .. } => imap_line(literal, &line, stack),
                Filter::Xmtp { in_data, .. } => xmtp_line(in_data, &line, stack),
                Filter::Raw => Piped::Sent,
            };
            if result == Piped::CloseMe {
                return Piped::CloseMe;
            }
        }
        pending.drain(..start);
        if let Filter::Imap { partial, .. } | Filter::Xmtp { partial, .. } = self {
            *partial = pending;
        }
        Piped::Sent
    }

    /// Resets the server session after a client; `false` when it cannot be reset.
    fn reset(&self, stack: &mut Stack) -> Result<bool> {
        match self {
            Filter::Imap { literal, partial } => {
                if *literal > 0 || !partial.is_empty() {
                    return Ok(false);
                }
                replies::send(stack, b"UN0 UNSELECT\r\n")?;
                replies::waitfor(stack, &["UN0"], false)?;
                Ok(true)
            }
            Filter::Xmtp { in_data, partial } => {
                if *in_data || !partial.is_empty() {
                    return Ok(false);
                }
                replies::send(stack, b"RSET\r\n")?;
                replies::waitfor(stack, &["250"], true)?;
                Ok(true)
            }
            Filter::Raw => Ok(false),
        }
    }
}

/// One IMAP client line: literals pass untouched, `<tag> LOGOUT` is swallowed, a bare LF
/// becomes CR LF.
fn imap_line(literal: &mut usize, line: &[u8], stack: &mut Stack) -> Piped {
    let mut line = line;
    if *literal > 0 {
        if line.len() <= *literal {
            *literal -= line.len();
        } else {
            stack.write(&line[..*literal]);
            line = &line[*literal..];
            *literal = 0;
        }
    }
    let mut add_crlf = false;
    if *literal == 0 {
        // Only a `{n}` at the end of an LF-only line starts a literal (the C tool's CR LF
        // test can never match).
        let len = line.len();
        if len > 3 && line[len - 1] == b'\n' && line[len - 2] == b'}' {
            let mut i = len - 3;
            while i > 0 && line[i] != b'{' && line[i].is_ascii_digit() {
                i -= 1;
            }
            if line[i] == b'{' {
                // The C tool's `int` from atoi; one that overflowed to a negative size
                // (where the C tool would write a negative length) counts as no literal.
                *literal = usize::try_from(crate::bytes::atoi(&line[i + 1..])).unwrap_or(0);
            }
        }
        if is_logout(line) {
            return Piped::CloseMe;
        }
        if (len == 1 && line[0] == b'\n') || (len >= 2 && line[len - 2] != b'\r') {
            add_crlf = true;
        }
    }
    if add_crlf {
        stack.write(&line[..line.len() - 1]);
        stack.write(b"\r\n");
    } else {
        stack.write(line);
    }
    let _ = stack.flush();
    Piped::Sent
}

/// `<tag> <word>` ending the line, the word starting with LOGOUT (any case).
fn is_logout(line: &[u8]) -> bool {
    let word_end = |text: &[u8]| {
        text.iter()
            .position(|&b| b.is_ascii_whitespace() || matches!(b, b'(' | b')' | b'"' | 0))
            .unwrap_or(text.len())
    };
    let tag_end = word_end(line);
    if line.get(tag_end) != Some(&b' ') {
        return false;
    }
    let rest = &line[tag_end + 1..];
    let cmd_end = word_end(rest);
    let after = &rest[cmd_end..];
    let line_ends = after == b"\n" || after.starts_with(b"\r\n");
    line_ends && starts_with_ci(&rest[..cmd_end], "LOGOUT")
}

/// One SMTP/LMTP client line: DATA is tracked to its final `.`, QUIT is swallowed.
fn xmtp_line(in_data: &mut bool, line: &[u8], stack: &mut Stack) -> Piped {
    let ends_after = |n: usize| {
        line.get(n) == Some(&b'\n')
            || (line.get(n) == Some(&b'\r') && line.get(n + 1) == Some(&b'\n'))
    };
    if *in_data && line.len() <= 3 {
        if line.first() == Some(&b'.') && ends_after(1) {
            *in_data = false;
        }
    } else if !*in_data && line.len() > 4 && line.len() <= 6 {
        if starts_with_ci(line, "DATA") && ends_after(4) {
            *in_data = true;
        } else if starts_with_ci(line, "QUIT") && ends_after(4) {
            return Piped::CloseMe;
        }
    }
    let _ = stack.send(line);
    Piped::Sent
}

#[cfg(test)]
mod tests {
    use super::{imap_line, is_logout};

    #[test]
    fn literal_sizes_are_the_c_tools_int() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let mut stack = crate::net::stack::Stack::new(client);
        let size_after = |line: &[u8], stack: &mut crate::net::stack::Stack| {
            let mut literal = 0;
            imap_line(&mut literal, line, stack);
            literal
        };
        assert_eq!(size_after(b"a1 APPEND x {5}\n", &mut stack), 5);
        // atoi's int: 2^32 wraps to 0 (no literal, as in the C tool), 2^32 + 3 to 3.
        assert_eq!(size_after(b"a1 APPEND x {4294967296}\n", &mut stack), 0);
        assert_eq!(size_after(b"a1 APPEND x {4294967299}\n", &mut stack), 3);
        // A negative int (the C tool would go on with a negative length): no literal.
        assert_eq!(size_after(b"a1 APPEND x {2147483648}\n", &mut stack), 0);
    }

    #[test]
    fn logout_detection_is_a_prefix_test_on_the_last_word() {
        assert!(is_logout(b"a2 LOGOUT\r\n"));
        assert!(is_logout(b"a2 logout\n"));
        assert!(is_logout(b"a2 LOGOUTNOW\r\n"));
        assert!(!is_logout(b"a2 LOGOUT now\r\n"));
        assert!(!is_logout(b"LOGOUT\r\n"));
        assert!(!is_logout(b"a2 NOOP\r\n"));
    }
}
