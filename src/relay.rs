//! The interactive part after the last round (docs/behaviour.md §8.1, §8.2): the local side (stdin
//! or the `-f` file) goes to the server, the server's bytes go raw to stdout, until the server
//! closes. EOF on the local side sends the logout command; Ctrl-C logs out cleanly.
//! One loop owns the connection stack; it waits in poll(2) on the socket, the local side
//! and a SIGINT self-pipe, so nothing spins. With `--read-timeout`, the wait for the server
//! is bounded once the local side has ended (never while the user may still type).

use crate::error::{Failure, Result};
use crate::ffi::sys;
use crate::net::stack::{ReadError, Stack};
use crate::options::Options;
use crate::transcript;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Server data is printed in pieces of at most this size, each cut at a NUL like the C
/// tool's `printf("%s")` of a 2047-byte read.
const SERVER_PIECE: usize = 2047;
/// Stdin lines longer than this arrive in several pieces (the C tool's fgets size - 1).
const STDIN_PIECE: usize = 2046;
/// `-f` files are sent in chunks of this size.
const FILE_CHUNK: usize = 2048;
const LOCAL_READ: usize = 64 * 1024;

/// What feeds the server.
enum Local {
    Stdin(LineSplitter),
    File(std::fs::File),
    Closed,
}

/// Relays the terminal, or sends the `-f` file, to the server until the server closes.
pub fn run(options: &Options, stack: Stack, file: Option<&Path>) -> Result<i32> {
    let local = match file {
        Some(path) => match std::fs::File::open(path) {
            Ok(file) => Local::File(file),
            Err(err) => {
                let text = format!(":{}\n", sys::io_error_text(&err));
                let path = path.as_os_str().as_bytes();
                transcript::err(&[b"Unable to open file: ", path, text.as_bytes()].concat());
                return Ok(1);
            }
        },
        None => Local::Stdin(LineSplitter::default()),
    };
    let protocol = options.protocol;
    Relay {
        logout: protocol.logout.map(|l| l.command),
        unauthenticate: protocol.unauthenticate,
        unauthenticated: false,
        verbose: options.verbose,
        stack,
        local,
        local_buf: Vec::new(),
        wire: Vec::new(),
        piece_starts: Vec::new(),
        printed: Vec::new(),
    }
    .run()
}

struct Relay {
    logout: Option<&'static str>,
    unauthenticate: Option<&'static str>,
    /// An UNAUTHENTICATE line was sent: drop the layers after the next server data.
    unauthenticated: bool,
    /// `-v`.
    verbose: bool,
    stack: Stack,
    local: Local,
    /// Buffers kept across iterations, so the relay allocates nothing per read.
    local_buf: Vec<u8>,
    /// The pieces of one stdin read, back to back, and where each starts.
    wire: Vec<u8>,
    piece_starts: Vec<usize>,
    printed: Vec<u8>,
}

