//! The connection extras whose check needs Rust (the rest are case files:
//! `tests/cases/lab/extras/connect/` against the lab — `-4`/`-6`, `--unix`, PROXY headers
//! that Dovecot and Postfix log — and `tests/cases/extras/connect/` against fake servers):
//! `--connect-timeout` against a listener with a full accept queue (no answer to a SYN,
//! loopback only), `--read-timeout` while the user types, the delivery through Dovecot's LMTP
//! socket (its log and the mailbox), the PROXY v2 header's bytes on the wire and the
//! Dovecot log lines a text cannot say (the `ssl` TLV's `secured`, and its absence).

use crate::lab::{lab, Lab};
use crate::support::run::{Command, Imp, Input, Output};
use crate::support::server::{discard_to_eof, expect_line, send, FakeServer};
use crate::support::tap::tap;
use crate::support::wire::text;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const RUN: Duration = Duration::from_secs(15);
const TIM: &str = "-a tim -w tanstaaftanstaaf";

fn args(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

fn ours(name: &str, line: &str, stdin: &[u8]) -> Output {
    Command::new(Imp::Ours, name)
        .args(args(line))
        .stdin_bytes(stdin)
        .timeout(RUN)
        .run_lab()
}

/// The run ended normally after a successful login.
fn assert_logged_in(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", out.describe());
    assert!(
        text(&out.stdout).contains("\nAuthenticated.\n"),
        "{}",
        out.describe()
    );
}

/// The first line of the lab file `file` holding all of `needles`, waited for up to 5 s.
fn log_line(lab: &Lab, file: &str, needles: &[&str]) -> Option<String> {
    let start = Instant::now();
    loop {
        let log = text(&std::fs::read(lab.path(file)).unwrap_or_default());
        if let Some(line) = log.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
            return Some(line.to_owned());
        }
        if start.elapsed() > Duration::from_secs(5) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// --- --connect-timeout -----------------------------------------------------------------------

/// A loopback listener that answers no SYN: its accept queue (backlog 0) is full.
fn unanswering_listener() -> (TcpListener, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: listen(2) on a socket we own; calling it again only changes the backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    for _ in 0..16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(stream) => queued.push(stream),
            Err(_) => return (listener, queued),
        }
    }
    panic!("the accept queue never filled up");
}

fn connect_timeout_gives_up_on_an_address_that_does_not_answer() {
    let (listener, _queued) = unanswering_listener();
    let port = listener.local_addr().unwrap().port();
    let out = Command::new(Imp::Ours, "imtest")
        .args(args(&format!(
            "--connect-timeout 1 --exit-status -p {port} 127.0.0.1"
        )))
        .timeout(Duration::from_secs(20))
        .run_raw();
    assert!(!out.timed_out, "{}", out.describe());
    assert_eq!(out.code(), 2, "{}", out.describe());
    assert_eq!(
        text(&out.stderr),
        format!(
            "connect: Connection timed out\n\
             failure: Network initialization - cannot connect to 127.0.0.1:{port}\n"
        )
    );
    assert!(
        out.elapsed >= Duration::from_millis(900) && out.elapsed < Duration::from_secs(5),
        "{}",
        out.describe()
    );
}

// --- --read-timeout --------------------------------------------------------------------------

const SILENT: &str = "failure: no data from the server for 1 seconds\n";

/// smtptest against a server that answers EHLO and then says nothing more.
fn mute_after_ehlo() -> FakeServer {
    FakeServer::start(vec![vec![
        send("220 fake ESMTP\r\n"),
        expect_line("EHLO smtptest\r\n"),
        send("250 fake\r\n"),
        expect_line("NOOP\r\n"),
        expect_line("QUIT\r\n"),
        discard_to_eof(),
    ]])
}

fn read_timeout_waits_for_the_user_then_bounds_the_wait_after_stdin_ends() {
    let server = mute_after_ehlo();
    let (feed, stdin) = std::sync::mpsc::channel::<Vec<u8>>();
    let typing = Duration::from_millis(2500);
    std::thread::spawn(move || {
        let _ = feed.send(b"NOOP\n".to_vec());
        std::thread::sleep(typing);
        drop(feed);
    });
    let out = Command::new(Imp::Ours, "smtptest")
        .args(args(&format!(
            "--read-timeout 1 -p {} 127.0.0.1",
            server.port()
        )))
        .stdin(Input::Feed(stdin))
        .timeout(Duration::from_secs(20))
        .run_raw();
    let report = server.finish();
    report.assert_ok();
    assert_eq!(out.code(), 1, "{}", out.describe());
    assert_eq!(text(&out.stderr), SILENT);
    assert!(
        text(&out.stdout).ends_with("C: QUIT\r\n"),
        "{}",
        out.describe()
    );
    // Silent for 2.5 s while stdin was open: no timeout then; 1 s after its end: the end.
    assert!(
        out.elapsed >= typing && out.elapsed < typing + Duration::from_secs(3),
        "{}",
        out.describe()
    );
}

// --- --unix -------------------------------------------------------------------------------

