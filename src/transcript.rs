//! How things appear on the terminal: `S: ` / `C: ` lines and plain messages, written
//! unbuffered to stdout (the C tool makes stdout unbuffered, so stdout and stderr
//! interleave in program order). Server text is printed as a C string: cut at a NUL.

use std::io::Write;

/// Bytes up to the first NUL, as `printf("%s")` would print them.
pub fn c_str(bytes: &[u8]) -> &[u8] {
    match find_byte(0, bytes) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

/// The first position of `needle` in `haystack` (libc's memchr: relayed data is scanned for
/// NUL and LF on every piece).
pub fn find_byte(needle: u8, haystack: &[u8]) -> Option<usize> {
    crate::ffi::sys::memchr(needle, haystack)
}

/// Writes to stdout at once. A closed stdout is not an error worth dying for here.
/// Whatever Rust's stdout buffer might hold goes first; then the bytes go straight to fd 1
/// in as few write(2) calls as the kernel takes (Rust's line-buffered stdout would split
/// a multi-line block into two writes and copy its tail).
pub fn out(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.flush();
    crate::ffi::sys::write_all_fd(1, bytes);
}

/// Writes to stderr at once.
pub fn err(bytes: &[u8]) {
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
    use super::c_str;

    #[test]
    fn c_str_cuts_at_nul() {
        assert_eq!(c_str(b"ab\0cd"), b"ab");
        assert_eq!(c_str(b"\0ab\0"), b"");
        let mut long = vec![b'x'; 5000];
        long[4097] = 0;
        assert_eq!(c_str(&long).len(), 4097);
        assert_eq!(c_str(b"abc"), b"abc");
        assert_eq!(c_str(b"\0"), b"");
        assert_eq!(c_str(b""), b"");
    }
}
