//! Lines without their newline where the C tool reads without waiting: after a STARTTLS reply
//! (imtest, pop3test, smtptest), after an IMAP banner (the capability reader with no end
//! line), in httptest's Basic reply and in its SASL reply headers. The C tool hands back
//! what it has (`S: * PARTIAL`, its next output glued to it) and carries on; each server
//! here waits for the client's next step before it goes on, so a client that waits for the
//! rest of the line never gets there. Ours and the C tool run against the same script and
//! must agree byte for byte (the engine's same-as-C judgement).
//!
//! Also numbers read from the server the C way: sivtest's `{n}` literal sizes go through
//! `atoi` into an `unsigned` (overflow and signs included).

use crate::engine::{rust_test, trials, Case, Expect};
use crate::support::certs::certs;
use crate::support::server::*;
use libtest_mimic::Trial;

/// `args`: whitespace-separated, `''` an empty argument; the server `127.0.0.1` is added.
fn argv(args: &str) -> Vec<String> {
    args.split_whitespace()
        .chain(["127.0.0.1"])
        .map(|a| {
            if a == "''" {
                String::new()
            } else {
                a.to_string()
            }
        })
        .collect()
}

/// One same-as-C case, listed as `partial-lines/<name>`.
fn same_as_c(
    name: &str,
    tool: &'static str,
    args: &str,
    stdin: &'static [u8],
    script: impl Fn() -> Script + Clone + Send + Sync + 'static,
) -> Vec<Trial> {
    let argv = argv(args);
    let title = name.to_string();
    trials(&format!("partial-lines/{name}"), Expect::Same, move || {
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        let script = script.clone();
        Case::new(&title, tool)
            .args(&words)
            .stdin(stdin)
            .server(move || vec![script()])
            .expect(Expect::Same)
    })
}

const STARTTLS_PLAIN: &str = "-t '' -p {PORT} -m plain -a tim -w x";

/// After the handshake: one capability request answered, then the connection ends.
fn after_handshake(steps: &mut Script, caps: &str) {
    steps.push(start_tls(&TlsConfig::simple(&certs().server)));
    steps.push(read_line());
    steps.push(send(caps));
    steps.push(pause_ms(100));
    steps.push(close());
}

fn imap_starttls_ok_and_a_partial_line_in_one_read() -> Vec<Trial> {
    same_as_c(
        "imap STARTTLS + partial",
        "imtest",
        STARTTLS_PLAIN,
        b"",
        || {
            let mut s = vec![
                send("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] fake ready\r\n"),
                expect_line("S01 STARTTLS\r\n"),
                send("S01 OK begin TLS\r\n* PARTIAL"),
            ];
            after_handshake(&mut s, "* CAPABILITY IMAP4rev1\r\nC01 OK done\r\n");
            s
        },
    )
}

fn pop3_stls_ok_and_a_partial_line_in_one_read() -> Vec<Trial> {
    same_as_c(
        "pop3 STLS + partial",
        "pop3test",
        STARTTLS_PLAIN,
        b"",
        || {
            let mut s = vec![
                send("+OK fake ready\r\n"),
                expect_line("CAPA\r\n"),
                send("+OK\r\nSTLS\r\nSASL PLAIN\r\n.\r\n"),
                expect_line("STLS\r\n"),
                send("+OK begin TLS\r\n* PARTIAL"),
            ];
            after_handshake(&mut s, "+OK\r\nSASL PLAIN\r\n.\r\n");
            s
        },
    )
}

fn smtp_starttls_ok_and_a_partial_line_in_one_read() -> Vec<Trial> {
    same_as_c(
        "smtp STARTTLS + partial",
        "smtptest",
        STARTTLS_PLAIN,
        b"",
        || {
            let mut s = vec![
                send("220 fake ESMTP\r\n"),
                expect_line("EHLO smtptest\r\n"),
                send("250-fake\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n"),
                expect_line("STARTTLS\r\n"),
                send("220 go ahead\r\n250-PARTIAL"),
            ];
            after_handshake(&mut s, "250-fake\r\n250 AUTH PLAIN\r\n");
            s
        },
    )
}

fn imap_banner_followed_by_a_partial_line() -> Vec<Trial> {
    let args = "-p {PORT} -m plain -a tim -w x";
    same_as_c("imap banner + partial", "imtest", args, b"", || {
        vec![
            send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake ready\r\n* PART"),
            expect_line("A01 AUTHENTICATE PLAIN\r\n"),
            send("+ \r\n"),
            read_line(),
            send("A01 OK done\r\n"),
            expect_line("Q01 LOGOUT\r\n"),
            send("Q01 OK bye\r\n"),
            close(),
        ]
    })
}

/// An OPTIONS request of httptest (`extra` header lines before the empty line).
fn http_request(extra: usize) -> Vec<Step> {
    (0..4 + extra).map(|_| read_line()).collect()
}

