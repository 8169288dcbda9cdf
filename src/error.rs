//! The one error that ends a run: the C tool's `failure: <message>` on stderr, exit 1.
//! Messages that the C tool prints with an empty line after them carry their own `\n`.

use std::fmt;

/// The message is bytes: it may quote a host name that is not UTF-8, as the C tool would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub Vec<u8>);

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure(message.into().into_bytes())
    }

    /// The whole stderr line: `failure: <message>` and a newline.
    pub fn line(&self) -> Vec<u8> {
        [b"failure: ", self.0.as_slice(), b"\n"].concat()
    }

    /// `failure: prot layer failure` — the server went away while a reader waited.
    pub fn prot_layer() -> Failure {
        Failure::new("prot layer failure")
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failure: {}", String::from_utf8_lossy(&self.0))
    }
}

pub type Result<T> = std::result::Result<T, Failure>;
