//! Lines without their newline where the C tool reads without waiting are case files
//! (`tests/cases/partial-lines/`); here the one that needs an option the C tool lacks.

use crate::engine::rust_test;
use crate::support::certs::certs;
use crate::support::run::{Command, Imp};
use crate::support::server::*;
use libtest_mimic::Trial;

/// With `--read-timeout` (ours only) the partial line after the STARTTLS reply is not
/// mistaken for a silent server: the session goes on as without the option.
fn read_timeout_does_not_fire_on_a_partial_line_that_was_answered() {
    let server = FakeServer::start(vec![vec![
        send("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] fake ready\r\n"),
        expect_line("S01 STARTTLS\r\n"),
        send("S01 OK begin TLS\r\n* PARTIAL"),
        start_tls(&TlsConfig::simple(&certs().server)),
        read_line(),
        send("* CAPABILITY IMAP4rev1\r\nC01 OK done\r\n"),
        pause_ms(100),
        close(),
    ]]);
    let port = server.port().to_string();
    let out = Command::new(Imp::Ours, "imtest")
        .args(["--read-timeout", "2", "-t", "", "-p", &port])
        .args(["-m", "plain", "-a", "tim", "-w", "x", "127.0.0.1"])
        .stdin_bytes(b"")
        .run();
    server.finish();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("S: * PARTIAL"), "{stdout}");
    assert!(stdout.contains("C: C01 CAPABILITY"), "{stdout}");
    assert!(!stderr.contains("no data from the server"), "{stderr}");
}

pub fn trials_all() -> Vec<Trial> {
    vec![rust_test(
        "partial-lines/read_timeout_does_not_fire_on_a_partial_line_that_was_answered",
        read_timeout_does_not_fire_on_a_partial_line_that_was_answered,
    )]
}
