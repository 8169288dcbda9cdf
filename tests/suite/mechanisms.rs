//! The one SASL mechanism exchange that needs Rust (the others, security layers, channel
//! binding, client certificates and cancels included, are files in `tests/cases/imap/sasl/`):
//! a one-time password typed from the server's own challenge. It runs end to end against the
//! libsasl2 fake IMAP server (fresh sasldb per run) for the C tool (`::oracle`) and for ours
//! (`::ours`, also compared with the C tool's run), judged by the engine's mechanism judge
//! (`mechanism.rs`).

use crate::engine::{Case, Feed};
use crate::mechanism::{imap_tail, AuthView};
use crate::support::run::words;
use crate::support::sasl_server::*;
use crate::support::server::*;
use libtest_mimic::Trial;
use std::sync::Arc;

const PASS: &str = "secret";

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
    const CAPS: &str = "IMAP4rev1 AUTH=OTP SASL-IR";
    // No -w: only the typed one-time password can succeed.
    let args = words("-p {PORT} -m OTP -c -a tim 127.0.0.1");
    Case::new(
        "OTP with -c (one-time password typed at the echo prompt)",
        "imtest",
    )
    .args(&args)
    .auth(AuthView::ok("OTP", "tim@EXAMPLE", 0))
    .status(0)
    .server_fed(|feed: &Feed| {
        let feed = Arc::clone(feed);
        let db = SaslDb::create("EXAMPLE", &[("tim", PASS)]);
        let auth = ImapAuth::new(ServerConfig::new(&db))
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
        vec![vec![
            send("* OK fake ready\r\n"),
            expect_line("C01 CAPABILITY\r\n"),
            send(format!("* CAPABILITY {CAPS}\r\nC01 OK done\r\n")),
            auth,
            imap_tail(CAPS.to_string()),
        ]]
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

/// This module's listed tests.
pub fn trials() -> Vec<Trial> {
    crate::listed!(
        cases "sasl/",
        otp_with_challenge_prompt,
    )
}
