//! The engine's judge for SASL mechanism exchanges against the libsasl2 fake server: the
//! server's view of the authentication (ok, mechanism, user, authuser, SSF), stdout lines in
//! order, the exit status, and for ours the C tool's stdout and stderr after [`mask`]
//! (nonces and digests differ from run to run).

use crate::engine::Observation;
use crate::support::server::{run, AuthOutcome, ServerReport, Step};
use crate::support::wire::show;
use crate::support::wire::WireItem;

/// The libsasl2 server's expected view of the (only) authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthView {
    pub ok: bool,
    pub mech: String,
    pub user: Option<String>,
    pub authuser: Option<String>,
    pub ssf: u32,
}

impl AuthView {
    /// Success for `user` (authorization and authentication identity) with `ssf`.
    pub fn ok(mech: &str, user: &str, ssf: u32) -> AuthView {
        AuthView {
            ok: true,
            mech: mech.to_string(),
            user: Some(user.to_string()),
            authuser: Some(user.to_string()),
            ssf,
        }
    }

    /// `ok|fail MECH USER AUTHUSER ssf N` (`-` for no user), as in case files (words).
    pub fn parse(words: &[String]) -> Result<AuthView, String> {
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let [result, mech, user, authuser, "ssf", ssf] = w.as_slice() else {
            return Err(format!("auth: ok|fail MECH USER AUTHUSER ssf N, got {w:?}"));
        };
        let name = |n: &str| (n != "-").then(|| n.to_string());
        Ok(AuthView {
            ok: match *result {
                "ok" => true,
                "fail" => false,
                other => return Err(format!("auth: ok or fail, got {other:?}")),
            },
            mech: mech.to_string(),
            user: name(user),
            authuser: name(authuser),
            ssf: ssf.parse().map_err(|e| format!("auth ssf: {e}"))?,
        })
    }

    fn of(a: &AuthOutcome) -> AuthView {
        AuthView {
            ok: a.ok,
            mech: a.mech.clone(),
            user: a.user.clone(),
            authuser: a.authuser.clone(),
            ssf: a.ssf,
        }
    }
}

/// What is wrong with one run: the server's view, the lines (in order), the exit status.
pub fn problems(
    want: &AuthView,
    lines: &[String],
    status: i32,
    stdout: &[u8],
    code: i32,
    report: &ServerReport,
) -> Vec<String> {
    let mut p = Vec::new();
    let auths: Vec<&AuthOutcome> = report.conns.iter().flat_map(|c| c.auth.iter()).collect();
    match auths.as_slice() {
        [a] => {
            if AuthView::of(a) != *want {
                p.push(format!(
                    "server view expected {want:?}, got {:?} (error: {:?})",
                    AuthView::of(a),
                    a.error
                ));
            }
        }
        other => p.push(format!(
            "expected one authentication on the server, got {other:?}"
        )),
    }
    // Each stdout line matches either as is or masked (base64 payloads, OTP seed).
    let raw: Vec<String> = String::from_utf8_lossy(stdout)
        .split('\n')
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect();
    let masked: Vec<String> = mask(stdout)
        .split('\n')
        .map(|l| l.trim_end_matches("\\r").to_string())
        .collect();
    let mut pos = 0;
    for want in lines {
        match (pos..raw.len()).find(|&i| raw[i] == *want || masked.get(i) == Some(want)) {
            Some(i) => pos = i + 1,
            None => p.push(format!("stdout lacks line {want:?} (in order)")),
        }
    }
    if code != status {
        p.push(format!("exit status {code} (expected {status})"));
    }
    p
}

