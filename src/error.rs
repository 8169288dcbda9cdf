//! The one error that ends a run: the C tool's `failure: <message>` on stderr, exit 1.
//! Messages that the C tool prints with an empty line after them carry their own `\n`.
//! Each failure also says at which stage it happened, for `--exit-status` (see `Stage`).

use std::fmt;

/// Where a run went wrong; only `--exit-status` turns this into distinct exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// On this side: the command line, local files, library set-up, stdin.
    Local,
    /// Resolving the host or connecting to it (including `--connect-timeout`).
    Connect,
    /// STARTTLS refused or missing, a failed handshake, a failed `--verify`.
    Tls,
    /// Authentication did not succeed.
    Auth,
    /// The server closed, stalled (`--read-timeout`) or answered nonsense.
    Protocol,
}

impl Stage {
    /// The `--exit-status` code (table in the man page, section EXIT STATUS).
    pub fn exit_code(self) -> i32 {
        match self {
            Stage::Local => 1,
            Stage::Connect => 2,
            Stage::Tls => 3,
            Stage::Auth => 4,
            Stage::Protocol => 5,
        }
    }
}

/// The message is bytes: it may quote a host name that is not UTF-8, as the C tool would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: Vec<u8>,
    pub stage: Stage,
}

impl Failure {
    /// A failure on this side (`Stage::Local`); see [`Failure::at`] for the others.
    pub fn new(message: impl Into<String>) -> Failure {
        Failure::bytes(message.into().into_bytes(), Stage::Local)
    }

    pub fn bytes(message: Vec<u8>, stage: Stage) -> Failure {
        Failure { message, stage }
    }

    /// The same failure, placed at `stage`.
    pub fn at(mut self, stage: Stage) -> Failure {
        self.stage = stage;
        self
    }

    /// The whole stderr line: `failure: <message>` and a newline.
    pub fn line(&self) -> Vec<u8> {
        [b"failure: ", self.message.as_slice(), b"\n"].concat()
    }

    /// `failure: prot layer failure` — the server went away while a reader waited.
    pub fn prot_layer() -> Failure {
        Failure::new("prot layer failure").at(Stage::Protocol)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failure: {}", String::from_utf8_lossy(&self.message))
    }
}

pub type Result<T> = std::result::Result<T, Failure>;
