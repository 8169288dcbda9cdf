//! Script steps that run IMAP `AUTHENTICATE` (and IMAP `LOGIN`), the other protocols' SASL
//! commands and SASL over HTTP through the one libsasl2 server fixture
//! (`imtest::testkit::sasl`, shared with the unit tests). After a successful exchange with a
//! negotiated SSF > 0 (DIGEST-MD5 auth-int / auth-conf) the step installs the SASL security
//! layer on the session, so all later traffic is `sasl_encode`d / `sasl_decode`d (4-byte
//! big-endian length + data per buffer).

use super::server::{AuthOutcome, SecurityLayer, Session, Step};
use sasl2_sys::prelude::{SASL_BADPROT, SASL_SUCCESS_DATA};

pub use imtest::testkit::sasl::{
    Progress, ProxyPolicy, SaslDb, SaslError, SaslServer, ServerConfig,
};

/// The result record of a finished exchange on `srv`.
pub fn outcome(srv: &SaslServer, result: Result<(), &SaslError>) -> AuthOutcome {
    AuthOutcome {
        mech: srv.mech().to_string(),
        ok: result.is_ok(),
        error: result.err().map(|e| e.to_string()),
        cancelled: false,
        user: srv.username(),
        authuser: srv.authuser(),
        ssf: srv.ssf(),
    }
}

/// The end of a successful exchange: the outcome recorded, the success `reply` sent, then the
/// security layer put on the connection when one was negotiated and the case wants it.
fn succeed(
    s: &mut Session,
    srv: SaslServer,
    install_layer: bool,
    reply: &str,
) -> Result<(), String> {
    let o = outcome(&srv, Ok(()));
    let ssf = o.ssf;
    s.note(format!("SASL log: {:?}", srv.log()));
    s.record_auth(o);
    s.send(reply.as_bytes())?;
    if ssf > 0 && install_layer {
        s.set_layer(Box::new(srv), ssf)?;
    }
    Ok(())
}

/// The end of a refused exchange: the outcome recorded, `<fail> <libsasl2's text>` sent.
fn refuse(s: &mut Session, srv: &SaslServer, e: &SaslError, fail: &str) -> Result<(), String> {
    s.note(format!("SASL log: {:?}", srv.log()));
    s.record_auth(outcome(srv, Err(e)));
    s.send(format!("{fail} {}\r\n", e.text).as_bytes())
}

/// The result record of an exchange the client cancelled.
fn cancelled(srv: &SaslServer) -> AuthOutcome {
    let error = SaslError {
        code: SASL_BADPROT,
        text: "cancelled by the client".into(),
        detail: String::new(),
    };
    AuthOutcome {
        cancelled: true,
        ..outcome(srv, Err(&error))
    }
}

impl SecurityLayer for SaslServer {
    fn encode(&mut self, plain: &[u8]) -> Result<Vec<u8>, String> {
        SaslServer::encode(self, plain).map_err(|e| format!("sasl_encode: {e}"))
    }

    fn decode(&mut self, wire: &[u8]) -> Result<Vec<u8>, String> {
        SaslServer::decode(self, wire).map_err(|e| format!("sasl_decode: {e}"))
    }
}

/// Hook called with every challenge the server is about to send (raw, before base64).
pub type ChallengeHook = Box<dyn FnMut(&[u8]) + Send>;

/// Parameters of the IMAP `AUTHENTICATE` step.
pub struct ImapAuth {
    pub config: ServerConfig,
    /// The tag the client uses (imtest: `A01`).
    pub tag: String,
    /// Called with each challenge before it is sent (e.g. to compute an OTP answer).
    pub on_challenge: Option<ChallengeHook>,
    /// With TLS up: set `SASL_SSF_EXTERNAL` to the cipher bits and `SASL_AUTH_EXTERNAL` to
    /// the client certificate CN (if any), and `tls-unique` channel binding.
    pub use_tls: bool,
    /// Install the SASL security layer after success when the SSF is > 0.
    pub install_layer: bool,
    /// The channel binding the server checks instead of `tls-unique` (its data from its own
    /// side of the TLS session); `true`: its first byte flipped (right name, wrong data).
    pub binding: Option<(String, bool)>,
}

