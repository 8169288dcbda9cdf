//! Process-level libc calls the command line needs: `-X` daemonizing and `strerror` texts.

use std::ffi::CStr;

/// `-X` (spec §8.4): closes every descriptor from 0 to `getdtablesize() - 1` (stdin, stdout and
/// stderr included), then forks three times; each parent leaves at once with status 0. Only the
/// last child returns. No `setsid`.
///
/// Unlike the C tool, descriptors 0, 1 and 2 are then opened on /dev/null: the daemon's output
/// goes nowhere as documented, instead of into whatever socket happens to reuse those numbers
/// (in the C tool the server connection becomes descriptor 0 and is closed by mistake before
/// the final LOGOUT).
pub fn daemonize() {
    // SAFETY: getdtablesize has no preconditions.
    let table_size = unsafe { libc::getdtablesize() };
    for fd in 0..table_size {
        // SAFETY: closing a descriptor number; unused numbers just fail with EBADF. Nothing in
        // this single-threaded start-up phase holds on to a descriptor it still needs.
        unsafe {
            libc::close(fd);
        }
    }
    for _ in 0..3 {
        // SAFETY: the path is a valid C string; open returns the lowest free descriptor, so
        // after the loop above these are 0, 1 and 2 (a failure just leaves the number free).
        unsafe {
            libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        }
    }
    for _ in 0..3 {
        // SAFETY: fork has no preconditions; the parent (or a failed fork, like the C tool)
        // leaves through _exit without running any Rust or C clean-up.
        unsafe {
            if libc::fork() != 0 {
                libc::_exit(0);
            }
        }
    }
}

/// glibc's message text for `errno` (what `perror` prints after the colon).
pub fn strerror(errno: i32) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its full length; the XSI strerror_r NUL-terminates on success.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return format!("Unknown error {errno}");
    }
    CStr::from_bytes_until_nul(&buf)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_gives_glibc_texts() {
        assert_eq!(strerror(libc::ENOENT), "No such file or directory");
        assert_eq!(strerror(libc::EACCES), "Permission denied");
        assert_eq!(strerror(libc::ECONNREFUSED), "Connection refused");
    }
}
