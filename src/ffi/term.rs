//! STUB — interface only.
#![allow(dead_code)]

/// glibc `getpass("")`: the password line without its newline (spec §9.3).
pub fn getpass() -> Vec<u8> {
    todo!()
}

/// Makes the C stdio `stdin` unbuffered, as the C tool does at start-up.
pub fn unbuffer_stdio() {}