impl ImapAuth {
    pub fn new(config: ServerConfig) -> ImapAuth {
        ImapAuth {
            config,
            tag: "A01".into(),
            on_challenge: None,
            use_tls: true,
            install_layer: true,
            binding: None,
        }
    }

    pub fn on_challenge(mut self, f: impl FnMut(&[u8]) + Send + 'static) -> ImapAuth {
        self.on_challenge = Some(Box::new(f));
        self
    }

    pub fn step(self) -> Step {
        Step::Run(Box::new(move |s| imap_authenticate(s, self)))
    }
}

/// Step: serve one IMAP `AUTHENTICATE` through libsasl2 (see [`ImapAuth`]).
pub fn imap_auth(config: &ServerConfig) -> Step {
    ImapAuth::new(config.clone()).step()
}

fn imap_authenticate(s: &mut Session, mut a: ImapAuth) -> Result<(), String> {
    let line = s.read_line()?;
    let text = String::from_utf8_lossy(&line).into_owned();
    let words: Vec<&str> = text.trim_end_matches(['\r', '\n']).split(' ').collect();
    if words.len() < 3
        || words[0] != a.tag
        || !words[1].eq_ignore_ascii_case("AUTHENTICATE")
        || words.len() > 4
    {
        return Err(format!(
            "expected `{} AUTHENTICATE <mech> [<ir>]`, got {text:?}",
            a.tag
        ));
    }
    let mech = words[2].to_string();
    let initial = match words.get(3) {
        None => None,
        Some(&"=") => Some(Vec::new()),
        Some(ir) => Some(
            super::wire::b64decode(ir.as_bytes())
                .ok_or_else(|| format!("initial response is not base64: {ir:?}"))?,
        ),
    };
    let (local, remote) = (s.local.clone(), s.remote.clone());
    let mut srv = SaslServer::new(&a.config, &local, &remote).map_err(|e| e.to_string())?;
    if a.use_tls {
        if let Some(tls) = s.tls().cloned() {
            srv.set_external(tls.bits.max(0) as u32, tls.peer_cn.as_deref())
                .map_err(|e| format!("external props: {e}"))?;
            let (name, corrupt) = a.binding.clone().unwrap_or(("tls-unique".into(), false));
            let mut data = tls.binding(&name)?;
            if let Some(first) = data.first_mut().filter(|_| corrupt) {
                *first ^= 0xff;
            }
            srv.set_channel_binding(&name, false, &data)
                .map_err(|e| format!("channel binding: {e}"))?;
        }
    }
    let tag = a.tag.clone();
    let mut r = srv.start(&mech, initial.as_deref());
    loop {
        match r {
            Ok(Progress::Continue(ch)) => {
                if let Some(h) = a.on_challenge.as_mut() {
                    h(&ch);
                }
                let msg = if ch.is_empty() {
                    "+ \r\n".to_string()
                } else {
                    format!("+ {}\r\n", super::wire::b64encode(&ch))
                };
                s.send(msg.as_bytes())?;
                let resp = s.read_line()?;
                if resp == b"*\r\n" || resp == b"*\n" {
                    s.send(format!("{tag} BAD cancelled\r\n").as_bytes())?;
                    s.record_auth(cancelled(&srv));
                    return Ok(());
                }
                let Some(data) = super::wire::b64decode(strip_crlf(&resp)) else {
                    s.send(format!("{tag} BAD invalid base64\r\n").as_bytes())?;
                    let e = SaslError {
                        code: SASL_BADPROT,
                        text: "client response is not base64".into(),
                        detail: String::from_utf8_lossy(&resp).into_owned(),
                    };
                    s.record_auth(outcome(&srv, Err(&e)));
                    return Ok(());
                };
                r = srv.step(&data);
            }
            Ok(Progress::Done(_)) => {
                return succeed(s, srv, a.install_layer, &format!("{tag} OK done\r\n"));
            }
            Err(e) => return refuse(s, &srv, &e, &format!("{tag} NO")),
        }
    }
}

