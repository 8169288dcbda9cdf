//! XOAUTH2 and OAUTHBEARER (`--oauth-token-file`, `--oauth-token-fd`; src/oauth.rs) against
//! real servers — the lab's Dovecot (IMAP, POP3, ManageSieve, submission) and Postfix (SMTP,
//! through Dovecot's auth service), whose oauth2 passdb checks HS256 JWTs minted by
//! `scripts/lab.sh token` (fresh per run, so the exchanges are checked here). What needs no
//! token is a case file: `-m XOAUTH2` without one as the C tool (`tests/cases/lab/extras/oauth/`),
//! httptest's refusal and what Dovecot never does (no SASL-IR, only XOAUTH2 advertised, a
//! second error challenge: `tests/cases/extras/oauth/`).

use crate::lab::lab;
use crate::support::run::{Command as Run, Imp, Output};
use crate::support::wire::text;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(20);
/// An error challenge must be answered at once: far below the 30 s a sieve client that
/// waited for a literal would need.
const QUICK: Duration = Duration::from_secs(10);

/// A fresh token file in the lab directory: `valid`, `expired` or `badsig` (for tim).
fn token_file(kind: &str) -> PathBuf {
    let lab = lab();
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lab.sh"))
        .arg("token")
        .arg(&lab.dir)
        .arg("tim")
        .arg(kind)
        .stderr(Stdio::inherit())
        .output()
        .expect("run lab.sh token");
    assert!(out.status.success(), "lab.sh token {kind} failed");
    // One file per call: tests run in parallel, and a shared file being rewritten by one
    // (truncated, then filled) could be read empty or with another token by another.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = lab
        .dir
        .join(format!("token-{kind}-{}-{call}", std::process::id()));
    std::fs::write(&path, &out.stdout).expect("write the token file");
    path
}

fn token_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read the token file");
    text.lines().next().unwrap_or_default().to_owned()
}

