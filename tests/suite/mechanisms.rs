//! Every SASL mechanism imtest can use, end to end against a libsasl2-backed fake IMAP server
//! (in-process `sasl_server_*`, sasldb made by `saslpasswd2`). Each case asserts the server's
//! view (authenticated user, authorization id, SASL SSF), the client's result lines and exit
//! status, for the C oracle (`imap/sasl/<case>::oracle`) and for ours (`::ours`, which also
//! compares its normalised stdout/stderr with a C run of the same case).

use crate::support::run::{Command, Imp, Input, Output};
use crate::support::sasl_server::*;
use crate::support::server::*;
use crate::support::wire::{diff, show};
use libtest_mimic::Trial;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};

const REALM: &str = "EXAMPLE";
const PASS: &str = "secret";

/// What a case's server script may use.
struct Env {
    db: Arc<SaslDb>,
    /// Live stdin of the client (for prompts answered from the server's challenge).
    feed: Arc<Mutex<Option<Sender<Vec<u8>>>>>,
}

impl Env {
    fn cfg(&self) -> ServerConfig {
        ServerConfig::new(&self.db)
    }
}

/// The server's expected view of the authentication.
struct Expect {
    ok: bool,
    mech: &'static str,
    user: Option<&'static str>,
    authuser: Option<&'static str>,
    ssf: u32,
}

type ServerFn = Box<dyn Fn(&Env) -> Vec<Script>>;
type CheckFn = Box<dyn Fn(&Output, &ServerReport)>;

struct MechCase {
    name: &'static str,
    /// `{PORT}` and `{CERT:<user>}` (client certificate PEM for `-t`) are substituted.
    args: Vec<&'static str>,
    users: Vec<(&'static str, &'static str)>,
    /// None = live stdin fed by the server script through `Env::feed`.
    stdin: Option<Vec<u8>>,
    server: ServerFn,
    expect: Expect,
    /// Lines stdout must contain (whole lines, without line end), in this order.
    lines: Vec<&'static str>,
    status: i32,
    checks: Vec<CheckFn>,
}