/// Step: serve the IMAP `LOGIN` command as imtest sends it (`L01 LOGIN <user> {n}`, then the
/// password as a literal after our `+ go ahead`), checking the password with `sasl_checkpass`.
pub fn imap_login(config: &ServerConfig) -> Step {
    let config = config.clone();
    Step::Run(Box::new(move |s: &mut Session| {
        let line = s.read_line()?;
        let text = String::from_utf8_lossy(&line).into_owned();
        let t = text.trim_end_matches(['\r', '\n']);
        let parts: Vec<&str> = t.split(' ').collect();
        let (user, n) = match parts.as_slice() {
            ["L01", login, user, lit] if login.eq_ignore_ascii_case("LOGIN") => {
                let n: usize = lit
                    .strip_prefix('{')
                    .and_then(|l| l.strip_suffix('}'))
                    .and_then(|l| l.parse().ok())
                    .ok_or_else(|| format!("bad literal in {t:?}"))?;
                (user.to_string(), n)
            }
            _ => return Err(format!("expected `L01 LOGIN <user> {{n}}`, got {t:?}")),
        };
        s.send(b"+ go ahead\r\n")?;
        let pass = s.read_exact(n)?;
        let crlf = s.read_line()?;
        if crlf != b"\r\n" {
            return Err(format!(
                "expected CR LF after the password literal, got {crlf:?}"
            ));
        }
        let (local, remote) = (s.local.clone(), s.remote.clone());
        let mut srv = SaslServer::new(&config, &local, &remote).map_err(|e| e.to_string())?;
        let r = srv.checkpass(user.as_bytes(), &pass);
        s.note(format!("SASL log: {:?}", srv.log()));
        let mut o = outcome(&srv, r.as_ref().map(|_| ()));
        o.mech = "IMAP LOGIN".into();
        if o.ok && o.user.is_none() {
            o.user = Some(user.clone());
        }
        s.record_auth(o);
        match r {
            Ok(()) => s.send(b"L01 OK logged in\r\n"),
            Err(e) => s.send(format!("L01 NO {}\r\n", e.text).as_bytes()),
        }
    }))
}

// ------------------------------------------------------------------------------------------
// The other protocols' SASL commands (imtest's `auth_sasl` framings,
// docs/behaviour.md §1.2 and §6.1), and HTTP's `Authorization:` / `WWW-Authenticate:` exchange
// (docs/behaviour.md §6.6).

/// How the server sends a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeForm {
    /// `<prefix><base64>` (`+ `, `334 `, `383 `).
    Prefix(&'static str),
    /// A bare base64 line (mupdate).
    Bare,
    /// `{n}` CR LF `<base64>` CR LF (sieve).
    Literal,
}

/// Where a success reply carries the mechanism's last data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuccessForm {
    /// Not at all: final data goes out as one more challenge (the connection has no
    /// `SASL_SUCCESS_DATA`).
    None,
    /// `OK (SASL "<base64>")`.
    Sieve,
    /// `283 <base64>`.
    Nntp,
}

/// The server side of one protocol's SASL command.
#[derive(Debug, Clone, Copy)]
pub struct ServerFraming {
    /// What the client's command starts with (`AUTH`, `A01 AUTHENTICATE`, ...).
    pub command: &'static str,
    /// Mechanism in quotes and the initial response as a `{n+}` literal (sieve, mupdate).
    pub quoted: bool,
    pub challenge: ChallengeForm,
    /// The whole success line (without CR LF) when there is no success data.
    pub ok: &'static str,
    /// Start of the failure line (the error text follows after a space).
    pub fail: &'static str,
    pub success: SuccessForm,
    /// The client's SASL service name.
    pub service: &'static str,
}

