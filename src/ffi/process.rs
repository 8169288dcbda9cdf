//! Process-level libc calls: the C `main`'s argv (masking the password in it), the start-up
//! std's own `main` would have done, `-X` daemonizing, `strerror` texts,
//! the non-dumpable flag and taking a secret out of the environment.

use crate::ffi::secret::Secret;
use std::ffi::{c_char, c_int, CStr, OsString};
use std::os::unix::ffi::OsStringExt;

/// The process's own argv strings: the memory `/proc/PID/cmdline` (and `ps`) shows.
pub struct Argv {
    /// argv[0..argc], copied from the C runtime's array (the strings are not copied).
    strings: Vec<*mut c_char>,
}

impl Argv {
    /// Takes the arguments of the C `main`.
    ///
    /// # Safety
    /// `argc` and `argv` must be exactly what the C runtime passed to `main`: `argv[0..argc]`
    /// valid, writable, NUL-terminated strings that live as long as the process, and nothing
    /// else may write to them while this value is used.
    pub unsafe fn from_c_main(argc: c_int, argv: *const *mut c_char) -> Argv {
        let count = usize::try_from(argc).unwrap_or(0);
        let strings = if argv.is_null() {
            Vec::new()
        } else {
            // SAFETY: per the contract, argv has argc readable entries.
            unsafe { std::slice::from_raw_parts(argv, count) }
                .iter()
                .copied()
                .take_while(|p| !p.is_null())
                .collect()
        };
        Argv { strings }
    }

    /// Copies of the arguments, argv[0] first.
    pub fn to_vec(&self) -> Vec<OsString> {
        self.strings
            .iter()
            // SAFETY: each pointer is a live NUL-terminated string (contract of from_c_main).
            .map(|&p| OsString::from_vec(unsafe { CStr::from_ptr(p) }.to_bytes().to_vec()))
            .collect()
    }

    /// Overwrites argument `index` from byte `offset` to its end with `x` (its length and the
    /// NUL stay, so the other arguments keep their places). Out-of-range spans do nothing.
    pub fn mask(&mut self, index: usize, offset: usize) {
        let Some(&p) = self.strings.get(index) else {
            return;
        };
        // SAFETY: a live NUL-terminated string (contract of from_c_main).
        let len = unsafe { CStr::from_ptr(p) }.to_bytes().len();
        if offset >= len {
            return;
        }
        // SAFETY: bytes offset..len of this string are ours to write (contract of
        // from_c_main): no Rust reference to them exists, and the NUL at len is untouched.
        unsafe { std::ptr::write_bytes(p.add(offset), b'x', len - offset) };
    }
}

/// What std's runtime does before a Rust `main`, for a binary whose entry is the C `main`:
/// descriptors 0, 1 and 2 opened on /dev/null where closed (so no socket takes their
/// numbers), and SIGPIPE ignored (a write to a closed connection fails with EPIPE).
pub fn start_like_std() {
    for fd in 0..3 {
        // SAFETY: F_GETFD on a descriptor number only asks whether it is open.
        let closed = unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF);
        if closed {
            // SAFETY: the path is a valid C string; open takes the lowest free number, which
            // is `fd` because the lower ones are open by now.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Makes the process non-dumpable (`PR_SET_DUMPABLE` 0) before any secret is read: no core
/// file is written when it crashes, and other processes of the same user cannot attach to it
/// or read its memory (its `/proc/PID` files then belong to root). Kept across fork (`-X`).
pub fn forbid_dumps() {
    // SAFETY: prctl with PR_SET_DUMPABLE takes a plain integer and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
}

/// Takes the variable `name` out of the environment and returns its value (the first, if it
/// is there more than once). Before it is unset, the value bytes in the environment strings
/// are overwritten with `x` where they lie: the process's initial environment block is what
/// `/proc/PID/environ` shows for the whole run, whatever `unsetenv` does to the pointer list.
pub fn take_env(name: &str) -> Option<Secret> {
    let prefix = format!("{name}=");
    let mut value = None;
    // SAFETY: a plain read of glibc's pointer; only `take_env` and std's env functions change
    // the list, and they are not called from another thread during start-up.
    let mut entry = unsafe { libc::environ };
    while !entry.is_null() {
        // SAFETY: `entry` points into the NULL-terminated environ array.
        let string = unsafe { *entry };
        if string.is_null() {
            break;
        }
        // SAFETY: each environ entry is a live NUL-terminated string.
        let bytes = unsafe { CStr::from_ptr(string) }.to_bytes();
        if let Some(found) = bytes.strip_prefix(prefix.as_bytes()) {
            let len = found.len();
            value.get_or_insert_with(|| Secret::concat(&[found]));
            // SAFETY: the `len` value bytes after the prefix belong to this writable string
            // (environ strings are the stack block or setenv's heap copies); the NUL stays,
            // and `bytes` is not used any more.
            unsafe { std::ptr::write_bytes(string.add(prefix.len()), b'x', len) };
        }
        // SAFETY: not past the terminating NULL, checked above.
        entry = unsafe { entry.add(1) };
    }
    std::env::remove_var(name);
    value
}

/// Runs `create` with the file-creation mask set to `mask`, then puts the old mask back: a
/// file it creates never exists with a wider mode, whatever the caller's umask was. (The mask
/// is process-wide: call it only while no other thread creates files.)
pub fn with_umask<T>(mask: libc::mode_t, create: impl FnOnce() -> T) -> T {
    // SAFETY: umask only swaps the process's mask and cannot fail.
    let old = unsafe { libc::umask(mask) };
    let result = create();
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    result
}

/// `-X` (docs/behaviour.md §8.4): closes every descriptor from 0 to `getdtablesize() - 1` (stdin,
/// stdout and stderr included), then forks three times; each parent leaves at once with status 0.
/// Only the last child returns. No `setsid`.
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
    fn mask_overwrites_the_argument_tail_in_place() {
        let mut storage: Vec<Vec<u8>> = [&b"prog\0"[..], b"-wsecret\0", b"pw\0"]
            .iter()
            .map(|s| s.to_vec())
            .collect();
        let ptrs: Vec<*mut c_char> = storage.iter_mut().map(|s| s.as_mut_ptr().cast()).collect();
        // SAFETY: three live, writable, NUL-terminated strings that outlive `argv`.
        let mut argv = unsafe { Argv::from_c_main(3, ptrs.as_ptr()) };
        argv.mask(1, 2);
        argv.mask(2, 0);
        argv.mask(2, 9);
        argv.mask(7, 0);
        assert_eq!(argv.to_vec(), ["prog", "-wxxxxxx", "xx"]);
        drop(argv);
        assert_eq!(storage[1], b"-wxxxxxx\0");
    }

    #[test]
    fn strerror_gives_glibc_texts() {
        assert_eq!(strerror(libc::ENOENT), "No such file or directory");
        assert_eq!(strerror(libc::EACCES), "Permission denied");
        assert_eq!(strerror(libc::ECONNREFUSED), "Connection refused");
    }
}