/// A 401 page that ends without a newline, as Cyrus httpd sends them; then the request the
/// user typed is answered and the server closes.
fn unauthorised_then_typed_request(steps: &mut Script) {
    steps.push(send(
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/html\r\nContent-Length: 22\r\n\r\n\
         <html>No way.</html>",
    ));
    steps.push(expect_line("GET / HTTP/1.1\r\n"));
    steps.push(read_line());
    steps.push(send(
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ));
    steps.push(close());
}

/// httptest `args` against a server whose OPTIONS reply offers `offer` (a header line), and
/// whose answer to the login is the 401 page.
fn http_401(name: &str, args: &str, offer: &'static str) -> Vec<Trial> {
    same_as_c(name, "httptest", args, b"GET / HTTP/1.1\n\n", move || {
        let mut s = http_request(0);
        s.push(send(format!(
            "HTTP/1.1 200 OK\r\n{offer}\r\nContent-Length: 0\r\n\r\n"
        )));
        s.extend(http_request(1));
        unauthorised_then_typed_request(&mut s);
        s
    })
}

fn http_basic_401_page_without_final_newline() -> Vec<Trial> {
    http_401(
        "http basic 401",
        "-p {PORT} -m basic -a tim -w x",
        "WWW-Authenticate: Basic realm=\"x\"",
    )
}

fn http_sasl_401_page_without_final_newline() -> Vec<Trial> {
    http_401(
        "http SASL 401",
        "-p {PORT} -a tim -w x",
        "WWW-Authenticate: Digest realm=\"x\",nonce=\"abc\",qop=\"auth\"",
    )
}

/// sivtest `-i -m plain`: the server answers AUTHENTICATE with a literal header `header`, a
/// challenge line, then takes whatever the client sends next and ends the session.
fn sieve_literal(name: &str, header: &'static str) -> Vec<Trial> {
    let args = "-i -p {PORT} -m plain -a tim -w x";
    same_as_c(name, "sivtest", args, b"", move || {
        vec![
            send("\"IMPLEMENTATION\" \"fake\"\r\n\"SASL\" \"PLAIN\"\r\nOK\r\n"),
            expect_line("AUTHENTICATE \"PLAIN\"\r\n"),
            send(header),
            send("AAAAAAAA\r\n"),
            read_line(),
            send("NO \"cancelled\"\r\n"),
            read_line(),
            send("OK \"bye\"\r\n"),
            close(),
        ]
    })
}

fn sieve_literal_size_wraps_to_zero() -> Vec<Trial> {
    sieve_literal("{4294967296}", "{4294967296}\r\n")
}

fn sieve_literal_size_negative() -> Vec<Trial> {
    sieve_literal("{-5}", "{-5}\r\n")
}

fn sieve_literal_size_beyond_long() -> Vec<Trial> {
    sieve_literal("{99999999999999999999}", "{99999999999999999999}\r\n")
}

fn sieve_literal_size_with_space_and_sign() -> Vec<Trial> {
    sieve_literal("{ +8}", "{ +8}\r\n")
}

/// With `--read-timeout` (ours only) the partial line after the STARTTLS reply is not
/// mistaken for a silent server: the session goes on as without the option.
fn read_timeout_does_not_fire_on_a_partial_line_that_was_answered() {
    let server = FakeServer::start(vec![{
        let mut s = vec![
            send("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] fake ready\r\n"),
            expect_line("S01 STARTTLS\r\n"),
            send("S01 OK begin TLS\r\n* PARTIAL"),
        ];
        after_handshake(&mut s, "* CAPABILITY IMAP4rev1\r\nC01 OK done\r\n");
        s
    }]);
    let port = server.port().to_string();
    let out = crate::support::run::Command::new(crate::support::run::Imp::Ours, "imtest")
        .args(argv(&format!(
            "--read-timeout 2 -t '' -p {port} -m plain -a tim -w x"
        )))
        .stdin_bytes(b"")
        .run();
    server.finish();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("S: * PARTIAL"), "{stdout}");
    assert!(stdout.contains("C: C01 CAPABILITY"), "{stdout}");
    assert!(!stderr.contains("no data from the server"), "{stderr}");
}

/// Every case of this module.
pub fn trials_all() -> Vec<Trial> {
    let mut t = Vec::new();
    t.extend(imap_starttls_ok_and_a_partial_line_in_one_read());
    t.extend(pop3_stls_ok_and_a_partial_line_in_one_read());
    t.extend(smtp_starttls_ok_and_a_partial_line_in_one_read());
    t.extend(imap_banner_followed_by_a_partial_line());
    t.extend(http_basic_401_page_without_final_newline());
    t.extend(http_sasl_401_page_without_final_newline());
    t.extend(sieve_literal_size_wraps_to_zero());
    t.extend(sieve_literal_size_negative());
    t.extend(sieve_literal_size_beyond_long());
    t.extend(sieve_literal_size_with_space_and_sign());
    t.push(rust_test(
        "partial-lines/read_timeout_does_not_fire_on_a_partial_line_that_was_answered",
        read_timeout_does_not_fire_on_a_partial_line_that_was_answered,
    ));
    t
}