/// Each protocol's framing, one line each: key | command | challenge (`+`, `334`, `383`: that
/// prefix and a space; `bare`; `literal`) | mechanism quoted (`quoted` or `-`) | success line
/// | failure start | success data (`-`, `sieve`, `nntp`) | SASL service.
const FRAMINGS: &str = "\
imap    | A01 AUTHENTICATE | +       | -      | A01 OK done     | A01 NO    | -     | imap
pop3    | AUTH             | +       | -      | +OK done        | -ERR      | -     | pop
smtp    | AUTH             | 334     | -      | 235 2.7.0 ok    | 535 5.7.8 | -     | smtp
lmtp    | AUTH             | 334     | -      | 235 2.7.0 ok    | 535 5.7.8 | -     | lmtp
mupdate | A01 AUTHENTICATE | bare    | quoted | A01 OK \"done\" | A01 NO    | -     | mupdate
sieve   | AUTHENTICATE     | literal | quoted | OK \"done\"     | NO        | sieve | sieve
csync   | AUTHENTICATE     | +       | -      | OK success      | NO        | -     | csync
nntp    | AUTHINFO SASL    | 383     | -      | 281 ok          | 481       | nntp  | nntp";

/// The framing imtest uses for `key` (`pop3`, `smtp`, `lmtp`, `mupdate`, `sieve`, `csync`,
/// `nntp`, `imap`).
pub fn framing(key: &str) -> ServerFraming {
    let line = FRAMINGS.lines().find(|l| l.split(' ').next() == Some(key));
    let line = line.unwrap_or_else(|| panic!("no SASL framing for {key}"));
    let f: Vec<&'static str> = line.split('|').map(str::trim).collect();
    ServerFraming {
        command: f[1],
        challenge: match f[2] {
            "bare" => ChallengeForm::Bare,
            "literal" => ChallengeForm::Literal,
            "+" => ChallengeForm::Prefix("+ "),
            "334" => ChallengeForm::Prefix("334 "),
            "383" => ChallengeForm::Prefix("383 "),
            other => panic!("unknown challenge form {other}"),
        },
        quoted: f[3] == "quoted",
        ok: f[4],
        fail: f[5],
        success: match f[6] {
            "sieve" => SuccessForm::Sieve,
            "nntp" => SuccessForm::Nntp,
            _ => SuccessForm::None,
        },
        service: f[7],
    }
}

/// Parameters of a [`proto_auth`] step.
pub struct ProtoAuth {
    pub config: ServerConfig,
    pub framing: ServerFraming,
    /// Install the SASL security layer after success when the SSF is > 0.
    pub install_layer: bool,
}

/// Step: serve one SASL command of `framing`'s protocol through libsasl2 (TLS facts become
/// the external SSF/auth id and `tls-unique` binding; a layer is installed after success).
/// Success data goes into the success reply where the protocol has a form for it.
pub fn proto_auth(config: &ServerConfig, framing: ServerFraming) -> Step {
    let mut config = config.clone().service(framing.service);
    if framing.success != SuccessForm::None {
        config.flags |= SASL_SUCCESS_DATA;
    }
    let a = ProtoAuth {
        config,
        framing,
        install_layer: true,
    };
    Step::Run(Box::new(move |s| proto_authenticate(s, a)))
}

fn strip_crlf(line: &[u8]) -> &[u8] {
    let t = line.strip_suffix(b"\n").unwrap_or(line);
    t.strip_suffix(b"\r").unwrap_or(t)
}

/// `{n+}` → Some(n).
fn literal_plus(t: &[u8]) -> Option<usize> {
    std::str::from_utf8(t.strip_prefix(b"{")?.strip_suffix(b"+}")?)
        .ok()?
        .parse()
        .ok()
}

/// A client response line (or `{n+}` literal) → Ok(Some(data)), Ok(None) for `*`.
fn read_response(s: &mut Session, quoted_literal_ok: bool) -> Result<Option<Vec<u8>>, String> {
    let line = s.read_line()?;
    let t = strip_crlf(&line);
    if t == b"*" {
        return Ok(None);
    }
    let b64 = match literal_plus(t).filter(|_| quoted_literal_ok) {
        Some(n) => {
            let body = s.read_line()?;
            let b = strip_crlf(&body).to_vec();
            if b.len() != n {
                return Err(format!("literal announced {n} bytes, got {:?}", body));
            }
            b
        }
        None => t.to_vec(),
    };
    super::wire::b64decode(&b64).map(Some).ok_or_else(|| {
        format!(
            "response is not base64: {:?}",
            String::from_utf8_lossy(&line)
        )
    })
}

