//! The one type for bytes that must not outlive their use: passwords, bearer tokens, the
//! prompter's answers, and every buffer built from them (LOGIN/PASS lines, HTTP Basic
//! credentials, SASL responses and their base64). Its whole buffer, spare capacity
//! included, is wiped when it is dropped, and it never grows by reallocating without
//! wiping the buffer it leaves.

use super::memory::wipe;

#[derive(Default, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Takes over `bytes` (whatever copies the caller made before are its own to wipe).
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }

    /// An empty secret with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Secret {
        Secret(Vec::with_capacity(capacity))
    }

    /// The pieces one after another, in a buffer allocated once at the final size.
    pub fn concat(pieces: &[&[u8]]) -> Secret {
        let mut secret = Secret::with_capacity(pieces.iter().map(|p| p.len()).sum());
        for piece in pieces {
            secret.extend_from_slice(piece);
        }
        secret
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// Appends `bytes`; a full buffer moves to a larger one and the old one is wiped.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        grow_wiping(&mut self.0, bytes.len());
        self.0.extend_from_slice(bytes);
    }

    pub fn push(&mut self, byte: u8) {
        self.extend_from_slice(&[byte]);
    }

    /// Keeps the first `len` bytes; the rest is wiped.
    pub fn truncate(&mut self, len: usize) {
        if len < self.0.len() {
            wipe(&mut self.0[len..]);
            self.0.truncate(len);
        }
    }
}

/// Makes room for `additional` more bytes in `buffer` without leaving a copy behind: when the
/// capacity is short, the bytes move to a new buffer (at least twice as large) and the old
/// one, spare capacity included, is wiped before it is freed.
pub fn grow_wiping(buffer: &mut Vec<u8>, additional: usize) {
    let needed = buffer.len().saturating_add(additional);
    if needed <= buffer.capacity() {
        return;
    }
    let mut larger = Vec::with_capacity(needed.max(buffer.capacity().saturating_mul(2)));
    larger.extend_from_slice(buffer);
    let mut old = std::mem::replace(buffer, larger);
    wipe_all(&mut old);
}

/// Wipes every byte of `buffer`'s allocation, not only its length; it ends up empty.
pub fn wipe_all(buffer: &mut Vec<u8>) {
    // Within the capacity: no reallocation, only the spare bytes become initialised.
    buffer.resize(buffer.capacity(), 0);
    wipe(buffer);
    buffer.clear();
}

impl Clone for Secret {
    fn clone(&self) -> Secret {
        Secret::concat(&[&self.0])
    }
}

impl std::ops::Deref for Secret {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Secret {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[cfg(test)]
impl<const N: usize> PartialEq<&[u8; N]> for Secret {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.0 == other[..]
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        wipe_all(&mut self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_allocates_once_at_the_final_size() {
        let secret = Secret::concat(&[b"PASS ", b"hunter2", b"\r\n"]);
        assert_eq!(secret.as_slice(), b"PASS hunter2\r\n");
        assert_eq!(secret.0.capacity(), 14);
    }

    #[test]
    fn growing_wipes_the_buffer_left_behind() {
        let mut secret = Secret::with_capacity(4);
        secret.extend_from_slice(b"abcd");
        let old = secret.0.as_ptr();
        secret.extend_from_slice(b"efgh");
        assert_ne!(secret.0.as_ptr(), old);
        assert_eq!(secret.as_slice(), b"abcdefgh");
        assert!(secret.0.capacity() >= 8);
    }

    #[test]
    fn wipe_all_keeps_the_allocation_and_empties_it() {
        let mut buffer = b"secret-password".to_vec();
        buffer.truncate(6);
        let (capacity, at) = (buffer.capacity(), buffer.as_ptr());
        wipe_all(&mut buffer);
        assert!(buffer.is_empty());
        assert_eq!((buffer.capacity(), buffer.as_ptr()), (capacity, at));
    }

    #[test]
    fn truncate_wipes_the_cut_part() {
        let mut secret = Secret::new(b"line\r\n".to_vec());
        secret.truncate(4);
        assert_eq!(secret.as_slice(), b"line");
        secret.truncate(9);
        assert_eq!(secret.as_slice(), b"line");
    }
}
