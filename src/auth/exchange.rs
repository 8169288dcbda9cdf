//! The generic SASL exchange shared by every protocol with a SASL command (docs/behaviour.md §6.1):
//! start the mechanism, send the command (with an initial response where allowed), then
//! answer challenges until the server says yes or no. Protocol framing comes from the
//! protocol table; the prompts come from the `Prompter`.

use crate::bytes::{c_str, contains_ci, starts_with_ci};
use crate::capabilities::Caps;
use crate::error::Result;
use crate::ffi::sasl::{self, Code, Prompter};
use crate::ffi::secret::Secret;
use crate::net::stack::{Stack, SASL_LINE_MAX};
use crate::oauth;
use crate::protocol::{SaslFraming, SuccessData};
use crate::replies;
use crate::transcript;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// The C tool encodes responses into a 4096-byte buffer (NUL included).
const BASE64_BUFFER: usize = 4096;

/// Sieve challenges must be `{n}` literals. After any other reply line (a quoted-string
/// challenge, docs/behaviour.md §10.16) the C tool waits for "the literal's line" forever, while
/// the server waits for our answer. We wait the same way — a line that does come is taken just
/// as the C tool takes it — but only this long; then the run ends with a failure instead of
/// hanging. Generous, because only a server that will never send anything is waited for.
pub const SIEVE_LITERAL_WAIT: Duration = Duration::from_secs(30);

/// Everything one authentication attempt works with.
pub struct Attempt<'a> {
    pub stack: &'a mut Stack,
    pub conn: &'a Rc<RefCell<sasl::Conn>>,
    /// A bearer-token mechanism of ours (`oauth::select`): when set, the generic exchange
    /// drives it instead of libsasl2.
    pub oauth: Option<oauth::Mechanism>,
    pub prompter: &'a mut dyn Prompter,
    /// Longest initial response the command line may carry; 0 = none.
    pub initial_response_limit: usize,
}

/// What one reply line to a SASL step says (docs/behaviour.md §6.1 step 6), decided from the line
/// alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyLine {
    /// With the SASL data a success reply carried, if any.
    Success(Option<Challenge>),
    Failure,
    Challenge(Challenge),
    /// The challenge text is not base64.
    Undecodable,
    /// An untagged `*` line: printed, and the next line is read.
    Untagged,
    /// A `{n}` literal header (literal framing): the challenge is the next line, which must
    /// be at least `n` bytes long.
    Literal(usize),
}

/// A decoded challenge; `None` for a blank line (the library then gets a NULL pointer).
pub type Challenge = Option<Vec<u8>>;