fn proto_authenticate(s: &mut Session, a: ProtoAuth) -> Result<(), String> {
    let f = a.framing;
    let line = s.read_line()?;
    let text = String::from_utf8_lossy(strip_crlf(&line)).into_owned();
    let rest = text
        .strip_prefix(f.command)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| format!("expected `{} <mech>...`, got {text:?}", f.command))?;
    let (mech, ir) = match rest.split_once(' ') {
        Some((m, ir)) => (m, Some(ir)),
        None => (rest, None),
    };
    let mech = if f.quoted {
        mech.strip_prefix('"')
            .and_then(|m| m.strip_suffix('"'))
            .ok_or_else(|| format!("mechanism not quoted in {text:?}"))?
    } else {
        mech
    };
    let initial: Option<Vec<u8>> = match ir {
        None => None,
        // Empty initial response; quoting protocols add an empty literal and a blank line.
        Some("=") => Some(Vec::new()),
        Some("={0+}") => {
            let blank = s.read_line()?;
            if strip_crlf(&blank) != b"" {
                return Err(format!(
                    "expected a blank line after ={{0+}}, got {blank:?}"
                ));
            }
            Some(Vec::new())
        }
        Some(lit) if f.quoted && literal_plus(lit.as_bytes()).is_some() => {
            let n = literal_plus(lit.as_bytes()).unwrap_or(0);
            let body = s.read_line()?;
            let b = strip_crlf(&body);
            if b.len() != n {
                return Err(format!("literal announced {n} bytes, got {body:?}"));
            }
            Some(
                super::wire::b64decode(b)
                    .ok_or_else(|| format!("initial response is not base64: {body:?}"))?,
            )
        }
        Some(ir) => Some(
            super::wire::b64decode(ir.as_bytes())
                .ok_or_else(|| format!("initial response is not base64: {ir:?}"))?,
        ),
    };
    let (local, remote) = (s.local.clone(), s.remote.clone());
    let mut srv = SaslServer::new(&a.config, &local, &remote).map_err(|e| e.to_string())?;
    if let Some(tls) = s.tls().cloned() {
        srv.set_external(tls.bits.max(0) as u32, tls.peer_cn.as_deref())
            .map_err(|e| format!("external props: {e}"))?;
        srv.set_channel_binding("tls-unique", false, &tls.tls_unique)
            .map_err(|e| format!("channel binding: {e}"))?;
    }
    let mut r = srv.start(mech, initial.as_deref());
    loop {
        match r {
            Ok(Progress::Continue(ch)) => {
                let b64 = if ch.is_empty() {
                    String::new()
                } else {
                    super::wire::b64encode(&ch)
                };
                let msg = match f.challenge {
                    ChallengeForm::Prefix(p) => format!("{p}{b64}\r\n"),
                    ChallengeForm::Bare => format!("{b64}\r\n"),
                    ChallengeForm::Literal => format!("{{{}}}\r\n{b64}\r\n", b64.len()),
                };
                s.send(msg.as_bytes())?;
                match read_response(s, f.quoted)? {
                    Some(data) => r = srv.step(&data),
                    None => {
                        s.send(format!("{} cancelled\r\n", f.fail).as_bytes())?;
                        s.record_auth(cancelled(&srv));
                        return Ok(());
                    }
                }
            }
            Ok(Progress::Done(data)) => {
                let b64 = data.as_deref().map(super::wire::b64encode);
                let reply = match (f.success, b64) {
                    (SuccessForm::Sieve, Some(d)) => format!("OK (SASL \"{d}\")\r\n"),
                    (SuccessForm::Nntp, Some(d)) => format!("283 {d}\r\n"),
                    _ => format!("{}\r\n", f.ok),
                };
                return succeed(s, srv, a.install_layer, &reply);
            }
            Err(e) => return refuse(s, &srv, &e, f.fail),
        }
    }
}

