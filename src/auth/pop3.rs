//! POP3's own paths (docs/behaviour.md §6.0, §6.4): `-m user` (USER/PASS), `-m apop` (APOP with the
//! greeting's challenge — or, as the C tool does, the server name when there was none),
//! and the APOP challenge scan of the greeting (docs/behaviour.md §3.5).

use crate::auth::exchange::{self, one_line, password, Attempt};
use crate::bytes::starts_with_ci;
use crate::capabilities::Caps;
use crate::error::Result;
use crate::ffi::sasl::{self, Code};
use crate::ffi::secret::Secret;
use crate::protocol::Protocol;
use crate::transcript;
use openssl::hash::{hash, MessageDigest};

/// The `<...@...>` APOP challenge in a greeting line, scanning from offset 3.
pub fn apop_challenge(line: &[u8]) -> Option<Vec<u8>> {
    let line = crate::bytes::c_str(line);
    let mut cursor = 3.min(line.len());
    while let Some(open) = line[cursor..]
        .iter()
        .position(|&b| b == b'<')
        .map(|p| p + cursor)
    {
        cursor = open + 1;
        while cursor < line.len() && !matches!(line[cursor], b'@' | b'<' | b'>') {
            cursor += 1;
        }
        if line.get(cursor) != Some(&b'@') {
            continue;
        }
        while cursor < line.len() && !matches!(line[cursor], b'<' | b'>') {
            cursor += 1;
        }
        if line.get(cursor) == Some(&b'>') {
            return Some(line[open..=cursor].to_vec());
        }
    }
    None
}

pub fn authenticate(
    attempt: &mut Attempt,
    protocol: &Protocol,
    caps: &Caps,
    mechanism: Option<&[u8]>,
    authname: &[u8],
    apop_challenge: &[u8],
) -> Result<Code> {
    let framing = protocol.sasl.as_ref().expect("POP3 has a SASL command");
    match mechanism {
        Some(mech) if mech.eq_ignore_ascii_case(b"apop") => apop(attempt, authname, apop_challenge),
        Some(mech) if mech.eq_ignore_ascii_case(b"user") => {
            if !caps.login {
                transcript::out(b"[Server did not advertise USER]\n");
                return Ok(sasl::SASL_FAIL);
            }
            user_pass(attempt, authname)
        }
        other => exchange::advertised_exchange(attempt, framing, caps, other, "SASL "),
    }
}

fn user_pass(attempt: &mut Attempt, authname: &[u8]) -> Result<Code> {
    let user = [b"USER ", authname].concat();
    if !starts_with_ci(&one_line(attempt, &user, &user)?, "+OK") {
        return Ok(sasl::SASL_FAIL);
    }
    let password = password(attempt);
    let reply = one_line(
        attempt,
        b"PASS <omitted>",
        &Secret::concat(&[b"PASS ", &password]),
    )?;
    Ok(if starts_with_ci(&reply, "+OK") {
        sasl::SASL_OK
    } else {
        sasl::SASL_FAIL
    })
}

fn apop(attempt: &mut Attempt, authname: &[u8], challenge: &[u8]) -> Result<Code> {
    let password = password(attempt);
    let digest = match hash(
        MessageDigest::md5(),
        &Secret::concat(&[challenge, &password]),
    ) {
        Ok(digest) => digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
        Err(_) => return Ok(sasl::SASL_FAIL),
    };
    let command = [b"APOP ", authname, b" ", digest.as_bytes()].concat();
    let reply = one_line(attempt, &command, &command)?;
    Ok(if starts_with_ci(&reply, "+OK") {
        sasl::SASL_OK
    } else {
        sasl::SASL_FAIL
    })
}

#[cfg(test)]
mod tests {
    use super::apop_challenge;
    use openssl::hash::{hash, MessageDigest};

    #[test]
    fn challenge_is_found_after_offset_three() {
        assert_eq!(
            apop_challenge(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n")
                .as_deref(),
            Some(&b"<1896.697170952@dbc.mtview.ca.us>"[..])
        );
        assert_eq!(
            apop_challenge(b"+OK <no-at-sign> <a@b>\r\n").as_deref(),
            Some(&b"<a@b>"[..])
        );
        assert_eq!(apop_challenge(b"+OK ready\r\n"), None);
        assert_eq!(apop_challenge(b"+OK <a@b\r\n"), None);
        assert_eq!(
            apop_challenge(b"<a@b>"),
            None,
            "the scan starts at offset 3"
        );
    }

    #[test]
    fn rfc1939_digest() {
        let digest = hash(
            MessageDigest::md5(),
            b"<1896.697170952@dbc.mtview.ca.us>tanstaaf",
        )
        .unwrap();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "c4c9334bac560ecc979e58001b3e22fb");
    }
}