/// Runs the exchange for `mechlist` and returns the SASL code to report.
pub fn exchange(attempt: &mut Attempt, framing: &SaslFraming, mechlist: &[u8]) -> Result<Code> {
    let want_initial = attempt.initial_response_limit > 0;
    let started = start(attempt, mechlist, want_initial);
    if started.code != sasl::SASL_OK && started.code != sasl::SASL_CONTINUE {
        return Ok(started.code);
    }
    let mechanism = started.mechanism.unwrap_or_default();
    let command = if framing.quoted {
        format!("{} \"{}\"", framing.command, mechanism)
    } else {
        format!("{} {}", framing.command, mechanism)
    };
    transcript::out(format!("C: {command}").as_bytes());
    attempt.stack.write(command.as_bytes());

    let mut literal_mode = framing.quoted;
    let mut pending_initial: Option<Secret> = None;
    let mut response: Option<Secret> = None;
    // With no initial response (or one too long for the line) nothing follows the
    // mechanism name on the command line.
    let mut skip_body = false;
    match started.output {
        Some(initial) if initial.is_empty() => {
            transcript::out(b" =");
            attempt.stack.write(b" =");
        }
        Some(initial)
            if !framing.quoted
                && command.len() + initial.len() + 3 > attempt.initial_response_limit =>
        {
            pending_initial = Some(initial);
            skip_body = true;
        }
        Some(initial) => {
            transcript::out(b" ");
            attempt.stack.write(b" ");
            response = Some(initial);
        }
        None => skip_body = true,
    }

    // Bearer tokens are often longer than the C tool's buffer allows for: sized to fit.
    let base64_room = attempt.oauth.is_none().then_some(BASE64_BUFFER);
    let mut on_command_line = true;
    loop {
        if !skip_body {
            if let Err(code) = send_response(
                attempt.stack,
                response.take(),
                on_command_line,
                literal_mode,
                base64_room,
            ) {
                return Ok(code);
            }
        }
        skip_body = false;
        transcript::out(b"\r\n");
        replies::send(attempt.stack, b"\r\n")?;
        on_command_line = false;

        // Our mechanisms also take a sieve challenge as a quoted string (RFC 5804 allows it;
        // Dovecot sends the OAuth error that way), which the C tool cannot read.
        let quoted = attempt.oauth.is_some();
        let reply = read_reply(attempt.stack, framing, SIEVE_LITERAL_WAIT, quoted)?;
        literal_mode = framing.quoted && framing.continuation.is_none();
        let (challenge, succeeded) = match reply {
            ReplyLine::Failure => return Ok(sasl::SASL_FAIL),
            ReplyLine::Undecodable => {
                transcript::out(b"base64 decoding error\n");
                return Ok(sasl::SASL_FAIL);
            }
            ReplyLine::Success(None) => return Ok(sasl::SASL_OK),
            ReplyLine::Success(Some(data)) => (data, true),
            ReplyLine::Challenge(challenge) => (challenge, false),
            // read_reply never hands these on.
            ReplyLine::Untagged | ReplyLine::Literal(_) => return Ok(sasl::SASL_FAIL),
        };
        let empty = challenge.as_ref().is_none_or(|c| c.is_empty());
        if empty && pending_initial.is_some() && !succeeded {
            // An empty challenge asks for the delayed initial response.
            response = pending_initial.take();
            continue;
        }
        let step = step(attempt, challenge.as_deref());
        if step.code != sasl::SASL_OK && step.code != sasl::SASL_CONTINUE {
            transcript::client_line(framing.cancel.as_bytes());
            replies::send(attempt.stack, format!("{}\r\n", framing.cancel).as_bytes())?;
            return Ok(step.code);
        }
        if succeeded {
            return Ok(sasl::SASL_OK);
        }
        response = step.output;
    }
}

/// Starts the mechanism: ours if the attempt has one, else libsasl2's choice from `mechlist`.
fn start(attempt: &mut Attempt, mechlist: &[u8], want_initial: bool) -> sasl::StepResult {
    match attempt.oauth.as_mut() {
        Some(mechanism) => mechanism.start(want_initial),
        None => attempt
            .conn
            .borrow_mut()
            .start(mechlist, want_initial, attempt.prompter),
    }
}

/// One mechanism step with the decoded challenge (`None`: a blank line).
fn step(attempt: &mut Attempt, challenge: Option<&[u8]>) -> sasl::StepResult {
    match attempt.oauth.as_mut() {
        Some(mechanism) => mechanism.step(challenge),
        None => attempt
            .conn
            .borrow_mut()
            .step_with(challenge, attempt.prompter),
    }
}

/// The SASL path of a protocol whose `-m` must be advertised (imap, pop3, nntp): with `-m X`
/// the exchange for X if the list contains it (any case), else the C tool's
/// `[Server did not advertise <what>X]` and a failure; without `-m`, the whole list.
pub fn advertised_exchange(
    attempt: &mut Attempt,
    framing: &SaslFraming,
    caps: &Caps,
    mechanism: Option<&[u8]>,
    what: &str,
) -> Result<Code> {
    let list = caps.mechs.clone().unwrap_or_default();
    match mechanism {
        Some(mech) if !contains_ci(list.as_bytes(), mech) => {
            let upper = mech.to_ascii_uppercase();
            let message = [
                b"[Server did not advertise ",
                what.as_bytes(),
                &upper,
                b"]\n",
            ];
            transcript::out(&message.concat());
            Ok(sasl::SASL_FAIL)
        }
        Some(mech) => exchange(attempt, framing, mech),
        None => exchange(attempt, framing, list.as_bytes()),
    }
}