/// Step: serve SASL over HTTP (RFC 7804 style, as httptest speaks it) through libsasl2: one
/// `OPTIONS` request per round trip, `Authorization: <scheme> [sid=<sid>,]data=<base64>`
/// answered by `401` + `WWW-Authenticate: <scheme> sid=<sid>, data=<base64>`; success is
/// `200` with the final data in `Authentication-Info: <scheme> sid=<sid>, data=<base64>`.
/// `sid` is the session id the server hands out.
pub fn http_sasl(config: &ServerConfig, sid: &'static str) -> Step {
    let config = config.clone().service("HTTP");
    Step::Run(Box::new(move |s| http_authenticate(s, config, sid)))
}

/// Reads one request head; returns its `Authorization:` value (without CR LF).
fn read_request_auth(s: &mut Session) -> Result<Option<String>, String> {
    let mut auth = None;
    loop {
        let line = s.read_line()?;
        let t = strip_crlf(&line);
        if t.is_empty() {
            return Ok(auth);
        }
        if let Some(v) = t.strip_prefix(b"Authorization: ") {
            auth = Some(String::from_utf8_lossy(v).into_owned());
        }
    }
}

fn http_authenticate(s: &mut Session, config: ServerConfig, sid: &str) -> Result<(), String> {
    let (local, remote) = (s.local.clone(), s.remote.clone());
    let mut srv: Option<SaslServer> = None;
    let mut scheme = String::new();
    loop {
        let auth = match read_request_auth(s) {
            Ok(auth) => auth.ok_or("request without Authorization:")?,
            // A client that gave up after our 401 (it may wait for us to close): done.
            Err(e) if srv.is_some() => {
                s.note(format!("no further request: {e}"));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let (sch, params) = auth.split_once(' ').unwrap_or((auth.as_str(), ""));
        let mut data = None;
        for p in params.split(',') {
            let p = p.trim();
            if let Some(d) = p.strip_prefix("data=") {
                data = Some(d.to_string());
            } else if let Some(got) = p.strip_prefix("sid=") {
                if got != sid {
                    return Err(format!("client sent sid={got}, expected {sid}"));
                }
            }
        }
        let data = match data.as_deref() {
            None | Some("=") => None,
            Some(d) => Some(
                super::wire::b64decode(d.as_bytes())
                    .ok_or_else(|| format!("data is not base64: {d:?}"))?,
            ),
        };
        let r = match srv.as_mut() {
            None => {
                scheme = sch.to_string();
                let mut new =
                    SaslServer::new(&config, &local, &remote).map_err(|e| e.to_string())?;
                let r = new.start(sch, data.as_deref());
                srv = Some(new);
                r
            }
            Some(srv) => srv.step(data.as_deref().unwrap_or_default()),
        };
        let srv_ref = srv.as_ref().ok_or("no server")?;
        match r {
            Ok(Progress::Continue(ch)) => {
                let b64 = super::wire::b64encode(&ch);
                s.send(format!("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {scheme} sid={sid}, data={b64}\r\nContent-Length: 0\r\n\r\n").as_bytes())?;
                // Clients answer at once; one that does not has given up.
                s.set_timeout(std::time::Duration::from_secs(1));
            }
            Ok(Progress::Done(d)) => {
                s.record_auth(outcome(srv_ref, Ok(())));
                let info = match d {
                    Some(d) => format!(
                        "Authentication-Info: {scheme} sid={sid}, data={}\r\n",
                        super::wire::b64encode(&d)
                    ),
                    None => String::new(),
                };
                s.send(format!("HTTP/1.1 200 OK\r\n{info}Content-Length: 0\r\n\r\n").as_bytes())?;
                return Ok(());
            }
            Err(e) => {
                s.record_auth(outcome(srv_ref, Err(&e)));
                s.send(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")?;
                return Ok(());
            }
        }
    }
}