fn ours(name: &str, args: &[String], stdin: &[u8]) -> Output {
    Run::new(Imp::Ours, name)
        .args(args)
        .stdin_bytes(stdin)
        .timeout(TIMEOUT)
        .run_lab()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn b64(data: &[u8]) -> String {
    openssl::base64::encode_block(data)
}

/// The initial response as the client must send it (host as given: 127.0.0.1).
fn initial_response(mech: &str, port: u16, token: &str) -> Vec<u8> {
    match mech {
        "XOAUTH2" => format!("user=tim\x01auth=Bearer {token}\x01\x01").into_bytes(),
        _ => format!("n,a=tim,\x01host=127.0.0.1\x01port={port}\x01auth=Bearer {token}\x01\x01")
            .into_bytes(),
    }
}

/// How a lab protocol frames the exchange.
struct Proto {
    tool: &'static str,
    port: &'static str,
    stdin: &'static str,
    /// The `C:` line(s) carrying the initial response (`{MECH}`, `{B64}`, `{LEN}` filled in).
    command: &'static str,
    ok: &'static str,
    /// The prefix of the error challenge line, and what the dummy responses look like.
    challenge: &'static str,
    empty_response: &'static str,
    kvsep_response: &'static str,
    fail: &'static str,
    /// Lab log file and the login line it must get for tim (`{MECH}` filled in).
    log: &'static str,
    login: &'static str,
}

const IMAP: Proto = Proto {
    tool: "imtest",
    port: "IMAP_PORT",
    stdin: "a1 SELECT INBOX\n",
    command: "C: A01 AUTHENTICATE {MECH} {B64}\r\n",
    ok: "S: A01 OK ",
    challenge: "S: + ",
    empty_response: "C: \r\n",
    kvsep_response: "C: AQ==\r\n",
    fail: "S: A01 NO ",
    log: "dovecot.log",
    login: "imap-login: Info: Login: user=<tim>, method={MECH}",
};

const POP3: Proto = Proto {
    tool: "pop3test",
    port: "POP3_PORT",
    stdin: "STAT\n",
    command: "C: AUTH {MECH} {B64}\r\n",
    ok: "S: +OK ",
    fail: "S: -ERR ",
    login: "pop3-login: Info: Login: user=<tim>, method={MECH}",
    ..IMAP
};

const SIEVE: Proto = Proto {
    tool: "sivtest",
    port: "SIEVE_PORT",
    stdin: "LISTSCRIPTS\n",
    command: "C: AUTHENTICATE \"{MECH}\" {{LEN}+}\r\n{B64}\r\n",
    ok: "S: OK ",
    challenge: "S: \"",
    empty_response: "C: {0+}\r\nC: \r\n",
    kvsep_response: "C: {4+}\r\nC: AQ==\r\n",
    fail: "S: NO ",
    login: "managesieve-login: Info: Login: user=<tim>, method={MECH}",
    ..IMAP
};

const SUBMISSION: Proto = Proto {
    tool: "smtptest",
    port: "SUBMISSION_PORT",
    stdin: "NOOP\n",
    ok: "S: 235 ",
    challenge: "S: 334 ",
    fail: "S: 535 ",
    login: "submission-login: Info: Login: user=<tim>, method={MECH}",
    ..POP3
};

const POSTFIX: Proto = Proto {
    tool: "smtptest",
    port: "SMTP_PORT",
    stdin: "MAIL FROM:<tim@lab.example>\nRCPT TO:<oauth-{MECH}@remote.example>\n",
    log: "postfix/maillog",
    login: "sasl_method={MECH}, sasl_username=tim",
    ..SUBMISSION
};

fn args(proto: &Proto, mech: &str, token: &Path) -> Vec<String> {
    let port = lab().port(proto.port).to_string();
    let (mech, token) = (mech.to_ascii_lowercase(), token.to_string_lossy());
    strings(&["-p", &port, "-a", "tim", "-m", &mech])
        .into_iter()
        .chain(strings(&["--oauth-token-file", &token, "127.0.0.1"]))
        .collect()
}

/// A valid token logs tim in with `mech`: the exact initial response on the command line,
/// the server's OK, `Authenticated.`, and the server's own log naming tim and the mechanism.
fn logs_in(proto: &Proto, mech: &str) {
    let token = token_file("valid");
    let port = lab().port(proto.port);
    let out = ours(
        proto.tool,
        &args(proto, mech, &token),
        proto.stdin.replace("{MECH}", mech).as_bytes(),
    );
    let stdout = text(&out.stdout);
    let encoded = b64(&initial_response(mech, port, &token_text(&token)));
    let command = proto
        .command
        .replace("{MECH}", mech)
        .replace("{LEN}", &encoded.len().to_string())
        .replace("{B64}", &encoded);
    let expected = format!("{command}{}", proto.ok);
    assert!(stdout.contains(&expected), "no {expected:?} in:\n{stdout}");
    assert!(
        stdout.contains("\nAuthenticated.\nSecurity strength factor: 0\n"),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let login = proto.login.replace("{MECH}", mech);
    assert!(
        lab().wait_for_log(proto.log, &login, Duration::from_secs(5)),
        "{} has no {login:?}",
        proto.log
    );
}

/// A refused token: the server's error challenge (JSON with a status) is answered with the
/// mechanism's dummy response at once, the server fails, and so does the run — quickly.
fn is_refused(proto: &Proto, mech: &str, kind: &str, reason: &str) {
    let token = token_file(kind);
    let mut arguments = args(proto, mech, &token);
    arguments.insert(0, "--exit-status".into());
    let out = ours(proto.tool, &arguments, proto.stdin.as_bytes());
    let stdout = text(&out.stdout);
    // The first line after the command (sieve capability lines are quoted strings too).
    let command = stdout.find("C: A").expect("the SASL command");
    let at = stdout[command..]
        .find("\r\nS: ")
        .map(|end| command + end + 2)
        .filter(|&line| stdout[line..].starts_with(proto.challenge))
        .unwrap_or_else(|| panic!("no error challenge after the command in:\n{stdout}"));
    let rest = &stdout[at + proto.challenge.len()..];
    let line_end = rest.find("\r\n").expect("challenge line end");
    let encoded = rest[..line_end].trim_end_matches('"');
    let json = text(&openssl::base64::decode_block(encoded).expect("base64 challenge"));
    assert!(
        json.starts_with('{') && json.contains("\"status\""),
        "{json}"
    );
    let dummy = if mech == "XOAUTH2" {
        proto.empty_response
    } else {
        proto.kvsep_response
    };
    let after = &rest[line_end + 2..];
    assert!(
        after.starts_with(&format!("{dummy}{}", proto.fail)),
        "not {dummy:?} then the failure after the challenge:\n{stdout}"
    );
    assert!(
        stdout.contains("\nAuthentication failed. generic failure\nSecurity strength factor: 0\n"),
        "{stdout}"
    );
    // --exit-status: 4 for a failed authentication.
    assert_eq!(out.status.code(), Some(4), "{stdout}{}", text(&out.stderr));
    assert!(out.elapsed < QUICK, "took {:?}", out.elapsed);
    assert!(
        lab().wait_for_log("dovecot.log", reason, Duration::from_secs(5)),
        "dovecot.log has no {reason:?}"
    );
}

fn both_ways(proto: &Proto) {
    logs_in(proto, "XOAUTH2");
    logs_in(proto, "OAUTHBEARER");
    is_refused(proto, "XOAUTH2", "expired", "Token has expired");
    is_refused(proto, "OAUTHBEARER", "badsig", "Incorrect JWT signature");
}

fn imtest_with_sasl_ir() {
    both_ways(&IMAP);
}

fn pop3test() {
    both_ways(&POP3);
}

fn sivtest_literals_and_quoted_error_challenge() {
    both_ways(&SIEVE);
}

fn smtptest_dovecot_submission() {
    both_ways(&SUBMISSION);
}

fn smtptest_postfix() {
    both_ways(&POSTFIX);
}

fn token_from_an_inherited_pipe() {
    let token = token_text(&token_file("valid"));
    let port = lab().port("IMAP_PORT").to_string();
    let out = Run::new(Imp::Ours, "imtest")
        .line_on_fd(7, &token)
        .args(["-p", &port, "-a", "tim", "-m", "OAUTHBEARER"])
        .args(["--oauth-token-fd", "7", "127.0.0.1"])
        .run_lab();
    let stdout = text(&out.stdout);
    let port: u16 = port.parse().unwrap();
    let encoded = b64(&initial_response("OAUTHBEARER", port, &token));
    assert!(
        stdout.contains(&format!(
            "C: A01 AUTHENTICATE OAUTHBEARER {encoded}\r\nS: A01 OK "
        )),
        "{stdout}"
    );
    assert!(stdout.contains("\nAuthenticated.\n"), "{stdout}");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

fn token_without_m_picks_oauthbearer() {
    let token = token_file("valid");
    for (tool, port, command) in [
        ("imtest", "IMAP_PORT", "C: A01 AUTHENTICATE OAUTHBEARER "),
        ("sivtest", "SIEVE_PORT", "C: AUTHENTICATE \"OAUTHBEARER\" {"),
        ("smtptest", "SMTP_PORT", "C: AUTH OAUTHBEARER "),
    ] {
        let port = lab().port(port).to_string();
        let file = token.to_string_lossy();
        let mut args = strings(&["-p", &port, "-a", "tim", "--oauth-token-file", &file]);
        args.push("127.0.0.1".into());
        let out = ours(tool, &args, b"");
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains(command),
            "{tool}: no {command:?} in\n{stdout}"
        );
        assert!(stdout.contains("\nAuthenticated.\n"), "{tool}:\n{stdout}");
        assert_eq!(out.status.code(), Some(0), "{tool}: {}", text(&out.stderr));
    }
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    crate::listed!(
        "extras/oauth/",
        imtest_with_sasl_ir,
        pop3test,
        sivtest_literals_and_quoted_error_challenge,
        smtptest_dovecot_submission,
        smtptest_postfix,
        token_from_an_inherited_pipe,
        token_without_m_picks_oauthbearer,
    )
}
