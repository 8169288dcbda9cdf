//! The SASL mechanism exchanges that need Rust (the rest, security layers included, are files
//! in `tests/cases/imap/sasl/`): channel binding (the gs2 header of the client-first message),
//! a client certificate's CN, a one-time password typed from the server's own challenge, a
//! client that cancels. Each runs end to end against
//! the libsasl2 fake IMAP server (fresh sasldb per run) for the C tool (`::oracle`) and for
//! ours (`::ours`, also compared with the C tool's run), judged by the engine's mechanism
//! judge (`mechanism.rs`).

use crate::engine::{Case, Feed};
use crate::mechanism::{imap_tail, AuthView};
use crate::support::run::words;
use crate::support::sasl_server::*;
use crate::support::server::*;
use libtest_mimic::Trial;
use std::sync::Arc;

const REALM: &str = "EXAMPLE";
const PASS: &str = "secret";

/// A fresh sasldb with `tim` per run, and its server configuration.
fn cfg() -> ServerConfig {
    ServerConfig::new(&SaslDb::create(REALM, &[("tim", PASS)]))
}

/// An `imtest` mechanism case named `title`.
fn mech(title: &str, args: &[&str], view: AuthView) -> Case {
    Case::new(title, "imtest").args(args).auth(view).status(0)
}

/// Clear-text session: greeting without capabilities, `C01 CAPABILITY`, the AUTHENTICATE step,
/// then the IMAP tail.
fn clear_session(caps: &'static str, auth: Step) -> Vec<Script> {
    vec![vec![
        send("* OK fake ready\r\n"),
        expect_line("C01 CAPABILITY\r\n"),
        send(format!("* CAPABILITY {caps}\r\nC01 OK done\r\n")),
        auth,
        imap_tail(caps.to_string()),
    ]]
}

/// STARTTLS session (`-t`): greeting, STARTTLS, TLS (optionally asking for a client
/// certificate), capabilities, the AUTHENTICATE step, then the IMAP tail.
fn tls_session(caps: &'static str, client_cert: bool, auth: Step) -> Vec<Script> {
    let mut b = TlsConfig::builder(&crate::support::certs::certs().server);
    if client_cert {
        b = b.request_client_cert();
    }
    starttls_session(&b.build(), caps, auth)
}

/// [`tls_session`] with the server's TLS settings given (also the `--cb` tests').
pub fn starttls_session(tls: &TlsConfig, caps: &'static str, auth: Step) -> Vec<Script> {
    vec![vec![
        send("* OK [CAPABILITY IMAP4rev1 STARTTLS] fake ready\r\n"),
        expect_line("S01 STARTTLS\r\n"),
        send("S01 OK begin TLS\r\n"),
        start_tls(tls),
        expect_line("C01 CAPABILITY\r\n"),
        send(format!("* CAPABILITY {caps}\r\nC01 OK done\r\n")),
        auth,
        imap_tail(caps.to_string()),
    ]]
}

/// The received application lines of the (only) connection.
fn received(r: &ServerReport) -> Vec<String> {
    r.conns[0]
        .received_pieces()
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect()
}

