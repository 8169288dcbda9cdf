//! Terminal and stdin reads for prompts: glibc's own `getpass("")` for no-echo reads
//! (spec §9.3), unbuffered C stdio, and line reads from fd 0 without read-ahead, so that
//! whatever follows a prompt answer stays in stdin for the relay.

// Used by the prompts once the authentication code calls them.
#![allow(dead_code)]

use std::ffi::CStr;
use std::os::raw::{c_int, c_void};

mod c {
    use std::os::raw::c_char;

    extern "C" {
        /// glibc: prompt on /dev/tty (or stderr, reading stdin), ECHO and ISIG off, one line.
        pub fn getpass(prompt: *const c_char) -> *mut c_char;
        pub static stdin: *mut libc::FILE;
        pub static stdout: *mut libc::FILE;
        pub static stderr: *mut libc::FILE;
    }
}

/// glibc `getpass("")`: the password line without its newline (spec §9.3). The answer ends
/// at the first NUL, as the C tool copies it as a string; glibc's buffer is wiped afterwards.
pub fn getpass() -> Vec<u8> {
    // SAFETY: the prompt is a valid empty C string; glibc returns NULL or its own static
    // NUL-terminated buffer, which nothing else touches until the next getpass call.
    let p = unsafe { c::getpass(c"".as_ptr()) };
    if p.is_null() {
        return Vec::new();
    }
    // SAFETY: `p` is non-NULL and NUL-terminated (see above).
    let line = unsafe { CStr::from_ptr(p) }.to_bytes().to_vec();
    // SAFETY: the `line.len()` bytes before the NUL belong to glibc's writable buffer.
    unsafe { libc::explicit_bzero(p.cast::<c_void>(), line.len()) };
    line
}

/// Makes the C stdio streams unbuffered, as the C tool does at start-up; above all `stdin`,
/// so that `getpass` without a terminal reads stdin byte by byte.
pub fn unbuffer_stdio() {
    for stream in [
        c_stream(Stream::In),
        c_stream(Stream::Out),
        c_stream(Stream::Err),
    ] {
        // SAFETY: `stream` is one of the C library's standard streams, valid for the process;
        // a NULL buffer with _IONBF asks for no buffering.
        unsafe { libc::setvbuf(stream, std::ptr::null_mut(), libc::_IONBF, 0) };
    }
}

enum Stream {
    In,
    Out,
    Err,
}

fn c_stream(which: Stream) -> *mut libc::FILE {
    // SAFETY: glibc initialises these pointers before `main`; reading them is a plain load.
    unsafe {
        match which {
            Stream::In => c::stdin,
            Stream::Out => c::stdout,
            Stream::Err => c::stderr,
        }
    }
}

/// One line from fd 0, read a byte at a time (no read-ahead): at most `max` bytes, the
/// newline included when one was read. Empty at end of input or on a read error — what the
/// C tool's `fgets(buf, max + 1, stdin)` leaves.
pub fn read_echo_line(max: usize) -> Vec<u8> {
    read_line_from(0, max)
}

fn read_line_from(fd: c_int, max: usize) -> Vec<u8> {
    let mut line = Vec::new();
    while line.len() < max {
        let mut byte = 0u8;
        // SAFETY: reads at most one byte into a valid local.
        let n = unsafe { libc::read(fd, (&mut byte as *mut u8).cast::<c_void>(), 1) };
        match n {
            1 => {
                line.push(byte);
                if byte == b'\n' {
                    break;
                }
            }
            0 => break,
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => return Vec::new(),
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    /// A pipe whose read end is used as the input fd.
    fn pipe_with(data: &[u8]) -> (std::fs::File, std::fs::File) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe() writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        use std::os::fd::FromRawFd;
        // SAFETY: both descriptors are fresh and owned by nobody else.
        let (r, mut w) = unsafe {
            (
                std::fs::File::from_raw_fd(fds[0]),
                std::fs::File::from_raw_fd(fds[1]),
            )
        };
        w.write_all(data).unwrap();
        (r, w)
    }

    #[test]
    fn reads_one_line_and_leaves_the_rest() {
        let (r, w) = pipe_with(b"myrealm\na1 NOOP\n");
        drop(w);
        assert_eq!(read_line_from(r.as_raw_fd(), 1022), b"myrealm\n");
        assert_eq!(read_line_from(r.as_raw_fd(), 1022), b"a1 NOOP\n");
        assert_eq!(read_line_from(r.as_raw_fd(), 1022), b"");
    }

    #[test]
    fn stops_at_the_limit_and_at_eof() {
        let (r, w) = pipe_with(b"abcdef\nxy");
        drop(w);
        assert_eq!(read_line_from(r.as_raw_fd(), 4), b"abcd");
        assert_eq!(read_line_from(r.as_raw_fd(), 4), b"ef\n");
        assert_eq!(read_line_from(r.as_raw_fd(), 4), b"xy");
    }

    #[test]
    fn unbuffering_is_harmless() {
        unbuffer_stdio();
        unbuffer_stdio();
    }
}