impl Relay {
    fn run(mut self) -> Result<i32> {
        let sigint = sys::sigint_pipe().ok();
        loop {
            let local_fd = match &self.local {
                Local::Stdin(_) => Some(0),
                Local::File(file) => Some(file.as_raw_fd()),
                Local::Closed => None,
            };
            let server_buffered = self.stack.has_buffered_plaintext();
            let mut fds: Vec<RawFd> = vec![self.stack.fd()];
            fds.extend(sigint);
            fds.extend(local_fd);
            let bound = self.stack.read_timeout().filter(|_| local_fd.is_none());
            let wait = match (server_buffered, bound) {
                (true, _) => 0,
                (false, Some(timeout)) => timeout.as_millis().clamp(1, i32::MAX as u128) as i32,
                (false, None) => -1,
            };
            let ready = match sys::poll_read(&fds, wait) {
                Ok(ready) => ready,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    transcript::err(format!("select: {}\n", sys::io_error_text(&err)).as_bytes());
                    return Err(Failure::new("select"));
                }
            };
            if let (false, Some(timeout)) = (server_buffered, bound) {
                if !ready.iter().any(|r| r.readable) {
                    return Err(crate::replies::silent_server(timeout));
                }
            }
            let sigint_ready = sigint.is_some() && ready[1].readable;
            let local_ready = local_fd.is_some() && ready[ready.len() - 1].readable;
            if sigint_ready {
                self.send_logout();
                self.stack.close();
                transcript::message("Connection closed.");
                return Ok(0);
            }
            if local_ready {
                self.relay_local()?;
                continue;
            }
            if server_buffered || ready[0].readable {
                if let Some(code) = self.relay_server()? {
                    return Ok(code);
                }
            }
        }
    }

    /// Prints and sends the logout command (no wait for the reply).
    fn send_logout(&mut self) {
        if let Some(logout) = self.logout {
            transcript::client_line(logout.as_bytes());
            let _ = self.stack.send(format!("{logout}\r\n").as_bytes());
        }
    }

    fn relay_local(&mut self) -> Result<()> {
        if self.local_buf.len() < LOCAL_READ {
            self.local_buf = vec![0u8; LOCAL_READ];
        }
        let buf = &mut self.local_buf;
        let (n, is_file) = match &mut self.local {
            Local::Stdin(_) => (sys::read_fd(0, &mut buf[..LOCAL_READ]), false),
            Local::File(file) => (std::io::Read::read(file, &mut buf[..FILE_CHUNK]), true),
            Local::Closed => return Ok(()),
        };
        let n = match n {
            Ok(n) => n,
            Err(err) => {
                transcript::err(format!("read: {}\n", sys::io_error_text(&err)).as_bytes());
                return Err(Failure::new("read"));
            }
        };
        let data = &self.local_buf[..n];
        if is_file {
            if n > 0 {
                transcript::out(data);
                let _ = self.stack.send(data);
                return Ok(());
            }
        } else if let Local::Stdin(splitter) = &mut self.local {
            // The pieces of this read, back to back in one buffer; the UNAUTHENTICATE check
            // looks at them one by one.
            let wire = &mut self.wire;
            let starts = &mut self.piece_starts;
            wire.clear();
            starts.clear();
            let command = self.unauthenticate;
            let mut unauthenticated = false;
            let mut piece_end = |wire: &[u8], start: usize| {
                starts.push(start);
                if let Some(command) = command {
                    unauthenticated |= ends_with_command(&wire[start..], command);
                }
            };
            if n > 0 {
                splitter.push(data, wire, &mut piece_end);
            } else {
                splitter.finish(wire, &mut piece_end);
            }
            self.unauthenticated |= unauthenticated;
            if self.stack.has_layers() {
                // The C tool flushes after every piece; under compression or a SASL layer
                // each flush is visible in the byte stream (a sync-flush point, a packet).
                let (wire, starts) = (&self.wire, &self.piece_starts);
                let pieces = starts.iter().enumerate().map(|(i, &start)| {
                    let end = starts.get(i + 1).copied().unwrap_or(wire.len());
                    &wire[start..end]
                });
                let _ = self.stack.send_units(pieces);
            } else if !self.wire.is_empty() {
                let _ = self.stack.send(&self.wire);
            }
            if n > 0 {
                return Ok(());
            }
        }
        self.local = Local::Closed;
        self.send_logout();
        Ok(())
    }

    /// Whether server text is still buffered; with `-v` over TLS, an empty buffer shows
    /// `SSL_pending=<n>` as the C tool prints it.
    fn more_buffered(&mut self) -> bool {
        if self.stack.buffered() > 0 {
            return true;
        }
        match self.stack.tls_pending() {
            Some(pending) => {
                if self.verbose {
                    self.printed
                        .extend_from_slice(format!("SSL_pending={pending}\n").as_bytes());
                }
                pending > 0
            }
            None => false,
        }
    }

    /// Prints what the server sent; `Some(exit status)` when the connection ended.
    /// The pieces (each cut at a NUL) are gathered and written to stdout at once, before
    /// anything else is printed: the same bytes in far fewer write(2) calls.
    fn relay_server(&mut self) -> Result<Option<i32>> {
        self.printed.clear();
        let ended = loop {
            let printed = &mut self.printed;
            match self.stack.read_chunk_with(SERVER_PIECE, |piece| {
                printed.extend_from_slice(crate::bytes::c_str(piece))
            }) {
                Ok(()) => {
                    if self.unauthenticated {
                        // The server has answered: no more security layer or compression.
                        self.stack.clear_layers();
                        self.unauthenticated = false;
                    }
                }
                Err(ended) => break Some(ended),
            }
            if !self.more_buffered() {
                break None;
            }
        };
        transcript::out(&self.printed);
        let Some(ended) = ended else {
            return Ok(None);
        };
        match ended {
            ReadError::Broken(text) => transcript::message(&format!("Protection error: {text}")),
            ReadError::TimedOut(timeout) => return Err(crate::replies::silent_server(timeout)),
            ReadError::Eof => {}
        }
        self.stack.close();
        transcript::message("Connection closed.");
        Ok(Some(0))
    }
}

