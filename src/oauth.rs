//! XOAUTH2 and OAUTHBEARER (RFC 7628), the two bearer-token mechanisms libsasl2 has no
//! client plugin for, done here: which one a run uses (`select`), the command-line checks
//! (`check_options`), the initial responses, and the answer to the server's error
//! challenge. The generic exchange (`auth.rs`) drives a `Mechanism` exactly where it would
//! drive libsasl2, so framing and transcript are those of every other mechanism.

use crate::ffi::sasl::{self, StepResult};
use crate::ffi::secret::Secret;
use crate::protocol::{Kind as Protocol, Protocol as Table};

/// The two mechanisms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    XOAuth2,
    OAuthBearer,
}

impl Kind {
    /// The name sent in the SASL command.
    pub fn name(self) -> &'static str {
        match self {
            Kind::XOAuth2 => "XOAUTH2",
            Kind::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The mechanism `-m` names (case-insensitive), if it is one of ours.
    pub fn from_name(name: &[u8]) -> Option<Kind> {
        [Kind::XOAuth2, Kind::OAuthBearer]
            .into_iter()
            .find(|kind| name.eq_ignore_ascii_case(kind.name().as_bytes()))
    }
}

/// Which mechanism a run uses, if one of ours. Only with a token: `-m XOAUTH2`/`-m
/// OAUTHBEARER`, or — without `-m` — OAUTHBEARER when the server advertises it, else XOAUTH2
/// when it does. Without a token (nothing opted in) `None` leaves everything to libsasl2, so
/// `-m XOAUTH2` alone ends as in the C tool (`no mechanism available`).
pub fn select(
    mechanism: Option<&[u8]>,
    advertised: Option<&[u8]>,
    has_token: bool,
) -> Option<Kind> {
    if !has_token {
        return None;
    }
    match mechanism {
        Some(name) => Kind::from_name(name),
        None => {
            let list = advertised.unwrap_or_default();
            [Kind::OAuthBearer, Kind::XOAuth2]
                .into_iter()
                .find(|kind| advertises(list, kind.name()))
        }
    }
}

/// Whether the mechanism list holds `name` as a whole word (lists come with quotes,
/// brackets, `AUTH=` prefixes and line ends around the names).
fn advertises(list: &[u8], name: &str) -> bool {
    let is_name_byte = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
    list.split(|b| !is_name_byte(b))
        .any(|word| word.eq_ignore_ascii_case(name.as_bytes()))
}

/// The command-line check, before anything is connected: httptest has no bearer-token
/// support, so a token given to it is refused. (`-m XOAUTH2` without a token is left to
/// libsasl2, exactly as the C tool does.)
pub fn check_options(protocol: &Table, has_token: bool) -> Result<(), String> {
    if protocol.kind == Protocol::Http && has_token {
        return Err("httptest does not support XOAUTH2/OAUTHBEARER bearer tokens".into());
    }
    Ok(())
}

/// What the initial response is built from.
pub struct Credentials<'a> {
    /// `-a`, or the login name.
    pub authname: &'a [u8],
    /// `-u`.
    pub authzid: Option<&'a [u8]>,
    /// The server's name as the round knows it (what libsasl2 is given too).
    pub host: &'a str,
    pub port: u16,
    pub token: &'a [u8],
}

/// The client's first message.
pub fn initial_response(kind: Kind, credentials: &Credentials) -> Secret {
    let bearer = Secret::concat(&[b"auth=Bearer ", credentials.token, b"\x01\x01"]);
    match kind {
        // Google's form: user=<name>^Aauth=Bearer <token>^A^A.
        Kind::XOAuth2 => Secret::concat(&[b"user=", credentials.authname, b"\x01", &bearer]),
        // RFC 7628 §3.1: GS2 header with the authorization identity, then key/value pairs.
        Kind::OAuthBearer => {
            let user = credentials
                .authzid
                .filter(|id| !id.is_empty())
                .unwrap_or(credentials.authname);
            // Over a UNIX-domain socket there is no port: `port=` is left out (it is optional).
            let pairs = match credentials.port {
                0 => format!("\x01host={}\x01", credentials.host),
                port => format!("\x01host={}\x01port={port}\x01", credentials.host),
            };
            Secret::concat(&[
                b"n,a=",
                saslname(user).as_slice(),
                b",",
                pairs.as_bytes(),
                &bearer,
            ])
        }
    }
}

/// RFC 5801 `saslname`: `,` and `=` escaped as `=2C` and `=3D`.
fn saslname(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    for &b in name {
        match b {
            b',' => out.extend_from_slice(b"=2C"),
            b'=' => out.extend_from_slice(b"=3D"),
            _ => out.push(b),
        }
    }
    out
}

/// Where a mechanism stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing produced yet (no initial response was wanted).
    Fresh,
    /// The initial response is out; a challenge now can only be the server's error.
    Sent,
    /// The error challenge was answered; the server has to fail now.
    Answered,
}

/// One exchange of one of the two mechanisms.
pub struct Mechanism {
    kind: Kind,
    initial: Secret,
    state: State,
}

impl Mechanism {
    pub fn new(kind: Kind, credentials: &Credentials) -> Mechanism {
        Mechanism {
            kind,
            initial: initial_response(kind, credentials),
            state: State::Fresh,
        }
    }

    /// Like `sasl_client_start`: the initial response only when one is wanted.
    pub fn start(&mut self, want_initial_response: bool) -> StepResult {
        let output = if want_initial_response {
            self.state = State::Sent;
            Some(self.initial.clone())
        } else {
            None
        };
        StepResult {
            code: sasl::SASL_CONTINUE,
            mechanism: Some(self.kind.name().to_string()),
            output,
        }
    }

    /// Like `sasl_client_step`. Before the initial response went out, any challenge asks
    /// for it. After it, a challenge is the server's error report (RFC 7628 §3.2.2): it is
    /// answered once with the dummy response — `^A` for OAUTHBEARER, an empty one for
    /// XOAUTH2 — whatever it says, so the server can end the exchange with its failure. A
    /// further challenge is a protocol error (the exchange then cancels).
    pub fn step(&mut self, _challenge: Option<&[u8]>) -> StepResult {
        let (code, output) = match self.state {
            State::Fresh => {
                self.state = State::Sent;
                (sasl::SASL_CONTINUE, Some(self.initial.clone()))
            }
            State::Sent => {
                self.state = State::Answered;
                let dummy = match self.kind {
                    Kind::OAuthBearer => Secret::new(vec![0x01]),
                    Kind::XOAuth2 => Secret::default(),
                };
                (sasl::SASL_CONTINUE, Some(dummy))
            }
            State::Answered => (sasl::SASL_BADPROT, None),
        };
        StepResult {
            code,
            mechanism: None,
            output,
        }
    }
}

#[cfg(test)]
mod tests;