/// Writes one response (base64 into `base64_room` bytes, or sized to fit when `None`; a
/// literal for quoting protocols); the caller ends the line. On the command line itself
/// nothing gets a `C: ` prefix.
fn send_response(
    stack: &mut Stack,
    response: Option<Secret>,
    on_command_line: bool,
    literal_mode: bool,
    base64_room: Option<usize>,
) -> std::result::Result<(), Code> {
    let prefix: &[u8] = if on_command_line { b"" } else { b"C: " };
    match response {
        Some(data) => {
            let encoded = match base64_room {
                Some(room) => sasl::encode64_within(&data, room)?,
                None => sasl::encode64(&data)?,
            };
            if literal_mode {
                let header = format!("{{{}+}}\r\n", encoded.len());
                transcript::out(&[prefix, header.as_bytes()].concat());
                stack.write(header.as_bytes());
                stack.flush().map_err(|_| sasl::SASL_FAIL)?;
            }
            let prefix: &[u8] = if on_command_line || !literal_mode {
                prefix
            } else {
                b"C: "
            };
            transcript::out(&Secret::concat(&[prefix, &encoded]));
            stack.write(&encoded);
        }
        _ if literal_mode => {
            // Upstream master's rendering of an empty literal (docs/behaviour.md §12).
            transcript::out(b"C: {0+}");
            stack.write(b"{0+}\r\n");
        }
        _ => transcript::out(prefix),
    }
    Ok(())
}

/// Reads the server's answer to a step, printing every line (docs/behaviour.md §6.1 step 6):
/// untagged lines are skipped and a literal header is followed by its body line; what comes back is
/// never `Untagged` or `Literal`. After a reply that is not a `{n}` literal header, the
/// "literal" line is awaited at most `literal_wait` (see [`SIEVE_LITERAL_WAIT`]) — unless
/// `quoted_challenges` and the reply is a quoted string: that is the challenge then.
fn read_reply(
    stack: &mut Stack,
    framing: &SaslFraming,
    literal_wait: Duration,
    quoted_challenges: bool,
) -> Result<ReplyLine> {
    loop {
        let line = replies::line(stack, SASL_LINE_MAX)?;
        transcript::server_line(&line);
        match classify_reply(framing, &line) {
            ReplyLine::Untagged => continue,
            ReplyLine::Literal(_) if quoted_challenges && line.starts_with(b"\"") => {
                return Ok(decode_challenge(quoted_content(&line)));
            }
            ReplyLine::Literal(size) => {
                if !line.starts_with(b"{") && !wait_readable(stack, literal_wait) {
                    return Err(crate::error::Failure::new(format!(
                        "no SASL challenge literal from the server within {} seconds",
                        literal_wait.as_secs()
                    ))
                    .at(crate::error::Stage::Protocol));
                }
                let body = replies::line(stack, SASL_LINE_MAX)?;
                // Too short for the announced size (as a C string): fatal, before it is shown.
                if c_str(&body).len() < size {
                    return Err(crate::error::Failure::prot_layer());
                }
                transcript::server_line(&body);
                return Ok(decode_challenge(c_str(&body)));
            }
            reply => return Ok(reply),
        }
    }
}

/// What stands between the quotes of a `"..."` line (to the last quote; base64 needs no
/// escapes).
fn quoted_content(line: &[u8]) -> &[u8] {
    let inner = line.get(1..).unwrap_or_default();
    let end = inner
        .iter()
        .rposition(|&b| b == b'"')
        .unwrap_or(inner.len());
    &inner[..end]
}

/// Classifies one reply line to a SASL step for this framing (pure: no reads, no output).
pub fn classify_reply(framing: &SaslFraming, line: &[u8]) -> ReplyLine {
    if line.starts_with(b"*") {
        return ReplyLine::Untagged;
    }
    if starts_with_ci(line, framing.ok) {
        return match success_data(framing.success_data, c_str(line)) {
            None => ReplyLine::Success(None),
            Some(text) => match decode_challenge(text) {
                ReplyLine::Challenge(data) => ReplyLine::Success(Some(data)),
                other => other,
            },
        };
    }
    if starts_with_ci(line, framing.fail) {
        return ReplyLine::Failure;
    }
    match framing.continuation {
        // The prefix is skipped without checking it is there (C behaviour).
        Some(prefix) => {
            let text = c_str(line);
            decode_challenge(&text[prefix.len().min(text.len())..])
        }
        None => ReplyLine::Literal(literal_size(line.get(1..).unwrap_or_default())),
    }
}

/// Waits until a read would not block (data, EOF or an error), at most `limit`.
fn wait_readable(stack: &Stack, limit: Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if stack.has_pending() {
            return true;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // EINTR or a wake-up: check again; the deadline bounds the loop.
        let _ = crate::ffi::sys::poll_read(&[stack.fd()], ms);
    }
}