/// Turns stdin bytes into what the C tool sends: pieces as its line reader returns them
/// (up to a newline, or 2046 bytes), each cut at a NUL, and a final LF not preceded by CR
/// replaced by CR LF.
#[derive(Default)]
struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Appends the pieces completed by `bytes` to `wire`; `piece_end(wire, start)` is told
    /// after each one where it starts. A line that arrives whole is converted straight
    /// from `bytes`; only a partial line waits in `partial`.
    fn push(
        &mut self,
        mut bytes: &[u8],
        wire: &mut Vec<u8>,
        piece_end: &mut impl FnMut(&[u8], usize),
    ) {
        while !bytes.is_empty() {
            let room = STDIN_PIECE - self.partial.len();
            let take =
                crate::bytes::find_byte(b'\n', &bytes[..bytes.len().min(room)]).map(|p| p + 1);
            let end = match take {
                Some(end) => end,
                None if bytes.len() >= room => room,
                None => {
                    self.partial.extend_from_slice(bytes);
                    return;
                }
            };
            let start = wire.len();
            if self.partial.is_empty() {
                emit(&bytes[..end], wire);
            } else {
                self.partial.extend_from_slice(&bytes[..end]);
                emit(&self.partial, wire);
                self.partial.clear();
            }
            piece_end(wire, start);
            bytes = &bytes[end..];
        }
    }

    /// End of input: a partial last line is sent as it is.
    fn finish(&mut self, wire: &mut Vec<u8>, piece_end: &mut impl FnMut(&[u8], usize)) {
        if self.partial.is_empty() {
            return;
        }
        let start = wire.len();
        emit(&self.partial, wire);
        self.partial.clear();
        piece_end(wire, start);
    }
}

/// One piece as the C tool sends it: cut at a NUL, a final LF not preceded by CR becomes
/// CR LF.
fn emit(line: &[u8], wire: &mut Vec<u8>) {
    let piece = crate::bytes::c_str(line);
    if piece.ends_with(b"\n") && !piece.ends_with(b"\r\n") {
        wire.extend_from_slice(&piece[..piece.len() - 1]);
        wire.extend_from_slice(b"\r\n");
    } else {
        wire.extend_from_slice(piece);
    }
}

/// The pieces the relay sends for these successive stdin reads followed by EOF.
pub(crate) fn split_stdin(reads: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut splitter = LineSplitter::default();
    let mut wire = Vec::new();
    let mut starts = Vec::new();
    let mut note = |_: &[u8], start: usize| starts.push(start);
    for read in reads {
        splitter.push(read, &mut wire, &mut note);
    }
    splitter.finish(&mut wire, &mut note);
    starts.push(wire.len());
    starts
        .windows(2)
        .map(|w| wire[w[0]..w[1]].to_vec())
        .collect()
}