/// Replaces run-to-run values in stdout: base64 payloads of `C: ` / `S: + ` lines (nonces,
/// digests), a trailing initial response on `AUTHENTICATE` lines, and the OTP seed.
pub fn mask(stdout: &[u8]) -> String {
    let text = show(stdout);
    let is_b64 = |s: &str| {
        s.len() >= 4
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
    };
    text.split('\n')
        .map(|line| {
            let (body, cr) = match line.strip_suffix("\\r") {
                Some(b) => (b, "\\r"),
                None => (line, ""),
            };
            // A prompt may precede `C: ` on the same line.
            let (pre, rest) = match body.find("C: ") {
                Some(i) => (&body[..i + 3], &body[i + 3..]),
                None => match body.strip_prefix("S: + ") {
                    Some(r) => ("S: + ", r),
                    None => ("", body),
                },
            };
            if pre.is_empty() {
                if let Some(ch) = body.strip_prefix("Server challenge: ") {
                    let w: Vec<&str> = ch.split(' ').collect();
                    if w.len() == 4 {
                        return format!("Server challenge: {} {} <seed> {}{cr}", w[0], w[1], w[3]);
                    }
                }
                return line.to_string();
            }
            if is_b64(rest) {
                return format!("{pre}<base64>{cr}");
            }
            let w: Vec<&str> = rest.split(' ').collect();
            if w.len() == 4 && w[1] == "AUTHENTICATE" && is_b64(w[3]) {
                return format!("{pre}{} {} {} <base64>{cr}", w[0], w[1], w[2]);
            }
            line.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Answers whatever follows the authentication until `Q01 LOGOUT`: the capability re-read
/// after a security layer (`caps`), `<tag> NOOP`; anything else gets `BAD`.
pub fn imap_tail(caps: String) -> Step {
    run(move |s| loop {
        let line = s.read_line()?;
        let text = String::from_utf8_lossy(&line).into_owned();
        let t = text.trim_end_matches(['\r', '\n']);
        let mut w = t.splitn(2, ' ');
        let (tag, cmd) = (w.next().unwrap_or(""), w.next().unwrap_or(""));
        match cmd.to_ascii_uppercase().as_str() {
            "LOGOUT" if tag == "Q01" => return Ok(()),
            "CAPABILITY" => {
                s.send(format!("* CAPABILITY {caps}\r\n{tag} OK done\r\n").as_bytes())?
            }
            "NOOP" => s.send(format!("* 1 EXISTS\r\n{tag} OK noop\r\n").as_bytes())?,
            _ => s.send(format!("{tag} BAD unexpected\r\n").as_bytes())?,
        }
    })
}

/// Replaces base64 runs (padding `=` only at the end) of 16+ characters by `<B64>`.
pub fn mask_b64(b: &[u8]) -> Vec<u8> {
    let is_b64 = |c: &&u8| c.is_ascii_alphanumeric() || **c == b'+' || **c == b'/';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let body = b[i..].iter().take_while(is_b64).count();
        let run = body + b[i + body..].iter().take_while(|&&c| c == b'=').count();
        if run >= 16 {
            out.extend_from_slice(b"<B64>");
            i += run;
        } else if run > 0 {
            out.extend_from_slice(&b[i..i + run]);
            i += run;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Normaliser `mask-base64`: SASL data (random per run) masked in stdout and on the wire.
pub fn mask_sasl(o: &mut Observation) {
    o.stdout = mask_b64(&o.stdout);
    for w in &mut o.wire {
        if let WireItem::ClientToServer(b) | WireItem::ServerToClient(b) = w {
            *b = mask_b64(b);
        }
    }
}

/// Check `authenticated: USER ssf N`: every authentication the libsasl2 server saw succeeded
/// with authentication identity `user` and `ssf` (so masked data was right), and there was one.
pub fn authenticated(user: String, ssf: u32) -> impl Fn(&mut Observation) {
    move |o: &mut Observation| {
        let auths: Vec<_> = o.report.conns.iter().flat_map(|c| c.auth.iter()).collect();
        assert!(
            !auths.is_empty(),
            "{}: no authentication reached the server",
            o.imp.label()
        );
        for a in auths {
            assert!(
                a.ok && a.authuser.as_deref() == Some(user.as_str()) && a.ssf == ssf,
                "{}: server-side outcome {a:?}, expected {user} with ssf {ssf}",
                o.imp.label()
            );
        }
    }
}

/// Check `client-first: "PREFIX"`: the decoded initial response of the IMAP `AUTHENTICATE`
/// the server received (a SCRAM client-first message: gs2 header, `n=`) starts with PREFIX.
pub fn client_first(prefix: Vec<u8>) -> impl Fn(&mut Observation) {
    move |o: &mut Observation| {
        let received = String::from_utf8_lossy(&o.report.conns[0].received()).into_owned();
        let ir = received
            .lines()
            .find_map(|l| l.strip_prefix("A01 AUTHENTICATE ")?.split(' ').nth(1));
        let first = ir.and_then(|ir| crate::support::wire::b64decode(ir.as_bytes()));
        let first = first.unwrap_or_default();
        assert!(
            first.starts_with(&prefix),
            "{}: client-first message {:?}, expected it to start with {:?}",
            o.imp.label(),
            String::from_utf8_lossy(&first),
            String::from_utf8_lossy(&prefix)
        );
    }
}

/// Check `refused: "TEXT"`: the one authentication the server saw failed, and libsasl2's
/// error says TEXT.
pub fn refused(text: String) -> impl Fn(&mut Observation) {
    move |o: &mut Observation| {
        let a = o.report.auth();
        let error = a.error.as_deref().unwrap_or("");
        assert!(
            !a.ok && error.contains(&text),
            "{}: server-side outcome {a:?}, expected a refusal saying {text:?}",
            o.imp.label()
        );
    }
}