impl MechCase {
    fn new(name: &'static str, args: &[&'static str], expect: Expect) -> MechCase {
        MechCase {
            name,
            args: args.to_vec(),
            users: vec![("tim", PASS)],
            stdin: Some(Vec::new()),
            server: Box::new(|_| Vec::new()),
            expect,
            lines: Vec::new(),
            status: 0,
            checks: Vec::new(),
        }
    }
    fn server(mut self, f: impl Fn(&Env) -> Vec<Script> + 'static) -> Self {
        self.server = Box::new(f);
        self
    }
    fn lines(mut self, l: &[&'static str]) -> Self {
        self.lines = l.to_vec();
        self
    }
    fn stdin(mut self, s: &[u8]) -> Self {
        self.stdin = Some(s.to_vec());
        self
    }
    fn live_stdin(mut self) -> Self {
        self.stdin = None;
        self
    }
    fn users(mut self, u: &[(&'static str, &'static str)]) -> Self {
        self.users = u.to_vec();
        self
    }
    fn check(mut self, f: impl Fn(&Output, &ServerReport) + 'static) -> Self {
        self.checks.push(Box::new(f));
        self
    }

    fn observe(&self, imp: Imp) -> (Output, ServerReport) {
        // A fresh sasldb per run: OTP sequences and locks must not leak between runs.
        let db = SaslDb::create(REALM, &self.users);
        let (tx, rx) = channel();
        let env = Env {
            db,
            feed: Arc::new(Mutex::new(Some(tx))),
        };
        let server = FakeServer::start((self.server)(&env));
        let port = server.port().to_string();
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| {
                if let Some(u) = a.strip_prefix("{CERT:").and_then(|r| r.strip_suffix('}')) {
                    crate::support::certs::certs()
                        .client(u)
                        .pem
                        .to_string_lossy()
                        .into_owned()
                } else {
                    a.replace("{PORT}", &port)
                }
            })
            .collect();
        let input = match &self.stdin {
            Some(b) => {
                env.feed.lock().unwrap().take();
                Input::Bytes(b.clone())
            }
            None => Input::Feed(rx),
        };
        let cmd = Command::new(imp, "imtest").args(&args).stdin(input);
        let out = cmd.run_raw();
        // Whatever happened, the feed must not keep stdin open.
        env.feed.lock().unwrap().take();
        (out, server.finish())
    }

    fn problems(&self, what: &str, out: &Output, report: &ServerReport) -> Vec<String> {
        let mut p = Vec::new();
        if out.timed_out {
            p.push(format!("{what}: timed out"));
        }
        for e in report.errors() {
            p.push(format!("{what}: fake server: {e}"));
        }
        let auths: Vec<&AuthOutcome> = report.conns.iter().flat_map(|c| c.auth.iter()).collect();
        match auths.as_slice() {
            [a] => {
                let x = &self.expect;
                let got = (
                    a.ok,
                    a.mech.as_str(),
                    a.user.as_deref(),
                    a.authuser.as_deref(),
                    a.ssf,
                );
                let want = (x.ok, x.mech, x.user, x.authuser, x.ssf);
                if got != want {
                    p.push(format!(
                        "{what}: server view (ok, mech, user, authuser, ssf) expected {want:?}, got {got:?} (error: {:?})",
                        a.error
                    ));
                }
            }
            other => p.push(format!(
                "{what}: expected one authentication on the server, got {other:?}"
            )),
        }
        // Each stdout line matches either as is or normalised (base64 payloads, OTP seed).
        let raw: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split('\n')
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect();
        let norm: Vec<String> = normalise(&out.stdout)
            .split('\n')
            .map(|l| l.trim_end_matches("\\r").to_string())
            .collect();
        let mut pos = 0;
        for want in &self.lines {
            match (pos..raw.len())
                .find(|&i| raw[i] == *want || norm.get(i).map(String::as_str) == Some(*want))
            {
                Some(i) => pos = i + 1,
                None => p.push(format!("{what}: stdout lacks line {want:?} (in order)")),
            }
        }
        if out.code() != self.status {
            p.push(format!(
                "{what}: exit status {} (expected {})",
                out.code(),
                self.status
            ));
        }
        p
    }

    fn report(&self, p: Vec<String>, out: &Output, report: &ServerReport) {
        if !p.is_empty() {
            panic!(
                "[{}]\n{}\n\nrun: {}\nwire:\n{}",
                self.name,
                p.join("\n"),
                out.describe(),
                crate::support::wire::render_wire(&crate::support::wire::wire_items(&report.conns))
            );
        }
    }

    fn check_oracle(self) {
        let (out, report) = self.observe(Imp::Oracle);
        let p = self.problems("C oracle", &out, &report);
        self.report(p, &out, &report);
        for c in &self.checks {
            c(&out, &report);
        }
    }

    fn check_ours(self) {
        let (c, _) = self.observe(Imp::Oracle);
        let (o, report) = self.observe(Imp::Ours);
        let mut p = self.problems("ours", &o, &report);
        let (cn, on) = (normalise(&c.stdout), normalise(&o.stdout));
        if cn != on {
            p.push(diff("normalised stdout (vs C oracle)", &cn, &on));
        }
        if c.stderr != o.stderr {
            p.push(diff(
                "stderr (vs C oracle)",
                &show(&c.stderr),
                &show(&o.stderr),
            ));
        }
        self.report(p, &o, &report);
        for c in &self.checks {
            c(&o, &report);
        }
    }
}

