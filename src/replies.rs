//! Reading the server's replies the C tool's ways (docs/behaviour.md §1.3): `waitfor` (read printed
//! lines up to a tagged one, then drain what is already there) and the capability reader.

use crate::bytes::starts_with_ci;
use crate::capabilities::{Caps, Learnt};
use crate::error::{Failure, Result, Stage};
use crate::net::stack::{ReadError, Stack, LINE_MAX};
use crate::protocol::Protocol;
use crate::transcript;

/// Reads one line of at most `max` bytes; the end of the connection is fatal here.
pub fn line(stack: &mut Stack, max: usize) -> Result<Vec<u8>> {
    match stack.read_line(max) {
        Ok(Some(line)) => Ok(line),
        Err(ReadError::TimedOut(timeout)) => Err(silent_server(timeout)),
        Ok(None) | Err(_) => Err(Failure::prot_layer()),
    }
}

/// `--read-timeout` expired: the server sent nothing for `timeout`.
pub fn silent_server(timeout: std::time::Duration) -> Failure {
    let seconds = timeout.as_secs_f64();
    Failure::new(format!("no data from the server for {seconds} seconds")).at(Stage::Protocol)
}

/// Prints every line already available without waiting (the C tool's drain); the last one
/// may be a line without its newline.
pub fn drain(stack: &mut Stack) {
    while let Ok(Some(line)) = stack.read_line_now(LINE_MAX) {
        transcript::server_line(&line);
    }
}

/// Reads lines until one starts with one of `tags` (case-sensitive), printing each as
/// `S: ` when `print`; then, when printing, drains what is already available.
/// Returns the matching line.
pub fn waitfor(stack: &mut Stack, tags: &[&str], print: bool) -> Result<Vec<u8>> {
    loop {
        let line = line(stack, LINE_MAX)?;
        if print {
            transcript::server_line(&line);
        }
        if tags.iter().any(|tag| line.starts_with(tag.as_bytes())) {
            if print {
                drain(stack);
            }
            return Ok(line);
        }
    }
}

/// Reads a capability response (or a greeting that is one) up to a line starting with
/// `end` (case-insensitive). Without `end`, the first line is awaited and then only what
/// is already available is read. EOF after at least one line just ends the response.
pub fn capabilities(
    stack: &mut Stack,
    protocol: &Protocol,
    end: Option<&str>,
    learnt: &mut Learnt,
) -> Result<Caps> {
    let mut caps = Caps::fresh(protocol);
    let mut lines = 0;
    loop {
        // Without an end line, everything after the first line is read without waiting.
        let read = if end.is_none() && lines > 0 {
            stack.read_line_now(LINE_MAX)
        } else {
            stack.read_line(LINE_MAX)
        };
        let line = match read {
            Ok(Some(line)) => line,
            Err(ReadError::TimedOut(timeout)) => return Err(silent_server(timeout)),
            Ok(None) | Err(_) if lines > 0 => break,
            Ok(None) | Err(_) => return Err(Failure::prot_layer()),
        };
        lines += 1;
        transcript::server_line(&line);
        caps.scan_line(protocol, &line, learnt);
        if let Some(end) = end {
            if starts_with_ci(&line, end) {
                break;
            }
        }
    }
    Ok(caps)
}

/// Prints `C: <command>` (a multi-line command gets `C: ` on every line) and sends it
/// with CR LF.
pub fn command(stack: &mut Stack, command: impl AsRef<[u8]>) -> Result<()> {
    let command = command.as_ref();
    let mut shown = Vec::with_capacity(command.len() + 8);
    let mut lines = command.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        shown.extend_from_slice(line);
        if lines.peek().is_some() {
            // A CR LF inside the command starts a new `C: ` line (HTTP requests).
            shown.extend_from_slice(if line.ends_with(b"\r") {
                b"\nC: "
            } else {
                b"\n"
            });
        }
    }
    transcript::client_line(&shown);
    send(stack, &[command, b"\r\n"].concat())
}

/// Sends bytes; a write failure is the same fatal error as a read failure in the C tool.
pub fn send(stack: &mut Stack, bytes: &[u8]) -> Result<()> {
    stack.send(bytes).map_err(|_| Failure::prot_layer())
}