/// The first case-insensitive occurrence of `command` in `piece` is followed by exactly
/// CR LF (how the C tool spots UNAUTHENTICATE).
fn ends_with_command(piece: &[u8], command: &str) -> bool {
    let needle = command.as_bytes();
    // Only a piece ending in the command and CR LF can qualify; the search for the first
    // occurrence (the exact rule) runs for those alone, not over every relayed byte.
    let tail = needle.len() + 2;
    if piece.len() < tail
        || !piece[piece.len() - tail..piece.len() - 2].eq_ignore_ascii_case(needle)
        || !piece.ends_with(b"\r\n")
    {
        return false;
    }
    piece
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .is_some_and(|at| &piece[at + needle.len()..] == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<u8> {
        split_stdin(chunks).concat()
    }

    #[test]
    fn pieces_are_reported_one_by_one() {
        let pieces = split_stdin(&[b"a1 NO", b"OP\nb\n", b"c"]);
        assert_eq!(
            pieces,
            vec![b"a1 NOOP\r\n".to_vec(), b"b\r\n".to_vec(), b"c".to_vec()]
        );
        let mut long = vec![b'x'; STDIN_PIECE + 10];
        long.push(b'\n');
        let pieces = split_stdin(&[&long[..100], &long[100..]]);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].len(), STDIN_PIECE);
        assert_eq!(pieces[1].len(), 12);
    }

    #[test]
    fn unauthenticate_needs_the_first_occurrence_at_the_end() {
        assert!(ends_with_command(b"UNAUTHENTICATE\r\n", "UNAUTHENTICATE"));
        assert!(!ends_with_command(b"NAUTHENTICATE\r\n", "UNAUTHENTICATE"));
        assert!(!ends_with_command(
            b"a1 UNAUTHENTICATE\n",
            " UNAUTHENTICATE"
        ));
        // An earlier occurrence is the one that counts (as in the C tool).
        assert!(!ends_with_command(
            b"a1 UNAUTHENTICATE UNAUTHENTICATE\r\n",
            " UNAUTHENTICATE"
        ));
    }

    #[test]
    fn unauthenticate_is_spotted_at_the_line_end_only() {
        assert!(ends_with_command(
            b"a1 unauthenticate\r\n",
            " UNAUTHENTICATE"
        ));
        assert!(!ends_with_command(
            b"a1 UNAUTHENTICATE x\r\n",
            " UNAUTHENTICATE"
        ));
        assert!(!ends_with_command(b"a1 NOOP\r\n", " UNAUTHENTICATE"));
    }

    #[test]
    fn lf_becomes_crlf_and_crlf_stays() {
        assert_eq!(split(&[b"a1 NOOP\n"]), b"a1 NOOP\r\n");
        assert_eq!(split(&[b"a1 NOOP\r\n", b"b\n"]), b"a1 NOOP\r\nb\r\n");
        assert_eq!(split(&[b"\n"]), b"\r\n");
    }

    #[test]
    fn lines_split_across_reads_join() {
        assert_eq!(split(&[b"a1 NO", b"OP\nx"]), b"a1 NOOP\r\nx");
    }

    #[test]
    fn nul_cuts_the_piece() {
        assert_eq!(split(&[b"ab\0cd\nef\n"]), b"abef\r\n");
    }

    #[test]
    fn long_lines_come_in_pieces_and_only_the_last_is_converted() {
        let mut line = vec![b'x'; 5000];
        line.push(b'\n');
        let wire = split(&[&line]);
        assert_eq!(wire.len(), 5002);
        assert!(wire.ends_with(b"x\r\n"));
        // A piece boundary right before the LF: the LF alone is a piece, converted.
        let mut exact = vec![b'y'; STDIN_PIECE];
        exact.push(b'\n');
        assert_eq!(split(&[&exact]).len(), STDIN_PIECE + 2);
        // CR at the end of one piece and LF as the next: the C tool converts the lone LF.
        let mut cr_edge = vec![b'z'; STDIN_PIECE - 1];
        cr_edge.extend_from_slice(b"\r\n");
        assert!(split(&[&cr_edge]).ends_with(b"\r\r\n"));
    }
}