/// Replaces run-to-run values in stdout: base64 payloads of `C: ` / `S: + ` lines (nonces,
/// digests), a trailing initial response on `AUTHENTICATE` lines, and the OTP seed.
fn normalise(stdout: &[u8]) -> String {
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
/// after a security layer, `<tag> NOOP`; anything else gets `BAD`.
fn imap_tail(caps: &'static str) -> Step {
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

/// Clear-text session: greeting without capabilities, `C01 CAPABILITY`, the AUTHENTICATE step,
/// then [`imap_tail`].
fn clear_session(caps: &'static str, auth: Step) -> Vec<Script> {
    vec![vec![
        send("* OK fake ready\r\n"),
        expect_line("C01 CAPABILITY\r\n"),
        send(format!("* CAPABILITY {caps}\r\nC01 OK done\r\n")),
        auth,
        imap_tail(caps),
    ]]
}

/// STARTTLS session (`-t`): greeting, STARTTLS, TLS (optionally asking for a client
/// certificate), capabilities, the AUTHENTICATE step, then [`imap_tail`].
fn tls_session(caps: &'static str, client_cert: bool, auth: Step) -> Vec<Script> {
    let mut b = TlsConfig::builder(&crate::support::certs::certs().server);
    if client_cert {
        b = b.request_client_cert();
    }
    let tls = b.build();
    vec![vec![
        send("* OK [CAPABILITY IMAP4rev1 STARTTLS] fake ready\r\n"),
        expect_line("S01 STARTTLS\r\n"),
        send("S01 OK begin TLS\r\n"),
        start_tls(&tls),
        expect_line("C01 CAPABILITY\r\n"),
        send(format!("* CAPABILITY {caps}\r\nC01 OK done\r\n")),
        auth,
        imap_tail(caps),
    ]]
}

fn ok(mech: &'static str, user: &'static str, ssf: u32) -> Expect {
    Expect {
        ok: true,
        mech,
        user: Some(user),
        authuser: Some(user),
        ssf,
    }
}

/// The received application lines of the (only) connection.
fn received(r: &ServerReport) -> Vec<String> {
    r.conns[0]
        .received_pieces()
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect()
}

fn plain() -> MechCase {
    MechCase::new(
        "PLAIN",
        &[
            "-p",
            "{PORT}",
            "-m",
            "PLAIN",
            "-a",
            "tim",
            "-w",
            PASS,
            "127.0.0.1",
        ],
        ok("PLAIN", "tim@EXAMPLE", 0),
    )
    .server(|e| clear_session("IMAP4rev1 AUTH=PLAIN SASL-IR", imap_auth(&e.cfg())))
    .lines(&[
        "C: A01 AUTHENTICATE PLAIN AHRpbQBzZWNyZXQ=",
        "S: A01 OK done",
        "Authenticated.",
        "Security strength factor: 0",
        "C: Q01 LOGOUT",
        "Connection closed.",
    ])
}

fn login_sasl_mechanism() -> MechCase {
    // `-m LOGIN` would select the IMAP LOGIN command (spec §6.0), so the SASL LOGIN
    // mechanism is reached by advertising only AUTH=LOGIN and giving no `-m`.
    MechCase::new(
        "LOGIN (SASL, chosen by the library)",
        &["-p", "{PORT}", "-a", "tim", "-w", PASS, "127.0.0.1"],
        ok("LOGIN", "tim@EXAMPLE", 0),
    )
    .server(|e| clear_session("IMAP4rev1 AUTH=LOGIN", imap_auth(&e.cfg())))
    .lines(&[
        "C: A01 AUTHENTICATE LOGIN",
        "S: + VXNlcm5hbWU6",
        "C: dGlt",
        "S: + UGFzc3dvcmQ6",
        "C: c2VjcmV0",
        "S: A01 OK done",
        "Authenticated.",
        "Security strength factor: 0",
    ])
}

fn login_command_upper_case_m() -> MechCase {
    // `-m LOGIN` (any case) is the IMAP LOGIN command, not the SASL mechanism (spec §6.0/§6.3).
    MechCase::new(
        "-m LOGIN = IMAP LOGIN command",
        &[
            "-p",
            "{PORT}",
            "-m",
            "LOGIN",
            "-a",
            "tim",
            "-w",
            PASS,
            "127.0.0.1",
        ],
        Expect {
            ok: true,
            mech: "IMAP LOGIN",
            user: Some("tim@EXAMPLE"),
            authuser: Some("tim@EXAMPLE"),
            ssf: 0,
        },
    )
    .server(|e| clear_session("IMAP4rev1 AUTH=LOGIN AUTH=PLAIN", imap_login(&e.cfg())))
    .lines(&[
        "C: L01 LOGIN tim {6}",
        "S: + go ahead",
        "C: <omitted>",
        "S: L01 OK logged in",
        "Authenticated.",
        "Security strength factor: 0",
    ])
}

fn cram_md5() -> MechCase {
    MechCase::new(
        "CRAM-MD5",
        &[
            "-p",
            "{PORT}",
            "-m",
            "CRAM-MD5",
            "-a",
            "tim",
            "-w",
            PASS,
            "127.0.0.1",
        ],
        ok("CRAM-MD5", "tim@EXAMPLE", 0),
    )
    .server(|e| clear_session("IMAP4rev1 AUTH=CRAM-MD5 SASL-IR", imap_auth(&e.cfg())))
    .lines(&[
        "C: A01 AUTHENTICATE CRAM-MD5",
        "S: A01 OK done",
        "Authenticated.",
        "Security strength factor: 0",
    ])
}

fn digest_md5_auth() -> MechCase {
    MechCase::new(
        "DIGEST-MD5 qop=auth (-l 0)",
        &[
            "-p",
            "{PORT}",
            "-m",
            "DIGEST-MD5",
            "-l",
            "0",
            "-a",
            "tim",
            "-w",
            PASS,
            "127.0.0.1",
        ],
        ok("DIGEST-MD5", "tim@EXAMPLE", 0),
    )
    .server(|e| clear_session("IMAP4rev1 AUTH=DIGEST-MD5", imap_auth(&e.cfg())))
    .lines(&[
        "C: A01 AUTHENTICATE DIGEST-MD5",
        "S: A01 OK done",
        "Authenticated.",
        "Security strength factor: 0",
    ])
}

fn digest_md5_auth_int() -> MechCase {
    MechCase::new(
        "DIGEST-MD5 qop=auth-int (-k 1 -l 1), command relayed through the layer",
        &[
            "-p",
            "{PORT}",
            "-m",
            "DIGEST-MD5",
            "-k",
            "1",
            "-l",
            "1",
            "-a",
            "tim",
            "-w",
            PASS,
            "127.0.0.1",
        ],
        ok("DIGEST-MD5", "tim@EXAMPLE", 1),
    )
    .stdin(b"a1 NOOP\n")
    .server(|e| clear_session("IMAP4rev1 AUTH=DIGEST-MD5", imap_auth(&e.cfg())))
    .lines(&[
        "S: A01 OK done",
        "Authenticated.",
        "Security strength factor: 1",
        "C: C01 CAPABILITY",
        "S: * CAPABILITY IMAP4rev1 AUTH=DIGEST-MD5",
        "S: C01 OK done",
        "C: Q01 LOGOUT",
        "* 1 EXISTS",
        "a1 OK noop",
        "Connection closed.",
    ])
    .check(|_, r| {
        let got = received(r);
        let tail: Vec<&str> = got.iter().rev().take(3).rev().map(|s| s.as_str()).collect();
        assert_eq!(
            tail,
            ["C01 CAPABILITY\r\n", "a1 NOOP\r\n", "Q01 LOGOUT\r\n"],
            "commands read through the auth-int layer"
        );
        assert!(r.conns[0].events.contains(&Event::SaslLayer { ssf: 1 }));
    })
}

fn digest_md5_auth_conf() -> MechCase {
    MechCase::new(
        "DIGEST-MD5 qop=auth-conf (-k 128), command relayed through the layer",
        &[
            "-p",
            "{PORT}",
            "-m",
            "DIGEST-MD5",
            "-k",
            "128",
            "-a",
            "tim",
            "-w",
            PASS,
            "127.0.0.1",
        ],
        ok("DIGEST-MD5", "tim@EXAMPLE", 128),
    )
    .stdin(b"a1 NOOP\n")
    .server(|e| clear_session("IMAP4rev1 AUTH=DIGEST-MD5", imap_auth(&e.cfg())))
    .lines(&[
        "S: A01 OK done",
        "Authenticated.",
        "Security strength factor: 128",
        "C: C01 CAPABILITY",
        "S: * CAPABILITY IMAP4rev1 AUTH=DIGEST-MD5",
        "S: C01 OK done",
        "C: Q01 LOGOUT",
        "* 1 EXISTS",
        "a1 OK noop",
        "Connection closed.",
    ])
    .check(|_, r| {
        let got = received(r);
        let tail: Vec<&str> = got.iter().rev().take(3).rev().map(|s| s.as_str()).collect();
        assert_eq!(
            tail,
            ["C01 CAPABILITY\r\n", "a1 NOOP\r\n", "Q01 LOGOUT\r\n"],
            "commands read through the auth-conf layer"
        );
        assert!(r.conns[0].events.contains(&Event::SaslLayer { ssf: 128 }));
    })
}

fn scram_sha_1() -> MechCase {
    MechCase::new(
        "SCRAM-SHA-1",
        &[
            "-p",
            "{PORT}",
            "-m",
            "SCRAM-SHA-1",
            "-a",
            "tim",
            "-w",
            PASS,
            "127.0.0.1",
        ],
        ok("SCRAM-SHA-1", "tim@EXAMPLE", 0),
    )
    .server(|e| clear_session("IMAP4rev1 AUTH=SCRAM-SHA-1 SASL-IR", imap_auth(&e.cfg())))
    .lines(&[
        "S: A01 OK done",
        "Authenticated.",
        "Security strength factor: 0",
    ])
}

fn scram_sha_256() -> MechCase {
    MechCase::new(
        "SCRAM-SHA-256",
        &[
            "-p",
            "{PORT}",
            "-m",
            "SCRAM-SHA-256",
            "-a",
            "tim",
            "-w",
            PASS,
            "127.0.0.1",
        ],
        ok("SCRAM-SHA-256", "tim@EXAMPLE", 0),
    )
    .server(|e| clear_session("IMAP4rev1 AUTH=SCRAM-SHA-256 SASL-IR", imap_auth(&e.cfg())))
    .lines(&[
        "S: A01 OK done",
        "Authenticated.",
        "Security strength factor: 0",
    ])
}

fn scram_sha_256_plus_starttls() -> MechCase {
    MechCase::new(
        "SCRAM-SHA-256-PLUS over STARTTLS (tls-unique)",
        &[
            "-t",
            "",
            "-p",
            "{PORT}",
            "-m",
            "SCRAM-SHA-256-PLUS",
            "-a",
            "tim",
            "-w",
            PASS,
            "127.0.0.1",
        ],
        // libsasl2 2.1.28's client binds to the channel (gs2 `p=tls-unique`) but names the
        // mechanism `SCRAM-SHA-256` in the command; the Cyrus server accepts that.
        ok("SCRAM-SHA-256", "tim@EXAMPLE", 0),
    )
    .server(|e| {
        tls_session(
            "IMAP4rev1 AUTH=SCRAM-SHA-256-PLUS AUTH=SCRAM-SHA-256 SASL-IR",
            false,
            imap_auth(&e.cfg()),
        )
    })
    .lines(&[
        "C: A01 AUTHENTICATE SCRAM-SHA-256 <base64>",
        "S: A01 OK done",
        "Authenticated.",
        "Security strength factor: 256",
    ])
    .check(|_, r| {
        // The client-first message must use channel binding `p=tls-unique`.
        let first = &received(r)[2];
        let ir = first.trim_end().rsplit(' ').next().unwrap();
        let dec = crate::support::wire::b64decode(ir.as_bytes()).expect("base64 IR");
        assert!(
            dec.starts_with(b"p=tls-unique,,n=tim,r="),
            "gs2 header: {:?}",
            String::from_utf8_lossy(&dec)
        );
    })
}

fn otp_with_challenge_prompt() -> MechCase {
    MechCase::new(
        "OTP with -c (one-time password typed at the echo prompt)",
        // No -w: only the typed one-time password can succeed.
        &["-p", "{PORT}", "-m", "OTP", "-c", "-a", "tim", "127.0.0.1"],
        ok("OTP", "tim@EXAMPLE", 0),
    )
    .live_stdin()
    .server(|e| {
        let feed = e.feed.clone();
        let auth = ImapAuth::new(e.cfg())
            .on_challenge(move |ch| {
                // `otp-md5 <seq> <seed> ext`: answer with the hex OTP of the passphrase, as a
                // user with an OTP calculator would type it.
                let text = String::from_utf8_lossy(ch).into_owned();
                let w: Vec<&str> = text.split(' ').collect();
                if w.len() == 4 && w[0] == "otp-md5" {
                    let seq: u32 = w[1].parse().unwrap();
                    let answer = format!("{}\n", otp_md5_hex(PASS, w[2], seq));
                    if let Some(tx) = feed.lock().unwrap().take() {
                        let _ = tx.send(answer.into_bytes());
                    }
                }
            })
            .step();
        clear_session("IMAP4rev1 AUTH=OTP SASL-IR", auth)
    })
    .lines(&[
        "C: A01 AUTHENTICATE OTP <base64>",
        "Server challenge: otp-md5 498 <seed> ext",
        "Please enter your one-time password: C: <base64>",
        "S: A01 OK done",
        "Authenticated.",
        "Security strength factor: 0",
    ])
}

fn external_client_cert() -> MechCase {
    MechCase::new(
        "EXTERNAL with a client certificate (-t clientcert.pem)",
        &[
            "-t",
            "{CERT:tim}",
            "-p",
            "{PORT}",
            "-m",
            "EXTERNAL",
            "-a",
            "tim",
            "127.0.0.1",
        ],
        ok("EXTERNAL", "tim@EXAMPLE", 0),
    )
    .server(|e| tls_session("IMAP4rev1 AUTH=EXTERNAL SASL-IR", true, imap_auth(&e.cfg())))
    .lines(&[
        "C: A01 AUTHENTICATE EXTERNAL =",
        "S: A01 OK done",
        "Authenticated.",
        "Security strength factor: 256",
    ])
    .check(|_, r| {
        assert_eq!(
            r.conns[0].tls.as_ref().and_then(|t| t.peer_cn.as_deref()),
            Some("tim"),
            "client certificate CN"
        );
    })
}

fn anonymous() -> MechCase {
    MechCase::new(
        "ANONYMOUS",
        &["-p", "{PORT}", "-m", "ANONYMOUS", "-a", "tim", "127.0.0.1"],
        ok("ANONYMOUS", "anonymous@EXAMPLE", 0),
    )
    .server(|e| clear_session("IMAP4rev1 AUTH=ANONYMOUS SASL-IR", imap_auth(&e.cfg())))
    .lines(&[
        "S: A01 OK done",
        "Authenticated.",
        "Security strength factor: 0",
    ])
}

fn wrong_password() -> MechCase {
    MechCase::new(
        "PLAIN with a wrong password",
        &[
            "-p",
            "{PORT}",
            "-m",
            "PLAIN",
            "-a",
            "tim",
            "-w",
            "wrong",
            "127.0.0.1",
        ],
        // libsasl2 has already canonicalised the names when the password check fails.
        Expect {
            ok: false,
            mech: "PLAIN",
            user: Some("tim@EXAMPLE"),
            authuser: Some("tim@EXAMPLE"),
            ssf: 0,
        },
    )
    .server(|e| clear_session("IMAP4rev1 AUTH=PLAIN SASL-IR", imap_auth(&e.cfg())))
    .lines(&[
        "C: A01 AUTHENTICATE PLAIN AHRpbQB3cm9uZw==",
        "S: A01 NO authentication failure",
        "Authentication failed. generic failure",
        "Security strength factor: 0",
        "C: Q01 LOGOUT",
        "Connection closed.",
    ])
}

fn authzid_proxy_allowed() -> MechCase {
    MechCase::new(
        "PLAIN with -u (authzid) and a server that allows proxying",
        &[
            "-p",
            "{PORT}",
            "-m",
            "PLAIN",
            "-a",
            "tim",
            "-u",
            "alice",
            "-w",
            PASS,
            "127.0.0.1",
        ],
        Expect {
            ok: true,
            mech: "PLAIN",
            user: Some("alice@EXAMPLE"),
            authuser: Some("tim@EXAMPLE"),
            ssf: 0,
        },
    )
    .users(&[("tim", PASS), ("alice", "other")])
    .server(|e| {
        clear_session(
            "IMAP4rev1 AUTH=PLAIN SASL-IR",
            imap_auth(&e.cfg().proxy(ProxyPolicy::AllowAll)),
        )
    })
    .lines(&[
        "C: A01 AUTHENTICATE PLAIN YWxpY2UAdGltAHNlY3JldA==",
        "S: A01 OK done",
        "Authenticated.",
    ])
}

fn authzid_proxy_refused() -> MechCase {
    MechCase::new(
        "PLAIN with -u (authzid) and the default proxy policy (refused)",
        &[
            "-p",
            "{PORT}",
            "-m",
            "PLAIN",
            "-a",
            "tim",
            "-u",
            "alice",
            "-w",
            PASS,
            "127.0.0.1",
        ],
        Expect {
            ok: false,
            mech: "PLAIN",
            user: Some("alice@EXAMPLE"),
            authuser: Some("tim@EXAMPLE"),
            ssf: 0,
        },
    )
    .users(&[("tim", PASS), ("alice", "other")])
    .server(|e| clear_session("IMAP4rev1 AUTH=PLAIN SASL-IR", imap_auth(&e.cfg())))
    .lines(&[
        "C: A01 AUTHENTICATE PLAIN YWxpY2UAdGltAHNlY3JldA==",
        "Authentication failed. generic failure",
    ])
}

/// RFC 2289 OTP (MD5): fold(MD5(seed + passphrase)), then `seq` more fold(MD5(·)) rounds, as
/// 16 hex digits.
fn otp_md5_hex(pass: &str, seed: &str, seq: u32) -> String {
    use crate::sasl_math::{hex, md5};
    let fold = |h: Vec<u8>| -> Vec<u8> { (0..8).map(|i| h[i] ^ h[i + 8]).collect() };
    let mut otp = fold(md5(format!("{seed}{pass}").as_bytes()));
    for _ in 0..seq {
        otp = fold(md5(&otp));
    }
    hex(&otp)
}

fn cancel_when_client_step_fails() -> MechCase {
    // The server offers DIGEST-MD5 without any security layer (max_ssf 0) while the client
    // demands one (-k 128): the client's step fails and it cancels with `*`.
    MechCase::new(
        "DIGEST-MD5, client cancels (server offers no layer, -k 128)",
        &[
            "-p",
            "{PORT}",
            "-m",
            "DIGEST-MD5",
            "-k",
            "128",
            "-a",
            "tim",
            "-w",
            PASS,
            "127.0.0.1",
        ],
        Expect {
            ok: false,
            mech: "DIGEST-MD5",
            user: None,
            authuser: None,
            ssf: 0,
        },
    )
    .server(|e| {
        let mut cfg = e.cfg();
        cfg.max_ssf = 0;
        clear_session("IMAP4rev1 AUTH=DIGEST-MD5", imap_auth(&cfg))
    })
    .lines(&[
        "C: A01 AUTHENTICATE DIGEST-MD5",
        "S: + <base64>",
        "C: *",
        "Authentication failed. mechanism too weak for this user",
        "Security strength factor: 0",
        "C: Q01 LOGOUT",
        "A01 BAD cancelled",
        "Connection closed.",
    ])
    .check(|_, r| assert!(r.auth().cancelled, "the server must have seen `*`"))
}

/// The decoded initial response of the (only) AUTHENTICATE command of a STARTTLS session.
fn tls_initial_response(r: &ServerReport) -> Vec<u8> {
    let first = &received(r)[2];
    let ir = first.trim_end().rsplit(' ').next().unwrap();
    crate::support::wire::b64decode(ir.as_bytes()).expect("base64 initial response")
}

fn scram_plus_listed_library_choice() -> MechCase {
    // No -m over TLS, server lists SCRAM-SHA-256-PLUS: the library binds (`p=tls-unique`) and
    // again names the mechanism SCRAM-SHA-256 (spec §4.3 expected a -PLUS pick).
    MechCase::new(
        "library choice over TLS with SCRAM-SHA-256-PLUS listed",
        &[
            "-t",
            "",
            "-p",
            "{PORT}",
            "-a",
            "tim",
            "-w",
            PASS,
            "127.0.0.1",
        ],
        ok("SCRAM-SHA-256", "tim@EXAMPLE", 0),
    )
    .server(|e| {
        tls_session(
            "IMAP4rev1 AUTH=SCRAM-SHA-256-PLUS AUTH=SCRAM-SHA-256 AUTH=PLAIN SASL-IR",
            false,
            imap_auth(&e.cfg()),
        )
    })
    .lines(&[
        "C: A01 AUTHENTICATE SCRAM-SHA-256 <base64>",
        "S: A01 OK done",
        "Authenticated.",
        "Security strength factor: 256",
    ])
    .check(|_, r| {
        let d = tls_initial_response(r);
        assert!(
            d.starts_with(b"p=tls-unique,,n=tim,r="),
            "gs2 header: {:?}",
            String::from_utf8_lossy(&d)
        );
    })
}

fn scram_over_tls_without_plus() -> MechCase {
    // Over TLS with only SCRAM-SHA-256 listed (no -m): spec §4.3 says the client then sends
    // gs2 flag `y`; the C tool (libsasl2 2.1.28) sends `n,,` — no channel-binding claim at all.
    MechCase::new(
        "SCRAM-SHA-256 over TLS, no -PLUS listed (gs2 n)",
        &[
            "-t",
            "",
            "-p",
            "{PORT}",
            "-a",
            "tim",
            "-w",
            PASS,
            "127.0.0.1",
        ],
        ok("SCRAM-SHA-256", "tim@EXAMPLE", 0),
    )
    .server(|e| {
        tls_session(
            "IMAP4rev1 AUTH=SCRAM-SHA-256 SASL-IR",
            false,
            imap_auth(&e.cfg()),
        )
    })
    .lines(&[
        "C: A01 AUTHENTICATE SCRAM-SHA-256 <base64>",
        "S: A01 OK done",
        "Authenticated.",
        "Security strength factor: 256",
    ])
    .check(|_, r| {
        let d = tls_initial_response(r);
        assert!(
            d.starts_with(b"n,,n=tim,r="),
            "gs2 header: {:?}",
            String::from_utf8_lossy(&d)
        );
    })
}

type Build = fn() -> MechCase;

/// This module's listed tests.
pub fn trials() -> Vec<Trial> {
    let cases: [(&str, Build); 19] = [
        ("plain", plain),
        ("login_sasl_mechanism", login_sasl_mechanism),
        ("login_command_upper_case_m", login_command_upper_case_m),
        ("cram_md5", cram_md5),
        ("digest_md5_auth", digest_md5_auth),
        ("digest_md5_auth_int", digest_md5_auth_int),
        ("digest_md5_auth_conf", digest_md5_auth_conf),
        ("scram_sha_1", scram_sha_1),
        ("scram_sha_256", scram_sha_256),
        ("scram_sha_256_plus_starttls", scram_sha_256_plus_starttls),
        ("otp_with_challenge_prompt", otp_with_challenge_prompt),
        ("external_client_cert", external_client_cert),
        ("anonymous", anonymous),
        ("wrong_password", wrong_password),
        ("authzid_proxy_allowed", authzid_proxy_allowed),
        ("authzid_proxy_refused", authzid_proxy_refused),
        (
            "cancel_when_client_step_fails",
            cancel_when_client_step_fails,
        ),
        (
            "scram_plus_listed_library_choice",
            scram_plus_listed_library_choice,
        ),
        ("scram_over_tls_without_plus", scram_over_tls_without_plus),
    ];
    let mut t = Vec::new();
    for (name, build) in cases {
        t.push(crate::engine::rust_test_with(
            &format!("imap/sasl/{name}::oracle"),
            move || build().check_oracle(),
        ));
        t.push(crate::engine::rust_test_with(
            &format!("imap/sasl/{name}::ours"),
            move || build().check_ours(),
        ));
    }
    t
}