fn unix_socket_delivers_through_dovecot_lmtp() {
    let lab = lab();
    let socket = lab.path("lmtp.sock");
    let subject = format!("extras-connect unix {}", std::process::id());
    let stdin = format!(
        "LHLO client.example\nMAIL FROM:<sender@example.org>\nRCPT TO:<tim>\nDATA\n\
         Subject: {subject}\n\nover a UNIX-domain socket\n.\n"
    );
    let out = ours(
        "lmtptest",
        &format!("--unix {}", socket.display()),
        stdin.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", out.describe());
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("S: 220 ") && stdout.contains("\r\n250 2.1.5 OK\r\n"),
        "{}",
        out.describe()
    );
    assert!(
        stdout.contains(" <tim> ") && stdout.contains(" Saved\r\n"),
        "{}",
        out.describe()
    );
    assert!(out.stderr.is_empty(), "{}", out.describe());
    // Dovecot saw a local (UNIX-socket) client and saved the message for tim.
    assert!(log_line(lab, "dovecot.log", &["lmtp(", "Connect from local"]).is_some());
    assert!(log_line(lab, "dovecot.log", &["lmtp(tim)", "saved mail to INBOX"]).is_some());
    let new = lab.path("home/tim/Maildir/new");
    let delivered = std::fs::read_dir(&new)
        .unwrap_or_else(|e| panic!("{}: {e}", new.display()))
        .flatten()
        .any(|entry| text(&std::fs::read(entry.path()).unwrap_or_default()).contains(&subject));
    assert!(
        delivered,
        "no message with {subject:?} in {}",
        new.display()
    );
}

// --- PROXY v2 --------------------------------------------------------------------------------

/// imtest through Dovecot's HAProxy listener with `extra` options; the login must succeed.
fn imap_via_haproxy(extra: &str) -> Output {
    let port = lab().port("IMAP_HAPROXY_PORT");
    let out = ours(
        "imtest",
        &format!("{extra} -p {port} {TIM} -m plain 127.0.0.1"),
        b"a1 NOOP\n",
    );
    assert_logged_in(&out);
    out
}

/// Dovecot's `Login:` line for the client address `rip`.
fn dovecot_login(rip: &str) -> String {
    let rip = format!("rip={rip},");
    log_line(lab(), "dovecot.log", &["imap-login: Info: Login: ", &rip])
        .unwrap_or_else(|| panic!("no Dovecot login line with {rip}"))
}

fn v2_header_gives_dovecot_the_client_address() {
    imap_via_haproxy("-H 192.0.2.21 --haproxy-version 2");
    let line = dovecot_login("192.0.2.21");
    assert!(line.contains(" lip=127.0.0.1,"), "{line}");
    // Without the ssl TLV the proxied connection is not a secured one.
    assert!(!line.contains("secured"), "{line}");
}

fn v2_header_bytes_on_the_wire() {
    let (port, tapped) = tap(lab().port("IMAP_HAPROXY_PORT"));
    let out = ours(
        "imtest",
        &format!("-H 192.0.2.26 --haproxy-version 2 -p {port} {TIM} -m plain 127.0.0.1"),
        b"a1 NOOP\n",
    );
    assert!(
        text(&out.stdout).contains("\nAuthenticated.\n"),
        "{}",
        out.describe()
    );
    let (client, sent) = tapped.join().unwrap();
    let mut header = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
    header.extend_from_slice(&[192, 0, 2, 26, 127, 0, 0, 1]);
    header.extend_from_slice(&client.port().to_be_bytes());
    header.extend_from_slice(&port.to_be_bytes());
    assert_eq!(&sent[..header.len().min(sent.len())], &header[..]);
    assert!(sent[header.len()..].starts_with(b"A01 AUTHENTICATE PLAIN"));
    assert!(dovecot_login("192.0.2.26").contains(" lip=127.0.0.1,"));
}

fn v2_ssl_tlv_makes_dovecot_treat_the_client_as_secured() {
    imap_via_haproxy("-H 192.0.2.23 --haproxy-version 2 --haproxy-tlv ssl");
    let line = dovecot_login("192.0.2.23");
    assert!(line.contains(", secured,"), "{line}");
}

fn v2_ipv4_client_cannot_name_an_ipv6_server() {
    let listener = TcpListener::bind("[::1]:0").expect("an IPv6 loopback listener");
    let port = listener.local_addr().unwrap().port();
    let out = Command::new(Imp::Ours, "imtest")
        .args(args(&format!(
            "-H 192.0.2.7 --haproxy-version 2 -p {port} ::1"
        )))
        .run_raw();
    assert_eq!(out.code(), 1, "{}", out.describe());
    assert_eq!(
        text(&out.stderr),
        "failure: the PROXY header cannot carry IPv6 destination ::1 with IPv4 source \
         192.0.2.7 (give --haproxy-dest)\n"
    );
    // With a destination of its own family it goes out.
    let out = Command::new(Imp::Ours, "imtest")
        .args(args(&format!(
            "-H 192.0.2.7 --haproxy-version 2 --haproxy-dest 192.0.2.1 --read-timeout 0.5 \
             -p {port} ::1"
        )))
        .run_raw();
    assert_eq!(
        text(&out.stderr),
        "failure: no data from the server for 0.5 seconds\n",
        "{}",
        out.describe()
    );
    drop(listener);
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    crate::listed!(
        "extras/connect/",
        connect_timeout_gives_up_on_an_address_that_does_not_answer,
        read_timeout_waits_for_the_user_then_bounds_the_wait_after_stdin_ends,
        unix_socket_delivers_through_dovecot_lmtp,
        v2_header_gives_dovecot_the_client_address,
        v2_header_bytes_on_the_wire,
        v2_ssl_tlv_makes_dovecot_treat_the_client_as_secured,
        v2_ipv4_client_cannot_name_an_ipv6_server,
    )
}
