//! HTTP authentication (docs/behaviour.md §6.6): Basic, and SASL mechanisms carried in
//! `Authorization:` / `WWW-Authenticate:` headers of `OPTIONS *` requests — Negotiate
//! (GSS-SPNEGO), Digest [3.6] and SCRAM with `sid=`/`data=` parameters, parsed the way
//! upstream master does (3.6 kept the line ending in `data` and always failed).

use crate::auth::exchange::Attempt;
use crate::bytes::contains_ci;
use crate::capabilities::Caps;
use crate::error::Result;
use crate::ffi::sasl::{self, Code, PromptKind};
use crate::ffi::secret::Secret;
use crate::prompt;
use crate::protocol::HTTP_CAPABILITY_REQUEST;
use crate::replies;
use crate::transcript;

/// The HTTP SASL line reader's size (base64 of 16K, docs/behaviour.md §1.3).
const HTTP_LINE_MAX: usize = 21848;

pub fn authenticate(
    attempt: &mut Attempt,
    caps: &Caps,
    mechanism: Option<&[u8]>,
    authname: &[u8],
    host: &str,
) -> Result<Code> {
    let list = caps.mechs.clone().unwrap_or_default();
    let Some(mech) = mechanism else {
        return sasl_exchange(attempt, list.as_bytes(), host);
    };
    if mech.eq_ignore_ascii_case(b"basic") || mech.eq_ignore_ascii_case(b"plain") {
        if !caps.login {
            transcript::out(b"[Server did not advertise HTTP Basic]\n");
            return Ok(sasl::SASL_FAIL);
        }
        return basic(attempt, authname, host);
    }
    let mech = if mech.eq_ignore_ascii_case(b"negotiate") {
        b"GSS-SPNEGO".to_vec()
    } else if mech.eq_ignore_ascii_case(b"digest") {
        b"DIGEST-MD5".to_vec()
    } else {
        mech.to_ascii_uppercase()
    };
    // Upstream master prints this; 3.6 crashed here for the rewritten names.
    if !contains_ci(list.as_bytes(), &mech) {
        let message = [b"[Server did not advertise HTTP ", mech.as_slice(), b"]\n"];
        transcript::out(&message.concat());
        return Ok(sasl::SASL_FAIL);
    }
    sasl_exchange(attempt, &mech, host)
}

/// The OPTIONS request head, printed and queued; `Authorize-As:` when `-u` was given.
fn request_head(attempt: &mut Attempt, host: &str, authzid: &[u8]) {
    let head = HTTP_CAPABILITY_REQUEST.replace("%s", host);
    let mut shown = format!("C: {}", head.replace("\r\n", "\r\nC: ")).into_bytes();
    attempt.stack.write(head.as_bytes());
    if !authzid.is_empty() {
        shown.extend_from_slice(&[b"Authorize-As: ", authzid, b"\r\nC: "].concat());
        attempt
            .stack
            .write(&[b"Authorize-As: ", authzid, b"\r\n"].concat());
    }
    transcript::out(&shown);
}

fn basic(attempt: &mut Attempt, authname: &[u8], host: &str) -> Result<Code> {
    let authzid = prompt::ask(attempt.prompter, PromptKind::User, "Username");
    let password = prompt::password(attempt.prompter);
    let mut credentials = Secret::concat(&[authname, b":", password.as_slice()]);
    credentials.truncate(1023);
    let Ok(encoded) = sasl::encode64(&credentials) else {
        return Ok(sasl::SASL_FAIL);
    };
    request_head(attempt, host, &authzid);
    let line = Secret::concat(&[b"Authorization: Basic ", encoded.as_slice()]);
    send_authorization(attempt, &line)?;
    let status = replies::waitfor(attempt.stack, &["HTTP/1.1 "], true)?;
    Ok(if status.starts_with(b"HTTP/1.1 200") {
        sasl::SASL_OK
    } else {
        sasl::SASL_FAIL
    })
}

/// Prints and sends the `Authorization:` line that ends a request (it carries a credential:
/// every copy is a `Secret`).
fn send_authorization(attempt: &mut Attempt, line: &[u8]) -> Result<()> {
    transcript::out(&Secret::concat(&[line, b"\r\nC: \r\n"]));
    replies::send(attempt.stack, &Secret::concat(&[line, b"\r\n\r\n"]))
}

/// Where an exchange stands after the server's answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Continue,
    No,
}

