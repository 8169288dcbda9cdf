//! A few real sessions of ours under valgrind (memcheck, `--error-exitcode=1`, no leak check):
//! a PLAIN login with a relayed command, a STARTTLS session, and DIGEST-MD5 with a
//! confidentiality layer (auth-conf) — the FFI paths (libsasl2, OpenSSL, glibc getopt, the
//! argv mask) with real data. Any memory error fails the test. Each is its own listed test,
//! so they run side by side (valgrind is slow).

use crate::support::certs::certs;
use crate::support::run::words;
use crate::support::run::{Command, Imp};
use crate::support::sasl_server::*;
use crate::support::server::*;
use libtest_mimic::{Failed, Trial};
use std::time::Duration;

const VALGRIND: &str = "/usr/bin/valgrind";
const LIMIT: Duration = Duration::from_secs(60);

/// Answers CAPABILITY and NOOP until LOGOUT.
fn imap_tail() -> Step {
    run(|s| loop {
        let line = s.read_line()?;
        let text = String::from_utf8_lossy(&line).into_owned();
        let mut words = text.trim_end().splitn(2, ' ');
        let (tag, command) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        match command.to_ascii_uppercase().as_str() {
            "LOGOUT" => return s.send(format!("* BYE\r\n{tag} OK bye\r\n").as_bytes()),
            "CAPABILITY" => s.send(
                format!("* CAPABILITY IMAP4rev1 AUTH=DIGEST-MD5\r\n{tag} OK done\r\n").as_bytes(),
            )?,
            _ => s.send(format!("* 1 EXISTS\r\n{tag} OK noop\r\n").as_bytes())?,
        }
    })
}

/// Runs ours under valgrind with `args` (`{PORT}` filled) against `script`; stdout must
/// contain `expect`, stderr must be empty, the exit status 0.
fn under_valgrind(args: &[&str], script: Script, expect: &str) -> Result<(), Failed> {
    if !std::path::Path::new(VALGRIND).exists() {
        return Err(format!("{VALGRIND} is missing: apt-get install valgrind").into());
    }
    let server = FakeServer::start(vec![script]);
    let vars = crate::engine::Vars {
        port: server.port().to_string(),
        dir: String::new(),
    };
    let args: Vec<String> = args.iter().map(|a| crate::engine::fill(a, &vars)).collect();
    let out = Command::new(Imp::Ours, "imtest")
        .under([VALGRIND, "-q", "--error-exitcode=1", "--leak-check=no"])
        .args(&args)
        .stdin_bytes(b"a1 NOOP\n")
        .timeout(LIMIT)
        .run_raw();
    let report = server.finish();
    if out.timed_out || out.code() != 0 {
        return Err(format!("memory errors exit 1: {}", out.describe()).into());
    }
    if !String::from_utf8_lossy(&out.stdout).contains(expect) || !out.stderr.is_empty() {
        return Err(format!("unexpected output: {}", out.describe()).into());
    }
    let errors = report.errors();
    if !errors.is_empty() {
        return Err(format!("server: {errors:?}").into());
    }
    Ok(())
}

fn plain_login_and_relay() -> Result<(), Failed> {
    under_valgrind(
        &words("-p {PORT} -m plain -a tim -w secret 127.0.0.1"),
        vec![
            send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake\r\n"),
            read_line(),
            send("A01 OK done\r\n"),
            imap_tail(),
        ],
        "a1 OK noop",
    )
}

fn starttls() -> Result<(), Failed> {
    under_valgrind(
        &[
            &["-t", ""],
            &words("-p {PORT} -m plain -a tim -w secret 127.0.0.1")[..],
        ]
        .concat(),
        vec![
            send("* OK [CAPABILITY IMAP4rev1 STARTTLS] fake\r\n"),
            read_line(),
            send("S01 OK begin TLS\r\n"),
            start_tls(&TlsConfig::simple(&certs().server)),
            read_line(),
            send("* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\nC01 OK done\r\n"),
            read_line(),
            send("A01 OK done\r\n"),
            imap_tail(),
        ],
        "a1 OK noop",
    )
}

fn digest_md5_auth_conf() -> Result<(), Failed> {
    let db = SaslDb::create("EXAMPLE", &[("tim", "secret")]);
    under_valgrind(
        &words("-p {PORT} -m DIGEST-MD5 -k 128 -a tim -w secret 127.0.0.1"),
        vec![
            send("* OK fake ready\r\n"),
            read_line(),
            send("* CAPABILITY IMAP4rev1 AUTH=DIGEST-MD5\r\nC01 OK done\r\n"),
            imap_auth(&ServerConfig::new(&db)),
            imap_tail(),
        ],
        "Security strength factor: 128",
    )
}

/// This module's listed tests.
pub fn trials() -> Vec<Trial> {
    vec![
        Trial::test("valgrind/plain_login_and_relay", plain_login_and_relay),
        Trial::test("valgrind/starttls", starttls),
        Trial::test("valgrind/digest_md5_auth_conf", digest_md5_auth_conf),
    ]
}
