//! Secret hygiene: the `-w` password is masked (overwritten with `x`) in the process's own argv
//! once the command line is parsed, so `/proc/PID/cmdline` (and `ps`) no longer show it —
//! in every spelling getopt accepts. The C tool leaves it visible; that difference is wanted.
//!
//! Where the password reaches stdout at all, it is where the C tool prints it too, and never
//! in clear text:
//! * SASL mechanisms whose response carries it (PLAIN, LOGIN): the base64 response on the
//!   `C:` line (`C: A01 AUTHENTICATE PLAIN AHRpbQBzZWNyZXQ=`, `C: c2VjcmV0`);
//! * `httptest -m basic`: the base64 `Authorization: Basic` header line.
//!
//! The built-in logins print `<omitted>` instead (IMAP LOGIN's literal, POP3 `PASS`, NNTP
//! `AUTHINFO PASS`), and a prompted password is read without echo.

use crate::support::held::{tell, when_authed};
use crate::support::run::{words, Command, Imp};
use crate::support::server::*;
use std::time::{Duration, Instant};

const PASSWORD: &str = "s3cr3t-Pw";

/// Starts ours with `args` (placeholders filled by the engine) against a server that accepts
/// PLAIN (with or without an initial response, `-i`) and then holds the session open; returns
/// the cmdline seen once masking happened (or the last one seen at the deadline), plus the
/// run's output.
fn cmdline_during_session(args: &[&str]) -> (Vec<String>, crate::support::run::Output) {
    let command = |port: &str| {
        let vars = crate::engine::Vars {
            port: port.to_owned(),
            ..Default::default()
        };
        let args: Vec<String> = args.iter().map(|a| crate::engine::fill(a, &vars)).collect();
        Command::new(Imp::Ours, "imtest").args(&args)
    };
    let server = |authed| {
        FakeServer::start(vec![vec![
            send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake\r\n"),
            read_line(),
            send("A01 OK done\r\n"),
            tell(authed),
            expect_line("Q01 LOGOUT\r\n"),
            send("* BYE\r\nQ01 OK bye\r\n"),
        ]])
    };
    // Authenticated = parsed long ago; the session now waits for stdin.
    let (mut seen, output) = when_authed(server, command, |pid| {
        let read = || -> Vec<String> {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .unwrap_or_default()
                .split(|&b| b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut seen = read();
        while seen.iter().any(|a| a.contains(PASSWORD)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            seen = read();
        }
        seen
    });
    // The kernel's text ends with the last NUL: drop the empty piece after it.
    if seen.last().is_some_and(|a| a.is_empty()) {
        seen.pop();
    }
    (seen, output)
}

fn check(args: &[&str], masked: &[&str]) {
    let (seen, output) = cmdline_during_session(args);
    assert!(
        !seen.iter().any(|a| a.contains(PASSWORD)),
        "{args:?}: password visible in /proc/PID/cmdline: {seen:?}"
    );
    let expected: Vec<String> = std::iter::once("imtest")
        .chain(masked.iter().copied())
        .map(str::to_string)
        .collect();
    assert_eq!(normalise_port(&seen), expected, "{args:?}: masked argv");
    assert_eq!(output.code(), 0, "{}", output.describe());
    for (name, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        assert!(
            !String::from_utf8_lossy(bytes).contains(PASSWORD),
            "{args:?}: password in clear on {name}:\n{}",
            output.describe()
        );
    }
}

/// The port is a number chosen at run time: shown as `{PORT}`.
fn normalise_port(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut after_p = false;
    for a in args {
        if after_p && a.chars().all(|c| c.is_ascii_digit()) {
            out.push("{PORT}".to_string());
        } else {
            out.push(a.clone());
        }
        after_p = a == "-p";
    }
    out
}

/// `check` on two command lines written as one string each (`support::run::words`).
fn check_line(args: &'static str, masked: &'static str) {
    check(&words(args), &words(masked));
}

fn separate_argument() {
    check_line(
        "-p {PORT} -a tim -w s3cr3t-Pw 127.0.0.1",
        "-p {PORT} -a tim -w xxxxxxxxx 127.0.0.1",
    );
}

fn attached_and_clustered() {
    check_line(
        "-p {PORT} -a tim -ws3cr3t-Pw 127.0.0.1",
        "-p {PORT} -a tim -wxxxxxxxxx 127.0.0.1",
    );
    check_line(
        "-p {PORT} -a tim -i -vws3cr3t-Pw 127.0.0.1",
        "-p {PORT} -a tim -i -vwxxxxxxxxx 127.0.0.1",
    );
}

fn long_forms_and_abbreviations() {
    for (args, masked) in [
        (
            "-p {PORT} -a tim --password s3cr3t-Pw 127.0.0.1",
            "-p {PORT} -a tim --password xxxxxxxxx 127.0.0.1",
        ),
        (
            "-p {PORT} -a tim --password=s3cr3t-Pw 127.0.0.1",
            "-p {PORT} -a tim --password=xxxxxxxxx 127.0.0.1",
        ),
        (
            "-p {PORT} -a tim --pass=s3cr3t-Pw 127.0.0.1",
            "-p {PORT} -a tim --pass=xxxxxxxxx 127.0.0.1",
        ),
        (
            "-p {PORT} -a tim --passw s3cr3t-Pw 127.0.0.1",
            "-p {PORT} -a tim --passw xxxxxxxxx 127.0.0.1",
        ),
    ] {
        check_line(args, masked);
    }
}

/// glibc permutes argv (options before operands); the mask still hits the original places,
/// and every `-w` given is masked, not only the one that counts.
fn permuted_and_repeated() {
    check_line(
        "127.0.0.1 -w first-one -p {PORT} -a tim -w s3cr3t-Pw",
        "127.0.0.1 -w xxxxxxxxx -p {PORT} -a tim -w xxxxxxxxx",
    );
}

/// An argument after `--` is an operand, not a password: left alone.
fn operand_after_double_dash_is_not_masked() {
    let (seen, _) = cmdline_during_session(&words("-p {PORT} -a tim -w s3cr3t-Pw -- 127.0.0.1"));
    assert_eq!(seen.last().map(String::as_str), Some("127.0.0.1"));
    assert!(!seen.iter().any(|a| a.contains(PASSWORD)), "{seen:?}");
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    crate::listed!(
        "secrets/",
        separate_argument,
        attached_and_clustered,
        long_forms_and_abbreviations,
        permuted_and_repeated,
        operand_after_double_dash_is_not_masked,
    )
}