fn sasl_exchange(attempt: &mut Attempt, mechlist: &[u8], host: &str) -> Result<Code> {
    // The request the mechanisms see: OPTIONS * with an empty body.
    let _ = attempt
        .conn
        .borrow_mut()
        .set_http_request("OPTIONS", "*", b"", true);
    let authzid = prompt::ask(attempt.prompter, PromptKind::User, "Username");
    let started = attempt
        .conn
        .borrow_mut()
        .start(mechlist, true, attempt.prompter);
    if started.code != sasl::SASL_OK && started.code != sasl::SASL_CONTINUE {
        return Ok(started.code);
    }
    let mechanism = started.mechanism.unwrap_or_default();
    let scheme = match mechanism.as_str() {
        "GSS-SPNEGO" => "Negotiate".to_string(),
        "DIGEST-MD5" => "Digest".to_string(),
        other => other.to_string(),
    };
    let use_params = mechanism.starts_with("SCRAM-");
    let use_base64 = scheme != "Digest";
    let mut output = started.output;
    let mut first = true;
    let mut sid: Option<Vec<u8>> = None;
    loop {
        request_head(attempt, host, &authzid);
        let mut line = Secret::concat(&[format!("Authorization: {scheme}").as_bytes()]);
        if let Some(data) = output.take() {
            line.push(b' ');
            if first && data.is_empty() {
                line.push(b'=');
            } else {
                let data = if !data.is_empty() && use_base64 {
                    match sasl::encode64_within(&data, HTTP_LINE_MAX) {
                        Ok(encoded) => encoded,
                        Err(code) => return Ok(code),
                    }
                } else {
                    data
                };
                if use_params {
                    if let Some(sid) = &sid {
                        line.extend_from_slice(b"sid=");
                        line.extend_from_slice(sid);
                        line.extend_from_slice(b",");
                    }
                    line.extend_from_slice(b"data=");
                }
                line.extend_from_slice(&data);
            }
        }
        first = false;
        send_authorization(attempt, &line)?;

        let status_line = replies::line(attempt.stack, HTTP_LINE_MAX)?;
        transcript::server_line(&status_line);
        let status = if status_line.starts_with(b"HTTP/1.1 200") {
            Status::Ok
        } else if status_line.starts_with(b"HTTP/1.1 401") {
            Status::Continue
        } else {
            Status::No
        };
        let mut challenge: Option<Vec<u8>> = None;
        while let Ok(Some(header)) = attempt.stack.read_line_now(HTTP_LINE_MAX) {
            transcript::server_line(&header);
            let header = crate::bytes::c_str(&header);
            let carries = (status == Status::Ok && header.starts_with(b"Authentication-Info:"))
                || header.starts_with(b"WWW-Authenticate:");
            if !carries {
                continue;
            }
            match parse_challenge(header, &scheme, use_params, &mut sid) {
                Ok(Some(found)) => challenge = Some(found),
                Ok(None) => {}
                Err(message) => {
                    transcript::message(&message);
                    return Ok(sasl::SASL_FAIL);
                }
            }
        }
        let mut step_code = sasl::SASL_OK;
        if status == Status::Continue || (status == Status::Ok && challenge.is_some()) {
            let text = challenge.unwrap_or_default();
            let data = if use_base64 {
                match sasl::decode64_within(&text, HTTP_LINE_MAX) {
                    Ok(data) => data,
                    Err(code) => {
                        transcript::message(&format!("base64 decoding error: {code}"));
                        return Ok(sasl::SASL_FAIL);
                    }
                }
            } else {
                text
            };
            let step = attempt
                .conn
                .borrow_mut()
                .step_with(Some(&data), attempt.prompter);
            step_code = step.code;
            output = step.output;
        }
        if step_code != sasl::SASL_OK && step_code != sasl::SASL_CONTINUE {
            return Ok(sasl::SASL_FAIL);
        }
        if output.is_none() {
            return Ok(if status == Status::Ok {
                sasl::SASL_OK
            } else {
                sasl::SASL_FAIL
            });
        }
    }
}

