//! The one error that ends a run: the C tool's `failure: <message>` on stderr, exit 1.
//! Messages that the C tool prints with an empty line after them carry their own `\n`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure(message.into())
    }

    /// `failure: prot layer failure` — the server went away while a reader waited.
    pub fn prot_layer() -> Failure {
        Failure::new("prot layer failure")
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failure: {}", self.0)
    }
}

pub type Result<T> = std::result::Result<T, Failure>;
