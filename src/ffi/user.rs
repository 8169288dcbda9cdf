//! Who is running us: the password-database login name of the real user id, the default
//! authentication name (`-a` absent, docs/behaviour.md §5.5).

use std::ffi::CStr;
use std::os::raw::c_char;

/// `getpwuid(getuid())->pw_name`; `None` when the user id has no entry.
pub fn login_name() -> Option<Vec<u8>> {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let mut size = 1024usize;
    loop {
        let mut buf = vec![0 as c_char; size];
        // SAFETY: an all-zero `passwd` is a valid value for the out-parameter.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: `entry`, `buf` (of `size` bytes) and `found` are valid for the call.
        let rc = unsafe { libc::getpwuid_r(uid, &mut entry, buf.as_mut_ptr(), size, &mut found) };
        if rc == libc::ERANGE && size < (1 << 20) {
            size *= 4;
            continue;
        }
        if rc != 0 || found.is_null() || entry.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success `pw_name` points to a NUL-terminated string inside `buf`.
        return Some(unsafe { CStr::from_ptr(entry.pw_name) }.to_bytes().to_vec());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_id_command() {
        let expected = std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap()
            .stdout;
        let name = super::login_name().unwrap();
        assert_eq!(name, expected.strip_suffix(b"\n").unwrap());
    }
}
