//! How things appear on the terminal: `S: ` / `C: ` lines and plain messages, written
//! unbuffered to stdout (the C tool makes stdout unbuffered, so stdout and stderr
//! interleave in program order). Server text is printed as a C string: cut at a NUL.
//! This module is the tool's one writer: everything it prints on stdout or stderr goes
//! through [`out`] or [`err`], and tests see it by injecting a sink ([`capture`]).

use crate::bytes::c_str;
use std::cell::RefCell;
use std::io::Write;

thread_local! {
    /// Where this thread's output goes instead of the real stdout and stderr, while
    /// [`capture`] runs (tests inject it; the tool itself never does).
    static SINK: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's stdout and stderr output collected instead of written, and
/// returns what it printed (both streams, in order) with its result.
#[cfg(test)]
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<u8>) {
    let outer = SINK.with(|sink| sink.borrow_mut().replace(Vec::new()));
    let result = f();
    let printed = SINK.with(|sink| std::mem::replace(&mut *sink.borrow_mut(), outer));
    (result, printed.unwrap_or_default())
}

/// Appends to the injected sink, if there is one; false when output is real.
fn captured(bytes: &[u8]) -> bool {
    SINK.with(|sink| match sink.borrow_mut().as_mut() {
        Some(buffer) => {
            buffer.extend_from_slice(bytes);
            true
        }
        None => false,
    })
}

/// Writes to stdout at once: every stdout byte the tool prints goes through here. A closed
/// stdout is not an error worth dying for here. Whatever Rust's stdout buffer might hold goes
/// first; then the bytes go straight to fd 1 in as few write(2) calls as the kernel takes
/// (Rust's line-buffered stdout would split a multi-line block into two writes and copy its
/// tail).
pub fn out(bytes: &[u8]) {
    if captured(bytes) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.flush();
    crate::ffi::sys::write_all_fd(1, bytes);
}

/// Writes to stderr at once: every stderr byte the tool prints goes through here.
pub fn err(bytes: &[u8]) {
    if captured(bytes) {
        return;
    }
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(bytes);
    let _ = stderr.flush();
}

/// `S: <line>` for a line (or piece of one) the server sent; the line keeps its own ending.
pub fn server_line(line: &[u8]) {
    let mut text = b"S: ".to_vec();
    text.extend_from_slice(c_str(line));
    out(&text);
}

/// `C: <command>\r\n` for a command the tool sends itself.
pub fn client_line(command: &[u8]) {
    let mut text = b"C: ".to_vec();
    text.extend_from_slice(command);
    text.extend_from_slice(b"\r\n");
    out(&text);
}

/// A plain message line on stdout (`Authenticated.`, ...).
pub fn message(text: &str) {
    out(format!("{text}\n").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::{capture, err, out, server_line};

    #[test]
    fn capture_sees_both_streams_in_order_and_nests() {
        let ((), printed) = capture(|| {
            out(b"one\n");
            let ((), inner) = capture(|| err(b"inner\n"));
            assert_eq!(inner, b"inner\n");
            err(b"two\n");
            server_line(b"a\0b\r\n");
        });
        assert_eq!(printed, b"one\ntwo\nS: a");
    }
}
