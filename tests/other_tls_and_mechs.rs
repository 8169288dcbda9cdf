//! Beyond the spec's transcripts, every program name against the C tool on the paths the
//! transcripts do not cover: implicit TLS (`-s`) for imap/pop3/smtp/http/nntp, STARTTLS
//! (`-t ""`) for every protocol that has it (accepted and refused), the `-m` special names
//! (`login`, `user`, `apop`, `basic`, `plain`, `negotiate`, `digest`) and the "not advertised"
//! messages, and sieve's non-literal challenges (spec §10.16). Expectations are the C tool's
//! runs, pinned in the spec's notation (`TRANSCRIPT_DUMP=1` prints a run that way); each case
//! runs against the C tool (`oracle`) and against ours compared with both (`ours`).
//!
//! Already covered elsewhere: IMAP `-s` (§13A.12/13), IMAP STARTTLS (§13A.7–11), sieve
//! STARTTLS (§13A.24), `-m login` (§13A.1), `-m user`/`apop` (§13A.17–19, 28), `-m basic`
//! (§13A.29), `-m negotiate` not advertised (§13A.32).

mod support;

use support::server::*;
use support::transcript::{Case, Outcome};

/// A fresh self-signed server identity per connection (full handshakes, TLS 1.3).
fn tls() -> TlsConfig {
    TlsConfig::simple(&support::certs::certs().self_signed)
}

