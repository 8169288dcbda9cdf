//! Terminal and stdin reads for prompts: glibc's own `getpass("")` for no-echo reads
//! (docs/behaviour.md §9.3), unbuffered C stdio, and line reads from fd 0 without read-ahead, so
//! that whatever follows a prompt answer stays in stdin for the relay.

use crate::ffi::secret::Secret;
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

/// glibc `getpass("")`: the password line without its newline (docs/behaviour.md §9.3). The answer
/// ends at the first NUL, as the C tool copies it as a string; glibc's buffer is wiped afterwards.
pub fn getpass() -> Secret {
    // SAFETY: the prompt is a valid empty C string; glibc returns NULL or its own static
    // NUL-terminated buffer, which nothing else touches until the next getpass call.
    let p = unsafe { c::getpass(c"".as_ptr()) };
    if p.is_null() {
        return Secret::default();
    }
    // SAFETY: `p` is non-NULL and NUL-terminated (see above).
    let line = Secret::concat(&[unsafe { CStr::from_ptr(p) }.to_bytes()]);
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
pub fn read_echo_line(max: usize) -> Secret {
    read_line_from(0, max)
}

fn read_line_from(fd: c_int, max: usize) -> Secret {
    let mut line = Secret::default();
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
            _ => return Secret::default(),
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

    /// Shows bytes readably in the child's report line.
    fn escaped(bytes: &[u8]) -> String {
        bytes.escape_ascii().to_string()
    }

    /// Without a terminal, getpass reads stdin; with stdin unbuffered (as the C tool sets it
    /// up) it takes only the password line and leaves the rest for whoever reads fd 0 next.
    /// Buffered, glibc would swallow the rest: the reason for `unbuffer_stdio`.
    #[test]
    fn getpass_without_a_terminal_reads_stdin_byte_by_byte() {
        const CHILD: &str = "IMTEST_TEST_GETPASS_CHILD";
        const NAME: &str = "ffi::term::tests::getpass_without_a_terminal_reads_stdin_byte_by_byte";
        if let Ok(mode) = std::env::var(CHILD) {
            if mode == "unbuffered" {
                unbuffer_stdio();
            }
            let password = getpass();
            let rest = read_echo_line(1022);
            println!(
                "PASSWORD=[{}] REST=[{}]",
                escaped(&password),
                escaped(&rest)
            );
            return;
        }
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};
        for (mode, rest) in [("unbuffered", "a1 NOOP\\n"), ("buffered", "")] {
            let mut command = Command::new(std::env::current_exe().unwrap());
            command
                .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
                .env(CHILD, mode)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            // SAFETY: setsid is async-signal-safe; it detaches the child from any controlling
            // terminal so that opening /dev/tty fails, as on a host without one.
            unsafe {
                command.pre_exec(|| {
                    libc::setsid();
                    Ok(())
                });
            }
            let mut child = command.spawn().unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"secret\na1 NOOP\n")
                .unwrap();
            let output = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            let expected = format!("PASSWORD=[secret] REST=[{rest}]");
            assert!(
                output.status.success() && stdout.contains(&expected),
                "{mode}: {stdout}"
            );
        }
    }

    /// On a terminal, getpass turns echo off while reading, writes the newline itself and
    /// turns echo back on (docs/transcripts.md §13A.35): run in a child whose controlling terminal
    /// is a pty.
    #[test]
    fn getpass_on_a_terminal_does_not_echo() {
        const CHILD: &str = "IMTEST_TEST_GETPASS_PTY";
        const NAME: &str = "ffi::term::tests::getpass_on_a_terminal_does_not_echo";
        if std::env::var_os(CHILD).is_some() {
            let password = getpass();
            println!("PASSWORD=[{}]", escaped(&password));
            return;
        }
        use std::os::fd::{FromRawFd, OwnedFd};
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: valid out-pointers; NULL name, termios and window size are allowed.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0);
        // SAFETY: both descriptors are fresh from openpty and owned here only.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()));
        // SAFETY: setsid and ioctl are async-signal-safe; the child gets the pty (its stdin)
        // as controlling terminal, so getpass opens it as /dev/tty.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let mut child = command.spawn().unwrap();
        // The command holds copies of the slave; all must be closed for reads to end.
        drop(command);
        let master = std::fs::File::from(master);
        // Type only once echo is off: getpass flushes pending input when it changes modes.
        let echo_off = || {
            // SAFETY: an all-zero termios is a valid out-parameter for tcgetattr.
            let mut t: libc::termios = unsafe { std::mem::zeroed() };
            // SAFETY: `slave` is an open terminal; `t` is a valid out-parameter.
            let rc = unsafe { libc::tcgetattr(slave.as_raw_fd(), &mut t) };
            rc == 0 && t.c_lflag & libc::ECHO == 0
        };
        let mut waited = 0;
        while !echo_off() && waited < 10_000 {
            std::thread::sleep(std::time::Duration::from_millis(5));
            waited += 5;
        }
        if !echo_off() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child never turned echo off");
        }
        // Let the mode change (and its input flush) finish before typing.
        std::thread::sleep(std::time::Duration::from_millis(50));
        (&master).write_all(b"secret\n").unwrap();
        drop(slave);
        assert!(child.wait().unwrap().success());
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match std::io::Read::read(&mut (&master), &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        let seen = String::from_utf8_lossy(&seen);
        let report = seen
            .find("PASSWORD=[secret]")
            .unwrap_or_else(|| panic!("{seen}"));
        assert!(
            !seen[..report].contains("secret"),
            "password echoed: {seen:?}"
        );
        // The newline getpass writes itself (ONLCR makes it CR LF) follows the harness's
        // "test <name> ... " and comes before the report.
        assert!(seen[..report].ends_with(" ... \r\n"), "{seen:?}");
    }

    #[test]
    fn unbuffering_is_harmless() {
        unbuffer_stdio();
        unbuffer_stdio();
    }
}
