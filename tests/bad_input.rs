//! Hostile servers and bad local input: for each case the C tool and ours run against the same
//! scripted server (a fresh one per run) and must agree on stdout, stderr, exit status and the
//! bytes the server received — the C tool's messages, never a panic or a hang (every run is
//! bounded by the runner's timeout, and a timeout fails the case).

mod support;

use support::certs::certs;
use support::server::*;

/// The IMAP greeting most cases start with.
const BANNER: &str = "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR] fake ready\r\n";

/// Ours against the C tool on the same hostile server (see `support::differ`).
fn same_as_c(name: &str, args: &[&str], stdin: &[u8], script: impl Fn() -> Script) {
    let args: Vec<std::ffi::OsString> = args.iter().map(std::ffi::OsString::from).collect();
    support::differ::same_as_c(name, "imtest", &args, stdin, script);
}

const PLAIN: &[&str] = &[
    "-p",
    "{PORT}",
    "-m",
    "plain",
    "-a",
    "tim",
    "-w",
    "x",
    "127.0.0.1",
];
const STARTTLS: &[&str] = &[
    "-t",
    "",
    "-p",
    "{PORT}",
    "-m",
    "plain",
    "-a",
    "tim",
    "-w",
    "x",
    "127.0.0.1",
];
const IMAPS: &[&str] = &[
    "-s",
    "-p",
    "{PORT}",
    "-m",
    "plain",
    "-a",
    "tim",
    "-w",
    "x",
    "127.0.0.1",
];

#[test]
fn server_closes_before_the_greeting() {
    same_as_c("close before greeting", PLAIN, b"", || vec![close()]);
}

#[test]
fn server_closes_after_the_capability_command() {
    same_as_c("close after CAPABILITY", PLAIN, b"", || {
        vec![send("* OK fake\r\n"), read_line(), close()]
    });
}

#[test]
fn server_closes_in_the_middle_of_the_capability_response() {
    same_as_c("close inside CAPABILITY", PLAIN, b"", || {
        vec![
            send("* OK fake\r\n"),
            read_line(),
            send("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"),
            close(),
        ]
    });
}

#[test]
fn server_closes_after_authenticate() {
    same_as_c("close after AUTHENTICATE", PLAIN, b"", || {
        vec![send(BANNER), read_line(), close()]
    });
}

#[test]
fn server_closes_after_a_challenge_was_answered() {
    let args = &[
        "-i",
        "-p",
        "{PORT}",
        "-m",
        "plain",
        "-a",
        "tim",
        "-w",
        "x",
        "127.0.0.1",
    ];
    same_as_c("close after response", args, b"", || {
        vec![
            send(BANNER),
            read_line(),
            send("+ \r\n"),
            read_line(),
            close(),
        ]
    });
}

#[test]
fn server_closes_after_login_continuation() {
    let args = &[
        "-p",
        "{PORT}",
        "-m",
        "login",
        "-a",
        "tim",
        "-w",
        "x",
        "127.0.0.1",
    ];
    same_as_c("close after LOGIN +", args, b"", || {
        vec![
            send(BANNER),
            read_line(),
            send("+ go ahead\r\n"),
            read_line(),
            close(),
        ]
    });
}

#[test]
fn server_closes_after_starttls_ok() {
    same_as_c("close after STARTTLS OK", STARTTLS, b"", || {
        vec![
            send(BANNER),
            read_line(),
            send("S01 OK begin TLS\r\n"),
            close(),
        ]
    });
}

#[test]
fn server_closes_in_the_middle_of_the_handshake() {
    same_as_c("close during handshake", STARTTLS, b"", || {
        vec![
            send(BANNER),
            read_line(),
            send("S01 OK begin TLS\r\n"),
            discard_some(),
            close(),
        ]
    });
}

#[test]
fn server_closes_right_after_the_handshake() {
    same_as_c("close after handshake", STARTTLS, b"", || {
        vec![
            send(BANNER),
            read_line(),
            send("S01 OK begin TLS\r\n"),
            start_tls(&TlsConfig::simple(&certs().server)),
            read_line(),
            close(),
        ]
    });
}

#[test]
fn implicit_tls_server_sends_plain_text() {
    same_as_c("garbage instead of TLS (-s)", IMAPS, b"", || {
        vec![send(BANNER), pause_ms(50), close()]
    });
}