/// The SASL data a success reply carries, if the protocol has such a form and it is there.
fn success_data(form: SuccessData, line: &[u8]) -> Option<&[u8]> {
    match form {
        SuccessData::None => None,
        SuccessData::Sieve => {
            let rest = line.strip_prefix(b"OK (")?;
            let at = rest.windows(6).position(|w| w == b"SASL \"")?;
            let data = &rest[at + 6..];
            Some(&data[..data.iter().position(|&b| b == b'"').unwrap_or(data.len())])
        }
        SuccessData::Nntp => {
            let rest = line.strip_prefix(b"283 ")?;
            Some(&rest[..rest.iter().position(|&b| b == b' ').unwrap_or(rest.len())])
        }
    }
}

fn decode_challenge(text: &[u8]) -> ReplyLine {
    if text.first() == Some(&b'\r') {
        return ReplyLine::Challenge(None);
    }
    let mut text = text;
    if let Some(rest) = text.strip_suffix(b"\n") {
        text = rest;
    }
    if let Some(rest) = text.strip_suffix(b"\r") {
        text = rest;
    }
    match sasl::decode64(text) {
        Ok(data) => ReplyLine::Challenge(Some(data)),
        Err(_) => ReplyLine::Undecodable,
    }
}

/// The size of a `{n}` literal as the C tool takes it: `atoi` of what follows the first
/// byte, stored in an `unsigned` (so `{4294967296}` is 0 and `{-5}` is 4294967291).
pub fn literal_size(text: &[u8]) -> usize {
    crate::bytes::atoi(text) as u32 as usize
}

/// The password for a command of our own (POP3 PASS, NNTP AUTHINFO PASS), from `-w` or a
/// prompt.
pub fn password(attempt: &mut Attempt) -> Secret {
    crate::prompt::password(attempt.prompter)
}

