//! NNTP's own paths [3.6] (docs/behaviour.md §6.0, §6.5): `-m user` is AUTHINFO USER/PASS; any
//! other `-m` must be in the advertised SASL list.

use crate::auth::exchange::{self, one_line, password, Attempt};
use crate::capabilities::Caps;
use crate::error::Result;
use crate::ffi::sasl::{self, Code};
use crate::protocol::Protocol;
use crate::transcript;

pub fn authenticate(
    attempt: &mut Attempt,
    protocol: &Protocol,
    caps: &Caps,
    mechanism: Option<&[u8]>,
    authname: &[u8],
) -> Result<Code> {
    let framing = protocol.sasl.as_ref().expect("NNTP has a SASL command");
    match mechanism {
        Some(mech) if mech.eq_ignore_ascii_case(b"user") => {
            if !caps.login {
                transcript::out(b"[Server did not advertise AUTHINFO USER]\n");
                return Ok(sasl::SASL_FAIL);
            }
            authinfo_user(attempt, authname)
        }
        other => exchange::advertised_exchange(attempt, framing, caps, other, "SASL "),
    }
}

fn authinfo_user(attempt: &mut Attempt, authname: &[u8]) -> Result<Code> {
    let user = [b"AUTHINFO USER ", authname].concat();
    let mut reply = one_line(attempt, &user, &user)?;
    if reply.starts_with(b"381") {
        let password = password(attempt);
        reply = one_line(
            attempt,
            b"AUTHINFO PASS <omitted>",
            &crate::ffi::secret::Secret::concat(&[b"AUTHINFO PASS ", &password]),
        )?;
    }
    Ok(if reply.starts_with(b"281") {
        sasl::SASL_OK
    } else {
        sasl::SASL_FAIL
    })
}