#[test]
fn implicit_tls_server_closes_at_once() {
    same_as_c("close before handshake (-s)", IMAPS, b"", || vec![close()]);
}

#[test]
fn key_file_that_is_a_directory() {
    let args = &[
        "-t",
        "/tmp",
        "-p",
        "{PORT}",
        "-m",
        "plain",
        "-a",
        "tim",
        "-w",
        "x",
        "127.0.0.1",
    ];
    same_as_c("-t directory", args, b"", || {
        vec![
            send(BANNER),
            read_line(),
            send("S01 OK begin TLS\r\n"),
            read_line(),
            send("C01 OK nothing\r\n"),
            read_line(),
            send("Q01 OK bye\r\n"),
        ]
    });
}

#[test]
fn key_file_without_a_private_key() {
    let cert_only = certs().ca.pem.clone().with_file_name("cert-only.pem");
    let pem = std::fs::read_to_string(&certs().ca.pem).expect("CA pem");
    let end = pem
        .find("-----END CERTIFICATE-----")
        .expect("a certificate")
        + "-----END CERTIFICATE-----\n".len();
    std::fs::write(&cert_only, &pem[..end]).expect("write cert-only pem");
    let path = cert_only.to_str().expect("utf-8 path").to_string();
    let args = [
        "-t",
        &path,
        "-p",
        "{PORT}",
        "-m",
        "plain",
        "-a",
        "tim",
        "-w",
        "x",
        "127.0.0.1",
    ];
    same_as_c("-t certificate without key", &args, b"", || {
        vec![
            send(BANNER),
            read_line(),
            send("S01 OK begin TLS\r\n"),
            read_line(),
            send("C01 OK nothing\r\n"),
            read_line(),
            send("Q01 OK bye\r\n"),
        ]
    });
}

#[test]
fn one_megabyte_capability_line_comes_in_1023_byte_pieces() {
    let huge = format!(
        "* CAPABILITY IMAP4rev1 {}\r\nC01 OK done\r\n",
        "X".repeat(1 << 20)
    );
    same_as_c("1 MB capability line", PLAIN, b"", move || {
        vec![
            send("* OK fake\r\n"),
            read_line(),
            send(huge.clone()),
            read_line(),
            close(),
        ]
    });
}

#[test]
fn nul_bytes_cut_printed_lines_and_the_mechanism_list() {
    same_as_c("NUL in greeting and relay", PLAIN, b"a1 NOOP\n", || {
        vec![
            send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN\0 AUTH=LOGIN SASL-IR] fake\r\n"),
            read_line(),
            send("A01 OK d\0one\r\n"),
            read_line(),
            send("* 1 EX\0ISTS\r\na1 OK done\r\n"),
            read_line(),
            close(),
        ]
    });
}

#[test]
fn line_without_crlf_then_close() {
    same_as_c("greeting without line end", PLAIN, b"", || {
        vec![send("* OK no line end"), close()]
    });
}

#[test]
fn server_resets_during_relay() {
    same_as_c("close during relay", PLAIN, b"a1 NOOP\n", || {
        vec![
            send(BANNER),
            read_line(),
            send("A01 OK done\r\n"),
            read_line(),
            send("* partial"),
            close(),
        ]
    });
}

#[test]
fn unknown_host_and_refused_port() {
    same_as_c(
        "unknown host",
        &["-p", "1", "no-such-host.invalid"],
        b"",
        Vec::new,
    );
    same_as_c("refused", &["-p", "1", "127.0.0.1"], b"", Vec::new);
    same_as_c(
        "unknown service",
        &["-p", "no-such-service", "127.0.0.1"],
        b"",
        Vec::new,
    );
}

#[test]
fn missing_input_file() {
    let args = &[
        "-f",
        "/nonexistent/cmds",
        "-p",
        "{PORT}",
        "-m",
        "plain",
        "-a",
        "tim",
        "-w",
        "x",
        "127.0.0.1",
    ];
    same_as_c("-f missing", args, b"", || {
        vec![
            send(BANNER),
            read_line(),
            send("A01 OK done\r\n"),
            read_to_eof(),
        ]
    });
}