/// The decoded initial response of the (only) AUTHENTICATE command of a STARTTLS session.
fn tls_initial_response(r: &ServerReport) -> Vec<u8> {
    let first = &received(r)[2];
    let ir = first.trim_end().rsplit(' ').next().unwrap();
    crate::support::wire::b64decode(ir.as_bytes()).expect("base64 initial response")
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

fn otp_with_challenge_prompt() -> Case {
    mech(
        "OTP with -c (one-time password typed at the echo prompt)",
        // No -w: only the typed one-time password can succeed.
        &words("-p {PORT} -m OTP -c -a tim 127.0.0.1"),
        AuthView::ok("OTP", "tim@EXAMPLE", 0),
    )
    .server_fed(|feed: &Feed| {
        let feed = Arc::clone(feed);
        let auth = ImapAuth::new(cfg())
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

fn external_client_cert() -> Case {
    mech(
        "EXTERNAL with a client certificate (-t clientcert.pem)",
        &words("-t {CERT:tim} -p {PORT} -m EXTERNAL -a tim 127.0.0.1"),
        AuthView::ok("EXTERNAL", "tim@EXAMPLE", 0),
    )
    .server(|| tls_session("IMAP4rev1 AUTH=EXTERNAL SASL-IR", true, imap_auth(&cfg())))
    .lines(&[
        "C: A01 AUTHENTICATE EXTERNAL =",
        "S: A01 OK done",
        "Authenticated.",
        "Security strength factor: 256",
    ])
    .check(|o| {
        let r = &o.report;
        assert_eq!(
            r.conns[0].tls.as_ref().and_then(|t| t.peer_cn.as_deref()),
            Some("tim"),
            "client certificate CN"
        );
    })
}

fn cancel_when_client_step_fails() -> Case {
    // The server offers DIGEST-MD5 without any security layer (max_ssf 0) while the client
    // demands one (-k 128): the client's step fails and it cancels with `*`.
    mech(
        "DIGEST-MD5, client cancels (server offers no layer, -k 128)",
        &words("-p {PORT} -m DIGEST-MD5 -k 128 -a tim -w secret 127.0.0.1"),
        AuthView {
            ok: false,
            mech: "DIGEST-MD5".into(),
            user: None,
            authuser: None,
            ssf: 0,
        },
    )
    .server(|| {
        let mut cfg = cfg();
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
    .check(|o| assert!(o.report.auth().cancelled, "the server must have seen `*`"))
}

/// SCRAM-SHA-256 over STARTTLS with `-m` (if any) and the server's `caps`: authenticated,
/// SSF 256 (TLS), and the decoded initial response (client-first message) starts with `gs2`.
/// libsasl2 2.1.28's client names the mechanism `SCRAM-SHA-256` in the command even when it
/// binds to the channel (gs2 `p=tls-unique`); the Cyrus server accepts that.
fn scram_over_tls(title: &str, m: Option<&str>, caps: &'static str, gs2: &'static [u8]) -> Case {
    let mut args = vec!["-t", ""];
    if let Some(m) = m {
        args.extend(["-m", m]);
    }
    args.extend(["-p", "{PORT}", "-a", "tim", "-w", PASS, "127.0.0.1"]);
    mech(
        title,
        &args,
        AuthView::ok("SCRAM-SHA-256", "tim@EXAMPLE", 0),
    )
    .server(move || tls_session(caps, false, imap_auth(&cfg())))
    .lines(&[
        "C: A01 AUTHENTICATE SCRAM-SHA-256 <base64>",
        "S: A01 OK done",
        "Authenticated.",
        "Security strength factor: 256",
    ])
    .check(move |o| {
        let d = tls_initial_response(&o.report);
        assert!(
            d.starts_with(gs2),
            "gs2 header: {:?}",
            String::from_utf8_lossy(&d)
        );
    })
}

fn scram_sha_256_plus_starttls() -> Case {
    scram_over_tls(
        "SCRAM-SHA-256-PLUS over STARTTLS (tls-unique)",
        Some("SCRAM-SHA-256-PLUS"),
        "IMAP4rev1 AUTH=SCRAM-SHA-256-PLUS AUTH=SCRAM-SHA-256 SASL-IR",
        b"p=tls-unique,,n=tim,r=",
    )
}

fn scram_plus_listed_library_choice() -> Case {
    // No -m over TLS, server lists SCRAM-SHA-256-PLUS: the library binds (`p=tls-unique`) and
    // again names the mechanism SCRAM-SHA-256 (docs/behaviour.md §4.3 expected a -PLUS pick).
    scram_over_tls(
        "library choice over TLS with SCRAM-SHA-256-PLUS listed",
        None,
        "IMAP4rev1 AUTH=SCRAM-SHA-256-PLUS AUTH=SCRAM-SHA-256 AUTH=PLAIN SASL-IR",
        b"p=tls-unique,,n=tim,r=",
    )
}

fn scram_over_tls_without_plus() -> Case {
    // Over TLS with only SCRAM-SHA-256 listed (no -m): docs/behaviour.md §4.3 says the client then
    // sends gs2 flag `y`; the C tool (libsasl2 2.1.28) sends `n,,` — no channel-binding claim at
    // all.
    scram_over_tls(
        "SCRAM-SHA-256 over TLS, no -PLUS listed (gs2 n)",
        None,
        "IMAP4rev1 AUTH=SCRAM-SHA-256 SASL-IR",
        b"n,,n=tim,r=",
    )
}

/// This module's listed tests.
pub fn trials() -> Vec<Trial> {
    crate::listed!(
        cases "sasl/",
        scram_sha_256_plus_starttls,
        otp_with_challenge_prompt,
        external_client_cert,
        cancel_when_client_step_fails,
        scram_plus_listed_library_choice,
        scram_over_tls_without_plus,
    )
}
