//! IMAP's own authentication paths (docs/behaviour.md §6.0, §6.3): `-m login` is the LOGIN command
//! with the password as a synchronising literal; any other `-m` must be advertised as AUTH=.

use crate::auth::exchange::{self, Attempt};
use crate::bytes::starts_with_ci;
use crate::capabilities::Caps;
use crate::error::Result;
use crate::ffi::sasl::{self, Code};
use crate::ffi::secret::Secret;
use crate::net::stack::LINE_MAX;
use crate::protocol::Protocol;
use crate::replies;
use crate::transcript;

pub fn authenticate(
    attempt: &mut Attempt,
    protocol: &Protocol,
    caps: &Caps,
    mechanism: Option<&[u8]>,
    authname: &[u8],
) -> Result<Code> {
    let framing = protocol.sasl.as_ref().expect("IMAP has a SASL command");
    match mechanism {
        Some(mech) if mech.eq_ignore_ascii_case(b"login") => {
            if !caps.login {
                transcript::out(b"[Server advertised LOGINDISABLED]\n");
                return Ok(sasl::SASL_FAIL);
            }
            login(attempt, authname)
        }
        other => exchange::advertised_exchange(attempt, framing, caps, other, "AUTH="),
    }
}

/// `L01 LOGIN <user> {n}`, then the password once the server says `+`.
fn login(attempt: &mut Attempt, authname: &[u8]) -> Result<Code> {
    let password = crate::prompt::password(attempt.prompter);
    let size = format!(" {{{}}}", password.len());
    replies::command(
        attempt.stack,
        [b"L01 LOGIN ", authname, size.as_bytes()].concat(),
    )?;
    let reply = replies::waitfor(attempt.stack, &["+", "L01 "], true)?;
    if !reply.starts_with(b"+") {
        // The C tool reads an uninitialised buffer here; a direct tagged reply is a failure.
        return Ok(sasl::SASL_FAIL);
    }
    transcript::client_line(b"<omitted>");
    replies::send(attempt.stack, &Secret::concat(&[&password, b"\r\n"]))?;
    let done = loop {
        let line = replies::line(attempt.stack, LINE_MAX)?;
        transcript::server_line(&line);
        if line.starts_with(b"L01 ") {
            break line;
        }
    };
    Ok(if starts_with_ci(&done[4..], "OK") {
        sasl::SASL_OK
    } else {
        sasl::SASL_FAIL
    })
}