/// Sends a printed command and reads one printed reply line (POP3 and NNTP's own logins).
pub fn one_line(attempt: &mut Attempt, shown: &[u8], sent: &[u8]) -> Result<Vec<u8>> {
    transcript::client_line(shown);
    // `sent` may carry the password: its line is a `Secret` too.
    replies::send(attempt.stack, &Secret::concat(&[sent, b"\r\n"]))?;
    let reply = replies::line(attempt.stack, crate::net::stack::LINE_MAX)?;
    transcript::server_line(&reply);
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::literal_size;

    #[test]
    fn success_data_forms() {
        use super::{success_data, SuccessData};
        assert_eq!(
            success_data(SuccessData::Sieve, b"OK (SASL \"dj1h\")\r\n"),
            Some(&b"dj1h"[..])
        );
        assert_eq!(success_data(SuccessData::Sieve, b"OK \"done\"\r\n"), None);
        assert_eq!(
            success_data(SuccessData::Nntp, b"283 dj1h more\r\n"),
            Some(&b"dj1h"[..])
        );
        assert_eq!(success_data(SuccessData::Nntp, b"281 ok\r\n"), None);
        assert_eq!(success_data(SuccessData::None, b"OK (SASL \"x\")"), None);
    }

    fn classify(key: &str, line: &[u8]) -> super::ReplyLine {
        let framing = crate::protocol::lookup(key)
            .and_then(|p| p.sasl.as_ref())
            .expect("a SASL protocol");
        super::classify_reply(framing, line)
    }

    #[test]
    fn reply_lines_are_classified_per_framing() {
        use super::ReplyLine::*;
        assert_eq!(classify("imap", b"* CAPABILITY x\r\n"), Untagged);
        assert_eq!(classify("imap", b"A01 OK done\r\n"), Success(None));
        assert_eq!(classify("imap", b"a01 no\r\n"), Failure);
        assert_eq!(
            classify("imap", b"+ dj1h\r\n"),
            Challenge(Some(b"v=a".to_vec()))
        );
        assert_eq!(classify("imap", b"+ \r\n"), Challenge(None));
        assert_eq!(classify("imap", b"+ YWI=Y\r\n"), Undecodable);
        // The continuation prefix is skipped unchecked; shorter lines leave nothing.
        assert_eq!(classify("imap", b"+"), Challenge(Some(Vec::new())));
        assert_eq!(classify("sieve", b"{12}\r\n"), Literal(12));
        assert_eq!(classify("sieve", b"\"x\"\r\n"), Literal(0));
        assert_eq!(
            classify("sieve", b"OK (SASL \"dj1h\")\r\n"),
            Success(Some(Some(b"v=a".to_vec())))
        );
        assert_eq!(classify("sieve", b"OK (SASL \"YQ=a\")\r\n"), Undecodable);
        assert_eq!(
            classify("nntp", b"283 dj1h\r\n"),
            Success(Some(Some(b"v=a".to_vec())))
        );
        assert_eq!(classify("pop3", b"-ERR no\r\n"), Failure);
    }

    /// A connected stack and the server's end of the socket.
    fn stack_pair() -> (crate::net::stack::Stack, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (crate::net::stack::Stack::new(client), server)
    }

    fn sieve() -> &'static crate::protocol::SaslFraming {
        crate::protocol::lookup("sieve")
            .unwrap()
            .sasl
            .as_ref()
            .unwrap()
    }

    #[test]
    fn quoted_sieve_challenge_waits_a_bounded_time() {
        use std::io::Write;
        use std::time::{Duration, Instant};
        let (mut stack, mut server) = stack_pair();
        server.write_all(b"\"cmVhbG0=\"\r\n").unwrap();
        let start = Instant::now();
        let got = super::read_reply(&mut stack, sieve(), Duration::from_millis(300), false);
        let waited = start.elapsed();
        match got {
            Err(failure) => assert!(
                failure
                    .to_string()
                    .starts_with("failure: no SASL challenge literal from the server within "),
                "{failure}"
            ),
            Ok(_) => panic!("a quoted challenge must not be taken as a literal"),
        }
        assert!(
            waited >= Duration::from_millis(300),
            "gave up early: {waited:?}"
        );
        assert!(
            waited < Duration::from_secs(5),
            "waited too long: {waited:?}"
        );
    }

    #[test]
    fn a_line_after_a_quoted_challenge_is_taken_like_the_c_tool_does() {
        use std::io::Write;
        use std::time::Duration;
        let (mut stack, mut server) = stack_pair();
        server.write_all(b"\"cmVhbG0=\"\r\n").unwrap();
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            server.write_all(b"dj1h\r\n").unwrap();
            server
        });
        let got = super::read_reply(&mut stack, sieve(), Duration::from_secs(10), false);
        drop(late.join());
        assert!(matches!(got, Ok(super::ReplyLine::Challenge(Some(ref c))) if c == b"v=a"));
    }

    #[test]
    fn server_closing_during_the_wait_is_a_prot_layer_failure() {
        use std::io::Write;
        use std::time::Duration;
        let (mut stack, mut server) = stack_pair();
        server.write_all(b"\"cmVhbG0=\"\r\n").unwrap();
        drop(server);
        let got = super::read_reply(&mut stack, sieve(), Duration::from_secs(10), false);
        assert_eq!(got.err(), Some(crate::error::Failure::prot_layer()));
    }

    #[test]
    fn quoted_challenge_taken_at_once_for_our_mechanisms() {
        use std::io::Write;
        use std::time::Duration;
        let (mut stack, mut server) = stack_pair();
        server.write_all(b"\"cmVhbG0=\"\r\n").unwrap();
        let got = super::read_reply(&mut stack, sieve(), Duration::from_secs(30), true);
        assert!(matches!(got, Ok(super::ReplyLine::Challenge(Some(ref c))) if c == b"realm"));
        assert_eq!(super::quoted_content(b"\"\""), b"");
        assert_eq!(super::quoted_content(b"\"ab"), b"ab");
    }

    #[test]
    fn literal_sizes_as_c_reads_them() {
        assert_eq!(literal_size(b"12}\r\n"), 12);
        assert_eq!(literal_size(b"x"), 0);
        assert_eq!(literal_size(b""), 0);
        assert_eq!(literal_size(b" +7}"), 7);
        assert_eq!(literal_size(b"4294967296}"), 0);
        assert_eq!(literal_size(b"4294967297}"), 1);
        assert_eq!(literal_size(b"-5}"), 4294967291);
        assert_eq!(literal_size(b"99999999999999999999}"), 0xFFFF_FFFF);
    }
}