/// From a `WWW-Authenticate:`/`Authentication-Info:` line for our scheme, the challenge:
/// SCRAM's `data` parameter (with `sid` kept constant) or the token after the scheme.
pub(crate) fn parse_challenge(
    header: &[u8],
    scheme: &str,
    use_params: bool,
    sid: &mut Option<Vec<u8>>,
) -> std::result::Result<Option<Vec<u8>>, String> {
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let Some(colon) = header.iter().position(|&b| b == b':') else {
        return Ok(None);
    };
    let rest = &header[colon + 1..];
    let start = rest.iter().position(|b| !is_space(b)).unwrap_or(rest.len());
    let rest = &rest[start..];
    let name_len = rest
        .iter()
        .position(|b| is_space(b) || *b == b'\r' || *b == b'\n')
        .unwrap_or(rest.len());
    if &rest[..name_len] != scheme.as_bytes() {
        return Ok(None);
    }
    // Skip the delimiter after the scheme name, then blanks.
    let after = rest.get(name_len + 1..).unwrap_or_default();
    let after = &after[after
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(after.len())..];
    if !use_params {
        let end = after
            .iter()
            .position(|b| is_space(b) || *b == b'\r' || *b == b'\n')
            .unwrap_or(after.len());
        return Ok(Some(after[..end].to_vec()));
    }
    let mut data = None;
    let mut token = after;
    loop {
        let skip = token
            .iter()
            .position(|b| !matches!(b, b',' | b' ' | b'\t'))
            .unwrap_or(token.len());
        token = &token[skip..];
        if token.is_empty() {
            break;
        }
        let name_len = token
            .iter()
            .position(|b| matches!(b, b'=' | b' ' | b'\t'))
            .unwrap_or(token.len());
        let name = &token[..name_len];
        let Some(eq) = token[name_len..]
            .iter()
            .position(|&b| b == b'=')
            .map(|p| p + name_len)
        else {
            return Err(format!(
                "Missing value for '{}' parameter in challenge",
                String::from_utf8_lossy(name)
            ));
        };
        let value = &token[eq + 1..];
        let value = &value[value
            .iter()
            .position(|b| !is_space(b))
            .unwrap_or(value.len())..];
        let value_len = value
            .iter()
            .position(|b| matches!(b, b',' | b' ' | b'\t' | b'\r' | b'\n'))
            .unwrap_or(value.len());
        let found = &value[..value_len];
        // Names are compared over the received name's length, as upstream does.
        if b"sid".starts_with(name) {
            match sid {
                None => *sid = Some(found.to_vec()),
                Some(known) if known.as_slice() != found => {
                    return Err("Incorrect session ID parameter".into())
                }
                Some(_) => {}
            }
        } else if b"data".starts_with(name) {
            data = Some(found.to_vec());
        }
        match value[value_len..].iter().position(|&b| b == b',') {
            Some(comma) => token = &value[value_len + comma..],
            None => break,
        }
    }
    data.map(Some)
        .ok_or_else(|| "Missing 'data' parameter in challenge".to_string())
}

#[cfg(test)]
mod tests {
    use super::parse_challenge;

    #[test]
    fn token68_after_scheme() {
        let mut sid = None;
        let got = parse_challenge(
            b"WWW-Authenticate: Negotiate YWJj\r\n",
            "Negotiate",
            false,
            &mut sid,
        );
        assert_eq!(got, Ok(Some(b"YWJj".to_vec())));
        let other = parse_challenge(
            b"WWW-Authenticate: Basic realm=x\r\n",
            "Negotiate",
            false,
            &mut sid,
        );
        assert_eq!(other, Ok(None));
    }

    #[test]
    fn scram_parameters_end_before_the_line_ending() {
        let mut sid = None;
        let line = b"WWW-Authenticate: SCRAM-SHA-256 sid=AAA, data=cj1h\r\n";
        assert_eq!(
            parse_challenge(line, "SCRAM-SHA-256", true, &mut sid),
            Ok(Some(b"cj1h".to_vec()))
        );
        assert_eq!(sid.as_deref(), Some(&b"AAA"[..]));
        let changed = b"WWW-Authenticate: SCRAM-SHA-256 sid=BBB, data=cj1h\r\n";
        assert_eq!(
            parse_challenge(changed, "SCRAM-SHA-256", true, &mut sid),
            Err("Incorrect session ID parameter".into())
        );
    }

    #[test]
    fn scram_parameter_errors() {
        let mut sid = None;
        assert_eq!(
            parse_challenge(
                b"WWW-Authenticate: SCRAM-SHA-1 realm\r\n",
                "SCRAM-SHA-1",
                true,
                &mut sid
            ),
            Err("Missing value for 'realm\r\n' parameter in challenge".into()),
            "the name runs to the end of the line, as upstream prints it"
        );
        assert_eq!(
            parse_challenge(
                b"WWW-Authenticate: SCRAM-SHA-1 realm=x\r\n",
                "SCRAM-SHA-1",
                true,
                &mut sid
            ),
            Err("Missing 'data' parameter in challenge".into())
        );
    }
}