/// The `OPTIONS *` request every httptest round starts with, plus `extra` header lines.
fn expect_options(extra: &[&'static str]) -> Vec<Step> {
    let mut v = vec![
        expect_line("OPTIONS * HTTP/1.1\r\n"),
        expect_line("Host: 127.0.0.1\r\n"),
        expect_line("User-Agent: httptest\r\n"),
    ];
    v.extend(extra.iter().map(|l| expect_line(*l)));
    v.push(expect_line("\r\n"));
    v
}

fn steps(parts: Vec<Vec<Step>>) -> Script {
    parts.into_iter().flatten().collect()
}

const ARGS: [&str; 7] = ["-p", "{PORT}", "-a", "tim", "-w", "x", "127.0.0.1"];

fn args(before: &[&'static str]) -> Vec<&'static str> {
    before.iter().copied().chain(ARGS).collect()
}

// ------------------------------------------------------------------------------------------
// Implicit TLS (`-s`)

crate::transcript_case!(
    s01_imaps,
    Case::new("-s imap", "imtest")
        .args(&args(&["-s"]))
        .server(|| vec![vec![
            start_tls(&tls()),
            send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake ready\r\n"),
            expect_line("A01 AUTHENTICATE PLAIN AHRpbQB4\r\n"),
            send("A01 OK done\r\n"),
            expect_line("Q01 LOGOUT\r\n"),
            send("* BYE\r\nQ01 OK bye\r\n"),
        ]])
        .stdout(
            r"verify error:num=18:self-signed certificate
TLS connection established: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake ready\r
C: A01 AUTHENTICATE PLAIN AHRpbQB4\r
S: A01 OK done\r
Authenticated.
Security strength factor: 256
C: Q01 LOGOUT\r
* BYE\r
Q01 OK bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
(TLS handshake: TLSv1.3 ('TLS_AES_256_GCM_SHA384', 'TLSv1.3', 256))
S->C '* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake ready\r\n'
C->S b'A01 AUTHENTICATE PLAIN AHRpbQB4\r\n'
S->C 'A01 OK done\r\n'
C->S b'Q01 LOGOUT\r\n'
S->C '* BYE\r\nQ01 OK bye\r\n'
"
        )
);

crate::transcript_case!(
    s02_pop3s,
    Case::new("-s pop3", "pop3test")
        .args(&args(&["-s"]))
        .server(|| vec![vec![
            start_tls(&tls()),
            send("+OK fake POP3 ready\r\n"),
            expect_line("CAPA\r\n"),
            send("+OK capa\r\nSASL PLAIN\r\n.\r\n"),
            expect_line("AUTH PLAIN AHRpbQB4\r\n"),
            send("+OK done\r\n"),
            expect_line("QUIT\r\n"),
            send("+OK bye\r\n"),
        ]])
        .stdout(
            r"verify error:num=18:self-signed certificate
TLS connection established: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
S: +OK fake POP3 ready\r
C: CAPA\r
S: +OK capa\r
S: SASL PLAIN\r
S: .\r
C: AUTH PLAIN AHRpbQB4\r
S: +OK done\r
Authenticated.
Security strength factor: 256
C: QUIT\r
+OK bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
(TLS handshake: TLSv1.3 ('TLS_AES_256_GCM_SHA384', 'TLSv1.3', 256))
S->C '+OK fake POP3 ready\r\n'
C->S b'CAPA\r\n'
S->C '+OK capa\r\nSASL PLAIN\r\n.\r\n'
C->S b'AUTH PLAIN AHRpbQB4\r\n'
S->C '+OK done\r\n'
C->S b'QUIT\r\n'
S->C '+OK bye\r\n'
"
        )
);

crate::transcript_case!(
    s03_smtps,
    Case::new("-s smtp", "smtptest")
        .args(&args(&["-s"]))
        .server(|| vec![vec![
            start_tls(&tls()),
            send("220 fake ESMTP\r\n"),
            expect_line("EHLO smtptest\r\n"),
            send("250-fake\r\n250 AUTH PLAIN\r\n"),
            expect_line("AUTH PLAIN AHRpbQB4\r\n"),
            send("235 ok\r\n"),
            expect_line("QUIT\r\n"),
            send("221 bye\r\n"),
        ]])
        .stdout(
            r"verify error:num=18:self-signed certificate
TLS connection established: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
S: 220 fake ESMTP\r
C: EHLO smtptest\r
S: 250-fake\r
S: 250 AUTH PLAIN\r
C: AUTH PLAIN AHRpbQB4\r
S: 235 ok\r
Authenticated.
Security strength factor: 256
C: QUIT\r
221 bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
(TLS handshake: TLSv1.3 ('TLS_AES_256_GCM_SHA384', 'TLSv1.3', 256))
S->C '220 fake ESMTP\r\n'
C->S b'EHLO smtptest\r\n'
S->C '250-fake\r\n250 AUTH PLAIN\r\n'
C->S b'AUTH PLAIN AHRpbQB4\r\n'
S->C '235 ok\r\n'
C->S b'QUIT\r\n'
S->C '221 bye\r\n'
"
        )
);

crate::transcript_case!(
    s04_https_basic,
    Case::new("-s http", "httptest")
        .args(&args(&["-s", "-m", "basic"]))
        .server(|| vec![steps(vec![
            vec![start_tls(&tls())],
            expect_options(&[]),
            vec![send("HTTP/1.1 200 OK\r\nWWW-Authenticate: Basic realm=\"fake\"\r\nContent-Length: 0\r\n\r\n")],
            expect_options(&["Authorization: Basic dGltOng=\r\n"]),
            vec![send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")],
        ])])
        .stdout(
            r#"verify error:num=18:self-signed certificate
TLS connection established: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
C: OPTIONS * HTTP/1.1\r
C: Host: 127.0.0.1\r
C: User-Agent: httptest\r
C: \r
S: HTTP/1.1 200 OK\r
S: WWW-Authenticate: Basic realm="fake"\r
S: Content-Length: 0\r
S: \r
C: OPTIONS * HTTP/1.1\r
C: Host: 127.0.0.1\r
C: User-Agent: httptest\r
C: Authorization: Basic dGltOng=\r
C: \r
S: HTTP/1.1 200 OK\r
S: Content-Length: 0\r
S: \r
Authenticated.
Security strength factor: 256
Connection closed.
"#
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r#"
(new TCP connection)
(TLS handshake: TLSv1.3 ('TLS_AES_256_GCM_SHA384', 'TLSv1.3', 256))
C->S b'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httptest\r\n\r\n'
S->C 'HTTP/1.1 200 OK\r\nWWW-Authenticate: Basic realm="fake"\r\nContent-Length: 0\r\n\r\n'
C->S b'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httptest\r\nAuthorization: Basic dGltOng=\r\n\r\n'
S->C 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'
"#
        )
);

crate::transcript_case!(
    s05_nntps,
    Case::new("-s nntp", "nntptest")
        .args(&args(&["-s"]))
        .server(|| vec![vec![
            start_tls(&tls()),
            send("200 fake NNTP ready\r\n"),
            expect_line("CAPABILITIES\r\n"),
            send("101 caps\r\nVERSION 2\r\nSASL PLAIN\r\n.\r\n"),
            expect_line("AUTHINFO SASL PLAIN AHRpbQB4\r\n"),
            send("281 ok\r\n"),
            expect_line("QUIT\r\n"),
            send("205 bye\r\n"),
        ]])
        .stdout(
            r"verify error:num=18:self-signed certificate
TLS connection established: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
S: 200 fake NNTP ready\r
C: CAPABILITIES\r
S: 101 caps\r
S: VERSION 2\r
S: SASL PLAIN\r
S: .\r
C: AUTHINFO SASL PLAIN AHRpbQB4\r
S: 281 ok\r
Authenticated.
Security strength factor: 256
C: QUIT\r
205 bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
(TLS handshake: TLSv1.3 ('TLS_AES_256_GCM_SHA384', 'TLSv1.3', 256))
S->C '200 fake NNTP ready\r\n'
C->S b'CAPABILITIES\r\n'
S->C '101 caps\r\nVERSION 2\r\nSASL PLAIN\r\n.\r\n'
C->S b'AUTHINFO SASL PLAIN AHRpbQB4\r\n'
S->C '281 ok\r\n'
C->S b'QUIT\r\n'
S->C '205 bye\r\n'
"
        )
);

// ------------------------------------------------------------------------------------------
// STARTTLS (`-t ""`), accepted

crate::transcript_case!(
    t01_pop3_stls,
    Case::new("-t pop3", "pop3test")
        .args(&args(&["-t", ""]))
        .server(|| vec![vec![
            send("+OK fake POP3 ready\r\n"),
            expect_line("CAPA\r\n"),
            send("+OK capa\r\nSTLS\r\nSASL PLAIN\r\n.\r\n"),
            expect_line("STLS\r\n"),
            send("+OK begin TLS\r\n"),
            start_tls(&tls()),
            expect_line("CAPA\r\n"),
            send("+OK capa\r\nSASL PLAIN\r\n.\r\n"),
            expect_line("AUTH PLAIN AHRpbQB4\r\n"),
            send("+OK done\r\n"),
            expect_line("QUIT\r\n"),
            send("+OK bye\r\n"),
        ]])
        .stdout(
            r"S: +OK fake POP3 ready\r
C: CAPA\r
S: +OK capa\r
S: STLS\r
S: SASL PLAIN\r
S: .\r
C: STLS\r
S: +OK begin TLS\r
verify error:num=18:self-signed certificate
TLS connection established: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
C: CAPA\r
S: +OK capa\r
S: SASL PLAIN\r
S: .\r
C: AUTH PLAIN AHRpbQB4\r
S: +OK done\r
Authenticated.
Security strength factor: 256
C: QUIT\r
+OK bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
S->C '+OK fake POP3 ready\r\n'
C->S b'CAPA\r\n'
S->C '+OK capa\r\nSTLS\r\nSASL PLAIN\r\n.\r\n'
C->S b'STLS\r\n'
S->C '+OK begin TLS\r\n'
(TLS handshake: TLSv1.3 ('TLS_AES_256_GCM_SHA384', 'TLSv1.3', 256))
C->S b'CAPA\r\n'
S->C '+OK capa\r\nSASL PLAIN\r\n.\r\n'
C->S b'AUTH PLAIN AHRpbQB4\r\n'
S->C '+OK done\r\n'
C->S b'QUIT\r\n'
S->C '+OK bye\r\n'
"
        )
);

fn xmtp_starttls(hello: &'static str) -> Script {
    vec![
        send("220 fake ready\r\n"),
        expect_line(hello),
        send("250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"),
        expect_line("STARTTLS\r\n"),
        send("220 2.0.0 go ahead\r\n"),
        start_tls(&tls()),
        expect_line(hello),
        send("250-fake\r\n250 AUTH PLAIN\r\n"),
        expect_line("AUTH PLAIN AHRpbQB4\r\n"),
        send("235 ok\r\n"),
        expect_line("QUIT\r\n"),
        send("221 bye\r\n"),
    ]
}

crate::transcript_case!(
    t02_smtp_starttls,
    Case::new("-t smtp", "smtptest")
        .args(&args(&["-t", ""]))
        .server(|| vec![xmtp_starttls("EHLO smtptest\r\n")])
        .stdout(
            r"S: 220 fake ready\r
C: EHLO smtptest\r
S: 250-fake\r
S: 250-STARTTLS\r
S: 250 AUTH PLAIN\r
C: STARTTLS\r
S: 220 2.0.0 go ahead\r
verify error:num=18:self-signed certificate
TLS connection established: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
C: EHLO smtptest\r
S: 250-fake\r
S: 250 AUTH PLAIN\r
C: AUTH PLAIN AHRpbQB4\r
S: 235 ok\r
Authenticated.
Security strength factor: 256
C: QUIT\r
221 bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
S->C '220 fake ready\r\n'
C->S b'EHLO smtptest\r\n'
S->C '250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n'
C->S b'STARTTLS\r\n'
S->C '220 2.0.0 go ahead\r\n'
(TLS handshake: TLSv1.3 ('TLS_AES_256_GCM_SHA384', 'TLSv1.3', 256))
C->S b'EHLO smtptest\r\n'
S->C '250-fake\r\n250 AUTH PLAIN\r\n'
C->S b'AUTH PLAIN AHRpbQB4\r\n'
S->C '235 ok\r\n'
C->S b'QUIT\r\n'
S->C '221 bye\r\n'
"
        )
);

crate::transcript_case!(
    t03_lmtp_starttls,
    Case::new("-t lmtp", "lmtptest")
        .args(&args(&["-t", ""]))
        .server(|| vec![xmtp_starttls("LHLO lmtptest\r\n")])
        .stdout(
            r"S: 220 fake ready\r
C: LHLO lmtptest\r
S: 250-fake\r
S: 250-STARTTLS\r
S: 250 AUTH PLAIN\r
C: STARTTLS\r
S: 220 2.0.0 go ahead\r
verify error:num=18:self-signed certificate
TLS connection established: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
C: LHLO lmtptest\r
S: 250-fake\r
S: 250 AUTH PLAIN\r
C: AUTH PLAIN AHRpbQB4\r
S: 235 ok\r
Authenticated.
Security strength factor: 256
C: QUIT\r
221 bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
S->C '220 fake ready\r\n'
C->S b'LHLO lmtptest\r\n'
S->C '250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n'
C->S b'STARTTLS\r\n'
S->C '220 2.0.0 go ahead\r\n'
(TLS handshake: TLSv1.3 ('TLS_AES_256_GCM_SHA384', 'TLSv1.3', 256))
C->S b'LHLO lmtptest\r\n'
S->C '250-fake\r\n250 AUTH PLAIN\r\n'
C->S b'AUTH PLAIN AHRpbQB4\r\n'
S->C '235 ok\r\n'
C->S b'QUIT\r\n'
S->C '221 bye\r\n'
"
        )
);

crate::transcript_case!(
    t04_mupdate_starttls,
    Case::new("-t mupdate", "imtest")
        .args(&args(&["-P", "mupdate", "-t", ""]))
        .server(|| vec![vec![
            send("* AUTH \"PLAIN\"\r\n* STARTTLS\r\n* OK MUPDATE \"fake\" \"Cyrus\" \"ready\"\r\n"),
            expect_line("S01 STARTTLS\r\n"),
            send("S01 OK \"go\"\r\n"),
            start_tls(&tls()),
            send("* AUTH \"PLAIN\"\r\n* OK MUPDATE \"fake\" \"Cyrus\" \"ready\"\r\n"),
            expect_line("A01 AUTHENTICATE \"PLAIN\" {8+}\r\n"),
            expect_line("AHRpbQB4\r\n"),
            send("A01 OK \"done\"\r\n"),
            expect_line("Q01 LOGOUT\r\n"),
            send("Q01 OK \"bye\"\r\n"),
        ]])
        .stdout(
            r#"S: * AUTH "PLAIN"\r
S: * STARTTLS\r
S: * OK MUPDATE "fake" "Cyrus" "ready"\r
C: S01 STARTTLS\r
S: S01 OK "go"\r
verify error:num=18:self-signed certificate
TLS connection established: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
S: * AUTH "PLAIN"\r
S: * OK MUPDATE "fake" "Cyrus" "ready"\r
C: A01 AUTHENTICATE "PLAIN" {8+}\r
AHRpbQB4\r
S: A01 OK "done"\r
Authenticated.
Security strength factor: 256
C: Q01 LOGOUT\r
Q01 OK "bye"\r
Connection closed.
"#
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r#"
(new TCP connection)
S->C '* AUTH "PLAIN"\r\n* STARTTLS\r\n* OK MUPDATE "fake" "Cyrus" "ready"\r\n'
C->S b'S01 STARTTLS\r\n'
S->C 'S01 OK "go"\r\n'
(TLS handshake: TLSv1.3 ('TLS_AES_256_GCM_SHA384', 'TLSv1.3', 256))
S->C '* AUTH "PLAIN"\r\n* OK MUPDATE "fake" "Cyrus" "ready"\r\n'
C->S b'A01 AUTHENTICATE "PLAIN" {8+}\r\nAHRpbQB4\r\n'
S->C 'A01 OK "done"\r\n'
C->S b'Q01 LOGOUT\r\n'
S->C 'Q01 OK "bye"\r\n'
"#
        )
);

crate::transcript_case!(
    t05_csync_starttls,
    Case::new("-t csync", "synctest")
        .args(&args(&["-t", ""]))
        .server(|| vec![vec![
            send("* SASL PLAIN\r\n* STARTTLS\r\n* OK fake csync ready\r\n"),
            expect_line("STARTTLS\r\n"),
            send("OK go\r\n"),
            start_tls(&tls()),
            send("* SASL PLAIN\r\n* OK fake csync ready\r\n"),
            expect_line("AUTHENTICATE PLAIN AHRpbQB4\r\n"),
            send("OK success\r\n"),
            expect_line("EXIT\r\n"),
            send("OK bye\r\n"),
        ]])
        .stdout(
            r"S: * SASL PLAIN\r
S: * STARTTLS\r
S: * OK fake csync ready\r
C: STARTTLS\r
S: OK go\r
verify error:num=18:self-signed certificate
TLS connection established: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
S: * SASL PLAIN\r
S: * OK fake csync ready\r
C: AUTHENTICATE PLAIN AHRpbQB4\r
S: OK success\r
Authenticated.
Security strength factor: 256
C: EXIT\r
OK bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
S->C '* SASL PLAIN\r\n* STARTTLS\r\n* OK fake csync ready\r\n'
C->S b'STARTTLS\r\n'
S->C 'OK go\r\n'
(TLS handshake: TLSv1.3 ('TLS_AES_256_GCM_SHA384', 'TLSv1.3', 256))
S->C '* SASL PLAIN\r\n* OK fake csync ready\r\n'
C->S b'AUTHENTICATE PLAIN AHRpbQB4\r\n'
S->C 'OK success\r\n'
C->S b'EXIT\r\n'
S->C 'OK bye\r\n'
"
        )
);

crate::transcript_case!(
    t06_http_upgrade,
    Case::new("-t http", "httptest")
        .args(&args(&["-t", "", "-m", "basic"]))
        .server(|| vec![steps(vec![
            expect_options(&[]),
            vec![send("HTTP/1.1 200 OK\r\nUpgrade: TLS/1.2\r\nWWW-Authenticate: Basic realm=\"fake\"\r\nContent-Length: 0\r\n\r\n")],
            expect_options(&["Connection: Upgrade\r\n", "Upgrade: TLS/1.2\r\n"]),
            vec![
                send("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: TLS/1.2\r\n\r\n"),
                start_tls(&tls()),
                send("HTTP/1.1 200 OK\r\nWWW-Authenticate: Basic realm=\"fake\"\r\nContent-Length: 0\r\n\r\n"),
            ],
            expect_options(&["Authorization: Basic dGltOng=\r\n"]),
            vec![send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")],
        ])])
        .stdout(
            r#"C: OPTIONS * HTTP/1.1\r
C: Host: 127.0.0.1\r
C: User-Agent: httptest\r
C: \r
S: HTTP/1.1 200 OK\r
S: Upgrade: TLS/1.2\r
S: WWW-Authenticate: Basic realm="fake"\r
S: Content-Length: 0\r
S: \r
C: OPTIONS * HTTP/1.1\r
C: Host: 127.0.0.1\r
C: User-Agent: httptest\r
C: Connection: Upgrade\r
C: Upgrade: TLS/1.2\r
C: \r
S: HTTP/1.1 101 Switching Protocols\r
S: Connection: Upgrade\r
S: Upgrade: TLS/1.2\r
S: \r
verify error:num=18:self-signed certificate
TLS connection established: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
S: HTTP/1.1 200 OK\r
S: WWW-Authenticate: Basic realm="fake"\r
S: Content-Length: 0\r
S: \r
C: OPTIONS * HTTP/1.1\r
C: Host: 127.0.0.1\r
C: User-Agent: httptest\r
C: Authorization: Basic dGltOng=\r
C: \r
S: HTTP/1.1 200 OK\r
S: Content-Length: 0\r
S: \r
Authenticated.
Security strength factor: 256
Connection closed.
"#
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r#"
(new TCP connection)
C->S b'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httptest\r\n\r\n'
S->C 'HTTP/1.1 200 OK\r\nUpgrade: TLS/1.2\r\nWWW-Authenticate: Basic realm="fake"\r\nContent-Length: 0\r\n\r\n'
C->S b'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httptest\r\nConnection: Upgrade\r\nUpgrade: TLS/1.2\r\n\r\n'
S->C 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: TLS/1.2\r\n\r\n'
(TLS handshake: TLSv1.3 ('TLS_AES_256_GCM_SHA384', 'TLSv1.3', 256))
S->C 'HTTP/1.1 200 OK\r\nWWW-Authenticate: Basic realm="fake"\r\nContent-Length: 0\r\n\r\n'
C->S b'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httptest\r\nAuthorization: Basic dGltOng=\r\n\r\n'
S->C 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'
"#
        )
);

crate::transcript_case!(
    t07_nntp_starttls,
    Case::new("-t nntp", "nntptest")
        .args(&args(&["-t", ""]))
        .server(|| vec![vec![
            send("200 fake NNTP ready\r\n"),
            expect_line("CAPABILITIES\r\n"),
            send("101 caps\r\nVERSION 2\r\nSTARTTLS\r\nSASL PLAIN\r\n.\r\n"),
            expect_line("STARTTLS\r\n"),
            send("382 go ahead\r\n"),
            start_tls(&tls()),
            expect_line("CAPABILITIES\r\n"),
            send("101 caps\r\nVERSION 2\r\nSASL PLAIN\r\n.\r\n"),
            expect_line("AUTHINFO SASL PLAIN AHRpbQB4\r\n"),
            send("281 ok\r\n"),
            expect_line("QUIT\r\n"),
            send("205 bye\r\n"),
        ]])
        .stdout(
            r"S: 200 fake NNTP ready\r
C: CAPABILITIES\r
S: 101 caps\r
S: VERSION 2\r
S: STARTTLS\r
S: SASL PLAIN\r
S: .\r
C: STARTTLS\r
S: 382 go ahead\r
verify error:num=18:self-signed certificate
TLS connection established: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
C: CAPABILITIES\r
S: 101 caps\r
S: VERSION 2\r
S: SASL PLAIN\r
S: .\r
C: AUTHINFO SASL PLAIN AHRpbQB4\r
S: 281 ok\r
Authenticated.
Security strength factor: 256
C: QUIT\r
205 bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
S->C '200 fake NNTP ready\r\n'
C->S b'CAPABILITIES\r\n'
S->C '101 caps\r\nVERSION 2\r\nSTARTTLS\r\nSASL PLAIN\r\n.\r\n'
C->S b'STARTTLS\r\n'
S->C '382 go ahead\r\n'
(TLS handshake: TLSv1.3 ('TLS_AES_256_GCM_SHA384', 'TLSv1.3', 256))
C->S b'CAPABILITIES\r\n'
S->C '101 caps\r\nVERSION 2\r\nSASL PLAIN\r\n.\r\n'
C->S b'AUTHINFO SASL PLAIN AHRpbQB4\r\n'
S->C '281 ok\r\n'
C->S b'QUIT\r\n'
S->C '205 bye\r\n'
"
        )
);

// ------------------------------------------------------------------------------------------
// STARTTLS refused: the tools carry on in clear text

crate::transcript_case!(
    t08_pop3_stls_refused,
    Case::new("-t pop3 refused", "pop3test")
        .args(&args(&["-t", ""]))
        .server(|| vec![vec![
            send("+OK fake POP3 ready\r\n"),
            expect_line("CAPA\r\n"),
            send("+OK capa\r\nSTLS\r\nSASL PLAIN\r\n.\r\n"),
            expect_line("STLS\r\n"),
            send("-ERR not now\r\n"),
            expect_line("AUTH PLAIN AHRpbQB4\r\n"),
            send("+OK done\r\n"),
            expect_line("QUIT\r\n"),
            send("+OK bye\r\n"),
        ]])
        .stdout(
            r"S: +OK fake POP3 ready\r
C: CAPA\r
S: +OK capa\r
S: STLS\r
S: SASL PLAIN\r
S: .\r
C: STLS\r
S: -ERR not now\r
C: AUTH PLAIN AHRpbQB4\r
S: +OK done\r
Authenticated.
Security strength factor: 0
C: QUIT\r
+OK bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
S->C '+OK fake POP3 ready\r\n'
C->S b'CAPA\r\n'
S->C '+OK capa\r\nSTLS\r\nSASL PLAIN\r\n.\r\n'
C->S b'STLS\r\n'
S->C '-ERR not now\r\n'
C->S b'AUTH PLAIN AHRpbQB4\r\n'
S->C '+OK done\r\n'
C->S b'QUIT\r\n'
S->C '+OK bye\r\n'
"
        )
);

crate::transcript_case!(
    t09_smtp_starttls_refused,
    Case::new("-t smtp refused", "smtptest")
        .args(&args(&["-t", ""]))
        .server(|| vec![vec![
            send("220 fake ready\r\n"),
            expect_line("EHLO smtptest\r\n"),
            send("250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"),
            expect_line("STARTTLS\r\n"),
            send("454 4.7.0 TLS not available\r\n"),
            expect_line("AUTH PLAIN AHRpbQB4\r\n"),
            send("235 ok\r\n"),
            expect_line("QUIT\r\n"),
            send("221 bye\r\n"),
        ]])
        .stdout(
            r"S: 220 fake ready\r
C: EHLO smtptest\r
S: 250-fake\r
S: 250-STARTTLS\r
S: 250 AUTH PLAIN\r
C: STARTTLS\r
S: 454 4.7.0 TLS not available\r
C: AUTH PLAIN AHRpbQB4\r
S: 235 ok\r
Authenticated.
Security strength factor: 0
C: QUIT\r
221 bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
S->C '220 fake ready\r\n'
C->S b'EHLO smtptest\r\n'
S->C '250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n'
C->S b'STARTTLS\r\n'
S->C '454 4.7.0 TLS not available\r\n'
C->S b'AUTH PLAIN AHRpbQB4\r\n'
S->C '235 ok\r\n'
C->S b'QUIT\r\n'
S->C '221 bye\r\n'
"
        )
);

crate::transcript_case!(
    t10_http_upgrade_refused,
    Case::new("-t http refused", "httptest")
        .args(&args(&["-t", "", "-m", "basic"]))
        .server(|| vec![steps(vec![
            expect_options(&[]),
            vec![send("HTTP/1.1 200 OK\r\nUpgrade: TLS/1.2\r\nWWW-Authenticate: Basic realm=\"fake\"\r\nContent-Length: 0\r\n\r\n")],
            expect_options(&["Connection: Upgrade\r\n", "Upgrade: TLS/1.2\r\n"]),
            vec![send("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")],
            expect_options(&["Authorization: Basic dGltOng=\r\n"]),
            vec![send("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")],
        ])])
        .stdout(
            r#"C: OPTIONS * HTTP/1.1\r
C: Host: 127.0.0.1\r
C: User-Agent: httptest\r
C: \r
S: HTTP/1.1 200 OK\r
S: Upgrade: TLS/1.2\r
S: WWW-Authenticate: Basic realm="fake"\r
S: Content-Length: 0\r
S: \r
C: OPTIONS * HTTP/1.1\r
C: Host: 127.0.0.1\r
C: User-Agent: httptest\r
C: Connection: Upgrade\r
C: Upgrade: TLS/1.2\r
C: \r
S: HTTP/1.1 503 Service Unavailable\r
S: Content-Length: 0\r
S: \r
C: OPTIONS * HTTP/1.1\r
C: Host: 127.0.0.1\r
C: User-Agent: httptest\r
C: Authorization: Basic dGltOng=\r
C: \r
S: HTTP/1.1 401 Unauthorized\r
S: Content-Length: 0\r
S: \r
Authentication failed. generic failure
Security strength factor: 0
Connection closed.
"#
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r#"
(new TCP connection)
C->S b'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httptest\r\n\r\n'
S->C 'HTTP/1.1 200 OK\r\nUpgrade: TLS/1.2\r\nWWW-Authenticate: Basic realm="fake"\r\nContent-Length: 0\r\n\r\n'
C->S b'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httptest\r\nConnection: Upgrade\r\nUpgrade: TLS/1.2\r\n\r\n'
S->C 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n'
C->S b'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httptest\r\nAuthorization: Basic dGltOng=\r\n\r\n'
S->C 'HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n'
"#
        )
);

crate::transcript_case!(
    t11_nntp_starttls_not_offered,
    Case::new("-t nntp not offered", "nntptest")
        .args(&args(&["-t", ""]))
        .server(|| vec![vec![
            send("200 fake NNTP ready\r\n"),
            expect_line("CAPABILITIES\r\n"),
            send("101 caps\r\nVERSION 2\r\nSASL PLAIN\r\n.\r\n"),
            discard_to_eof(),
        ]])
        .stdout(
            r"S: 200 fake NNTP ready\r
C: CAPABILITIES\r
S: 101 caps\r
S: VERSION 2\r
S: SASL PLAIN\r
S: .\r
"
        )
        .stderr("failure: STARTTLS not supported by the server!\n\n")
        .status(1)
        .wire(
            r"
(new TCP connection)
S->C '200 fake NNTP ready\r\n'
C->S b'CAPABILITIES\r\n'
S->C '101 caps\r\nVERSION 2\r\nSASL PLAIN\r\n.\r\n'
"
        )
);

// ------------------------------------------------------------------------------------------
// `-m` special names and "not advertised" messages

crate::transcript_case!(
    m01_pop3_user_not_advertised,
    Case::new("-m user pop3", "pop3test")
        .args(&args(&["-m", "user"]))
        .server(|| vec![vec![
            send("+OK fake POP3 ready\r\n"),
            expect_line("CAPA\r\n"),
            send("+OK capa\r\nSASL PLAIN\r\n.\r\n"),
            expect_line("QUIT\r\n"),
            send("+OK bye\r\n"),
        ]])
        .stdout(
            r"S: +OK fake POP3 ready\r
C: CAPA\r
S: +OK capa\r
S: SASL PLAIN\r
S: .\r
[Server did not advertise USER]
Authentication failed. generic failure
Security strength factor: 0
C: QUIT\r
+OK bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
S->C '+OK fake POP3 ready\r\n'
C->S b'CAPA\r\n'
S->C '+OK capa\r\nSASL PLAIN\r\n.\r\n'
C->S b'QUIT\r\n'
S->C '+OK bye\r\n'
"
        )
);

crate::transcript_case!(
    m02_pop3_user_rejected_before_pass,
    Case::new("-m USER pop3 rejected", "pop3test")
        .args(&args(&["-m", "USER"]))
        .server(|| vec![vec![
            send("+OK fake POP3 ready\r\n"),
            expect_line("CAPA\r\n"),
            send("+OK capa\r\nUSER\r\n.\r\n"),
            expect_line("USER tim\r\n"),
            send("-ERR no such user\r\n"),
            expect_line("QUIT\r\n"),
            send("+OK bye\r\n"),
        ]])
        .stdout(
            r"S: +OK fake POP3 ready\r
C: CAPA\r
S: +OK capa\r
S: USER\r
S: .\r
C: USER tim\r
S: -ERR no such user\r
Authentication failed. generic failure
Security strength factor: 0
C: QUIT\r
+OK bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
S->C '+OK fake POP3 ready\r\n'
C->S b'CAPA\r\n'
S->C '+OK capa\r\nUSER\r\n.\r\n'
C->S b'USER tim\r\n'
S->C '-ERR no such user\r\n'
C->S b'QUIT\r\n'
S->C '+OK bye\r\n'
"
        )
);

crate::transcript_case!(
    m03_pop3_apop_upper_case,
    Case::new("-m APOP pop3", "pop3test")
        .args(&[
            "-m",
            "APOP",
            "-p",
            "{PORT}",
            "-a",
            "mrose",
            "-w",
            "tanstaaf",
            "127.0.0.1"
        ])
        .server(|| vec![vec![
            send("+OK fake POP3 ready <1.2@fake.example>\r\n"),
            expect_line("CAPA\r\n"),
            send("+OK capa\r\nUSER\r\n.\r\n"),
            // MD5("<1.2@fake.example>tanstaaf")
            expect_line("APOP mrose a3e9c272f1423209ff0300896edaf895\r\n"),
            send("+OK maildrop\r\n"),
            expect_line("QUIT\r\n"),
            send("+OK bye\r\n"),
        ]])
        .stdout(
            r"S: +OK fake POP3 ready <1.2@fake.example>\r
C: CAPA\r
S: +OK capa\r
S: USER\r
S: .\r
C: APOP mrose a3e9c272f1423209ff0300896edaf895\r
S: +OK maildrop\r
Authenticated.
Security strength factor: 0
C: QUIT\r
+OK bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
S->C '+OK fake POP3 ready <1.2@fake.example>\r\n'
C->S b'CAPA\r\n'
S->C '+OK capa\r\nUSER\r\n.\r\n'
C->S b'APOP mrose a3e9c272f1423209ff0300896edaf895\r\n'
S->C '+OK maildrop\r\n'
C->S b'QUIT\r\n'
S->C '+OK bye\r\n'
"
        )
);

crate::transcript_case!(
    m04_pop3_sasl_not_advertised,
    Case::new("-m cram-md5 pop3", "pop3test")
        .args(&args(&["-m", "cram-md5"]))
        .server(|| vec![vec![
            send("+OK fake POP3 ready\r\n"),
            expect_line("CAPA\r\n"),
            send("+OK capa\r\nSASL PLAIN\r\n.\r\n"),
            expect_line("QUIT\r\n"),
            send("+OK bye\r\n"),
        ]])
        .stdout(
            r"S: +OK fake POP3 ready\r
C: CAPA\r
S: +OK capa\r
S: SASL PLAIN\r
S: .\r
[Server did not advertise SASL CRAM-MD5]
Authentication failed. generic failure
Security strength factor: 0
C: QUIT\r
+OK bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
S->C '+OK fake POP3 ready\r\n'
C->S b'CAPA\r\n'
S->C '+OK capa\r\nSASL PLAIN\r\n.\r\n'
C->S b'QUIT\r\n'
S->C '+OK bye\r\n'
"
        )
);

crate::transcript_case!(
    m05_http_plain_is_basic,
    Case::new("-m plain http", "httptest")
        .args(&args(&["-m", "plain", "-u", "bob"]))
        .server(|| vec![steps(vec![
            expect_options(&[]),
            vec![send("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"fake\"\r\nContent-Length: 0\r\n\r\n")],
            expect_options(&["Authorize-As: bob\r\n", "Authorization: Basic dGltOng=\r\n"]),
            vec![send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")],
        ])])
        .stdout(
            r#"C: OPTIONS * HTTP/1.1\r
C: Host: 127.0.0.1\r
C: User-Agent: httptest\r
C: \r
S: HTTP/1.1 401 Unauthorized\r
S: WWW-Authenticate: Basic realm="fake"\r
S: Content-Length: 0\r
S: \r
C: OPTIONS * HTTP/1.1\r
C: Host: 127.0.0.1\r
C: User-Agent: httptest\r
C: Authorize-As: bob\r
C: Authorization: Basic dGltOng=\r
C: \r
S: HTTP/1.1 200 OK\r
S: Content-Length: 0\r
S: \r
Authenticated.
Security strength factor: 0
Connection closed.
"#
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r#"
(new TCP connection)
C->S b'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httptest\r\n\r\n'
S->C 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="fake"\r\nContent-Length: 0\r\n\r\n'
C->S b'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httptest\r\nAuthorize-As: bob\r\nAuthorization: Basic dGltOng=\r\n\r\n'
S->C 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'
"#
        )
);

crate::transcript_case!(
    m06_http_basic_not_advertised,
    Case::new("-m basic http not advertised", "httptest")
        .args(&args(&["-m", "basic"]))
        .server(|| vec![steps(vec![
            expect_options(&[]),
            vec![send("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nContent-Length: 0\r\n\r\n")],
        ])])
        .stdout(
            r"C: OPTIONS * HTTP/1.1\r
C: Host: 127.0.0.1\r
C: User-Agent: httptest\r
C: \r
S: HTTP/1.1 401 Unauthorized\r
S: WWW-Authenticate: Negotiate\r
S: Content-Length: 0\r
S: \r
[Server did not advertise HTTP Basic]
Authentication failed. generic failure
Security strength factor: 0
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
C->S b'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httptest\r\n\r\n'
S->C 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nContent-Length: 0\r\n\r\n'
"
        )
);

crate::transcript_case!(
    m07_http_negotiate_advertised,
    Case::new("-m negotiate http", "httptest")
        .args(&args(&["-m", "negotiate"]))
        .server(|| vec![steps(vec![
            expect_options(&[]),
            vec![send("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: Basic realm=\"fake\"\r\nContent-Length: 0\r\n\r\n")],
        ])])
        .stdout(
            r#"C: OPTIONS * HTTP/1.1\r
C: Host: 127.0.0.1\r
C: User-Agent: httptest\r
C: \r
S: HTTP/1.1 401 Unauthorized\r
S: WWW-Authenticate: Negotiate\r
S: WWW-Authenticate: Basic realm="fake"\r
S: Content-Length: 0\r
S: \r
Authentication failed. no mechanism available
Security strength factor: 0
Connection closed.
"#
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r#"
(new TCP connection)
C->S b'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httptest\r\n\r\n'
S->C 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: Basic realm="fake"\r\nContent-Length: 0\r\n\r\n'
"#
        )
);

crate::transcript_case!(
    m08_http_scram_not_advertised,
    Case::new("-m scram-sha-1 http", "httptest")
        .args(&args(&["-m", "scram-sha-1"]))
        .server(|| vec![steps(vec![
            expect_options(&[]),
            vec![send("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: SCRAM-SHA-256 realm=\"fake\"\r\nContent-Length: 0\r\n\r\n")],
        ])])
        .stdout(
            r#"C: OPTIONS * HTTP/1.1\r
C: Host: 127.0.0.1\r
C: User-Agent: httptest\r
C: \r
S: HTTP/1.1 401 Unauthorized\r
S: WWW-Authenticate: SCRAM-SHA-256 realm="fake"\r
S: Content-Length: 0\r
S: \r
[Server did not advertise HTTP SCRAM-SHA-1]
Authentication failed. generic failure
Security strength factor: 0
Connection closed.
"#
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r#"
(new TCP connection)
C->S b'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httptest\r\n\r\n'
S->C 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: SCRAM-SHA-256 realm="fake"\r\nContent-Length: 0\r\n\r\n'
"#
        )
);

crate::transcript_case!(
    m09_http_digest_not_advertised,
    Case::new("-m digest http not advertised", "httptest")
        .args(&args(&["-m", "digest"]))
        .server(|| vec![steps(vec![
            expect_options(&[]),
            vec![send("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"fake\"\r\nContent-Length: 0\r\n\r\n")],
        ])])
        // Deviation (spec §6.6, §10.24): 3.6 segfaults printing this message (it upper-cases
        // the read-only "DIGEST-MD5" it rewrote `digest` to). Ours prints the message 3.6
        // meant to print — with 3.6's Digest ↔ DIGEST-MD5 mapping, which master no longer
        // has — and carries on like any failed authentication.
        .deviation("3.6's intended message instead of its segfault", |o: &mut Outcome| {
            o.stdout.extend_from_slice(
                b"[Server did not advertise HTTP DIGEST-MD5]\n\
                  Authentication failed. generic failure\n\
                  Security strength factor: 0\n\
                  Connection closed.\n",
            );
            o.status = 0;
        })
        .stdout(
            r#"C: OPTIONS * HTTP/1.1\r
C: Host: 127.0.0.1\r
C: User-Agent: httptest\r
C: \r
S: HTTP/1.1 401 Unauthorized\r
S: WWW-Authenticate: Basic realm="fake"\r
S: Content-Length: 0\r
S: \r
"#
        )
        .stderr("(empty)")
        .status(139)
        .wire(
            r#"
(new TCP connection)
C->S b'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httptest\r\n\r\n'
S->C 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="fake"\r\nContent-Length: 0\r\n\r\n'
"#
        )
);

crate::transcript_case!(
    m10_http_digest_advertised,
    Case::new("-m digest http", "httptest")
        .args(&args(&["-m", "digest"]))
        .server(|| vec![steps(vec![
            expect_options(&[]),
            vec![send("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"fake\",nonce=\"abc\",qop=\"auth\"\r\nContent-Length: 0\r\n\r\n")],
            expect_options(&["Authorization: Digest\r\n"]),
            vec![send("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")],
        ])])
        .stdout(
            r#"C: OPTIONS * HTTP/1.1\r
C: Host: 127.0.0.1\r
C: User-Agent: httptest\r
C: \r
S: HTTP/1.1 401 Unauthorized\r
S: WWW-Authenticate: Digest realm="fake",nonce="abc",qop="auth"\r
S: Content-Length: 0\r
S: \r
C: OPTIONS * HTTP/1.1\r
C: Host: 127.0.0.1\r
C: User-Agent: httptest\r
C: Authorization: Digest\r
C: \r
S: HTTP/1.1 403 Forbidden\r
S: Content-Length: 0\r
S: \r
Authentication failed. generic failure
Security strength factor: 0
Connection closed.
"#
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r#"
(new TCP connection)
C->S b'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httptest\r\n\r\n'
S->C 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm="fake",nonce="abc",qop="auth"\r\nContent-Length: 0\r\n\r\n'
C->S b'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: httptest\r\nAuthorization: Digest\r\n\r\n'
S->C 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'
"#
        )
);

crate::transcript_case!(
    m11_nntp_user_not_advertised,
    Case::new("-m user nntp", "nntptest")
        .args(&args(&["-m", "user"]))
        .server(|| vec![vec![
            send("200 fake NNTP ready\r\n"),
            expect_line("CAPABILITIES\r\n"),
            send("101 caps\r\nVERSION 2\r\nSASL PLAIN\r\n.\r\n"),
            expect_line("QUIT\r\n"),
            send("205 bye\r\n"),
        ]])
        .stdout(
            r"S: 200 fake NNTP ready\r
C: CAPABILITIES\r
S: 101 caps\r
S: VERSION 2\r
S: SASL PLAIN\r
S: .\r
[Server did not advertise AUTHINFO USER]
Authentication failed. generic failure
Security strength factor: 0
C: QUIT\r
205 bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
S->C '200 fake NNTP ready\r\n'
C->S b'CAPABILITIES\r\n'
S->C '101 caps\r\nVERSION 2\r\nSASL PLAIN\r\n.\r\n'
C->S b'QUIT\r\n'
S->C '205 bye\r\n'
"
        )
);

crate::transcript_case!(
    m12_nntp_user_rejected,
    Case::new("-m user nntp rejected", "nntptest")
        .args(&args(&["-m", "user"]))
        .server(|| vec![vec![
            send("200 fake NNTP ready\r\n"),
            expect_line("CAPABILITIES\r\n"),
            send("101 caps\r\nVERSION 2\r\nAUTHINFO USER\r\n.\r\n"),
            expect_line("AUTHINFO USER tim\r\n"),
            send("481 no\r\n"),
            expect_line("QUIT\r\n"),
            send("205 bye\r\n"),
        ]])
        .stdout(
            r"S: 200 fake NNTP ready\r
C: CAPABILITIES\r
S: 101 caps\r
S: VERSION 2\r
S: AUTHINFO USER\r
S: .\r
C: AUTHINFO USER tim\r
S: 481 no\r
Authentication failed. generic failure
Security strength factor: 0
C: QUIT\r
205 bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
S->C '200 fake NNTP ready\r\n'
C->S b'CAPABILITIES\r\n'
S->C '101 caps\r\nVERSION 2\r\nAUTHINFO USER\r\n.\r\n'
C->S b'AUTHINFO USER tim\r\n'
S->C '481 no\r\n'
C->S b'QUIT\r\n'
S->C '205 bye\r\n'
"
        )
);

crate::transcript_case!(
    m13_nntp_sasl_not_advertised,
    Case::new("-m cram-md5 nntp", "nntptest")
        .args(&args(&["-m", "cram-md5"]))
        .server(|| vec![vec![
            send("200 fake NNTP ready\r\n"),
            expect_line("CAPABILITIES\r\n"),
            send("101 caps\r\nVERSION 2\r\nSASL PLAIN\r\n.\r\n"),
            expect_line("QUIT\r\n"),
            send("205 bye\r\n"),
        ]])
        .stdout(
            r"S: 200 fake NNTP ready\r
C: CAPABILITIES\r
S: 101 caps\r
S: VERSION 2\r
S: SASL PLAIN\r
S: .\r
[Server did not advertise SASL CRAM-MD5]
Authentication failed. generic failure
Security strength factor: 0
C: QUIT\r
205 bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
S->C '200 fake NNTP ready\r\n'
C->S b'CAPABILITIES\r\n'
S->C '101 caps\r\nVERSION 2\r\nSASL PLAIN\r\n.\r\n'
C->S b'QUIT\r\n'
S->C '205 bye\r\n'
"
        )
);

crate::transcript_case!(
    m14_imap_login_disabled,
    Case::new("-m login imap disabled", "imtest")
        .args(&args(&["-m", "login"]))
        .server(|| vec![vec![
            send("* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN] fake ready\r\n"),
            expect_line("Q01 LOGOUT\r\n"),
            send("* BYE\r\nQ01 OK bye\r\n"),
        ]])
        .stdout(
            r"S: * OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN] fake ready\r
[Server advertised LOGINDISABLED]
Authentication failed. generic failure
Security strength factor: 0
C: Q01 LOGOUT\r
* BYE\r
Q01 OK bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
S->C '* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN] fake ready\r\n'
C->S b'Q01 LOGOUT\r\n'
S->C '* BYE\r\nQ01 OK bye\r\n'
"
        )
);

crate::transcript_case!(
    m15_smtp_mech_not_checked,
    Case::new("-m cram-md5 smtp", "smtptest")
        .args(&args(&["-m", "cram-md5"]))
        .server(|| vec![vec![
            send("220 fake ready\r\n"),
            expect_line("EHLO smtptest\r\n"),
            send("250-fake\r\n250 AUTH PLAIN\r\n"),
            expect_line("AUTH CRAM-MD5\r\n"),
            send("504 5.5.4 unrecognised\r\n"),
            expect_line("QUIT\r\n"),
            send("221 bye\r\n"),
        ]])
        .stdout(
            r"S: 220 fake ready\r
C: EHLO smtptest\r
S: 250-fake\r
S: 250 AUTH PLAIN\r
C: AUTH CRAM-MD5\r
S: 504 5.5.4 unrecognised\r
Authentication failed. generic failure
Security strength factor: 0
C: QUIT\r
221 bye\r
Connection closed.
"
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r"
(new TCP connection)
S->C '220 fake ready\r\n'
C->S b'EHLO smtptest\r\n'
S->C '250-fake\r\n250 AUTH PLAIN\r\n'
C->S b'AUTH CRAM-MD5\r\n'
S->C '504 5.5.4 unrecognised\r\n'
C->S b'QUIT\r\n'
S->C '221 bye\r\n'
"
        )
);

// ------------------------------------------------------------------------------------------
// Sieve challenges that are not `{n}` literals (spec §10.16). The C tool then waits for one
// more line, forever. Ours waits the same way but at most `SIEVE_LITERAL_WAIT` (30 s, see
// src/auth.rs), then fails with a one-line message and exit status 1. The bound is fixed (no
// test-only knob): the wait logic is unit-tested in src/auth.rs with a short bound, q03 runs
// the real 30 s end to end (in parallel with the rest), and here the observable behaviour up to the
// bound is compared with the C tool: a late line is taken as the challenge after a 1.5 s
// silence (so ours must not give up early), and a server that closes during the wait is
// `prot layer failure` for both.

fn sieve_caps() -> Step {
    send("\"IMPLEMENTATION\" \"Fake\"\r\n\"SASL\" \"PLAIN\"\r\n\"VERSION\" \"1.0\"\r\nOK\r\n")
}

crate::transcript_case!(
    q01_sieve_quoted_challenge_then_late_line,
    Case::new("sieve quoted challenge, late line", "sivtest")
        .args(&args(&["-i"]))
        .server(|| vec![vec![
            sieve_caps(),
            expect_line("AUTHENTICATE \"PLAIN\"\r\n"),
            send("\"\"\r\n"),
            pause_ms(1500),
            send("\r\n"),
            expect_line("{8+}\r\n"),
            expect_line("AHRpbQB4\r\n"),
            send("OK \"done\"\r\n"),
            expect_line("LOGOUT\r\n"),
            send("OK \"bye\"\r\n"),
        ]])
        .stdout(
            r#"S: "IMPLEMENTATION" "Fake"\r
S: "SASL" "PLAIN"\r
S: "VERSION" "1.0"\r
S: OK\r
C: AUTHENTICATE "PLAIN"\r
S: ""\r
S: \r
C: {8+}\r
C: AHRpbQB4\r
S: OK "done"\r
Authenticated.
Security strength factor: 0
C: LOGOUT\r
OK "bye"\r
Connection closed.
"#
        )
        .stderr("(empty)")
        .status(0)
        .wire(
            r#"
(new TCP connection)
S->C '"IMPLEMENTATION" "Fake"\r\n"SASL" "PLAIN"\r\n"VERSION" "1.0"\r\nOK\r\n'
C->S b'AUTHENTICATE "PLAIN"\r\n'
S->C '""\r\n\r\n'
C->S b'{8+}\r\nAHRpbQB4\r\n'
S->C 'OK "done"\r\n'
C->S b'LOGOUT\r\n'
S->C 'OK "bye"\r\n'
"#
        )
);

crate::transcript_case!(
    q02_sieve_quoted_challenge_then_close,
    Case::new("sieve quoted challenge, close", "sivtest")
        .args(&args(&["-i"]))
        .server(|| vec![vec![
            sieve_caps(),
            expect_line("AUTHENTICATE \"PLAIN\"\r\n"),
            send("\"cmVhbG0=\"\r\n"),
            pause_ms(500),
            close(),
        ]])
        .stdout(
            r#"S: "IMPLEMENTATION" "Fake"\r
S: "SASL" "PLAIN"\r
S: "VERSION" "1.0"\r
S: OK\r
C: AUTHENTICATE "PLAIN"\r
S: "cmVhbG0="\r
"#
        )
        .stderr("failure: prot layer failure\n")
        .status(1)
        .wire(
            r#"
(new TCP connection)
S->C '"IMPLEMENTATION" "Fake"\r\n"SASL" "PLAIN"\r\n"VERSION" "1.0"\r\nOK\r\n'
C->S b'AUTHENTICATE "PLAIN"\r\n'
S->C '"cmVhbG0="\r\n'
"#
        )
);

/// The bound itself, end to end with the production value (30 s; it runs in parallel with
/// the other cases). The C tool would still be waiting; ours shows the same lines, then gives
/// up with one `failure:` line and exit status 1.
#[test]
fn q03_sieve_quoted_challenge_silent_server_gives_up() {
    use std::time::Duration;
    let server = FakeServer::start(vec![vec![
        sieve_caps(),
        expect_line("AUTHENTICATE \"PLAIN\"\r\n"),
        send("\"cmVhbG0=\"\r\n"),
        run(|s| {
            // Silent, but still there: wait (past the client's bound) for it to go away.
            s.set_timeout(Duration::from_secs(40));
            Ok(())
        }),
        discard_to_eof(),
    ]]);
    let port = server.port().to_string();
    let out = support::run::Command::new(support::run::Imp::Ours, "sivtest")
        .args(["-i", "-p", &port, "-a", "tim", "-w", "x", "127.0.0.1"])
        .timeout(Duration::from_secs(45))
        .run();
    let report = server.finish();
    assert_eq!(
        support::wire::show(&out.stdout),
        support::wire::show(&support::wire::spec_text(
            r#"S: "IMPLEMENTATION" "Fake"\r
S: "SASL" "PLAIN"\r
S: "VERSION" "1.0"\r
S: OK\r
C: AUTHENTICATE "PLAIN"\r
S: "cmVhbG0="\r
"#
        ))
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "failure: no SASL challenge literal from the server within 30 seconds\n"
    );
    assert_eq!(out.code(), 1);
    assert!(
        out.elapsed >= Duration::from_secs(30) && out.elapsed < Duration::from_secs(35),
        "gave up after {:?}",
        out.elapsed
    );
    assert!(report.errors().is_empty(), "{:?}", report.errors());
}
