//! Wiping secrets: the one place that overwrites memory a password or token was in.

/// Overwrites a secret (explicit_bzero: not optimised away) before its memory goes back.
pub fn wipe(bytes: &mut [u8]) {
    // SAFETY: `bytes` is a valid, writable slice of exactly `bytes.len()` bytes.
    unsafe { libc::explicit_bzero(bytes.as_mut_ptr().cast(), bytes.len()) };
}

#[cfg(test)]
mod tests {
    use super::wipe;

    #[test]
    fn wipe_zeroes() {
        let mut secret = *b"hunter2";
        wipe(&mut secret);
        assert_eq!(secret, [0; 7]);
    }
}
