//! Tests of the TLS engine against an in-thread OpenSSL server on 127.0.0.1, with
//! certificates made at test time; where the C tool is installed, its lines are compared with
//! ours for the same kind of server.

use super::*;
use crate::testkit::pki::{ec_key, make_cert, now, rsa_key, Kind, ServerTls};
use openssl::pkey::{PKey, Private};
use openssl::ssl::SslVersion;
use openssl::x509::X509;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const C_TOOL: &str = "/usr/lib/cyrus/bin/imtest";
const BANNER: &[u8] = b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake ready\r\n";
const STARTTLS_BANNER: &[u8] =
    b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR] fake ready\r\n";
const GARBAGE: &[u8] = b"this is not tls at all\r\n";
const ALERT_CLOSE_NOTIFY: &[u8] = b"\x15\x03\x03\x00\x02\x01\x00";
const ALERT_HANDSHAKE_FAILURE: &[u8] = b"\x15\x03\x03\x00\x02\x02\x28";
const ALERT_WARNING_UNEXPECTED: &[u8] = b"\x15\x03\x03\x00\x02\x01\x0a";
const WAIT: Duration = Duration::from_secs(20);

const TLS13_LINE: &str =
    "TLS connection established: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n";
const TLS12_LINE: &str =
    "TLS connection established: TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)\n";
const SELF_SIGNED: &str = "verify error:num=18:self-signed certificate\n";
const UNKNOWN_CA: &str = "verify error:num=20:unable to get local issuer certificate\n\
                          verify error:num=21:unable to verify the first certificate\n";
const FULL_CHAIN: &str = "verify error:num=19:self-signed certificate in certificate chain\n";

// ---------------------------------------------------------------------------------------------
// Certificates

struct Pki {
    ca: X509,
    server_key: PKey<Private>,
    self_signed: X509,
    leaf: X509,
    expired: X509,
    not_yet_valid: X509,
    client_key: PKey<Private>,
    client: X509,
    other_key: PKey<Private>,
    ec_key: PKey<Private>,
    /// Leaf, eleven intermediates, root: the root sits at depth 12.
    deep: Vec<X509>,
}

fn deep_chain(leaf_key: &PKey<Private>, from: i64, to: i64) -> Vec<X509> {
    let mut key = ec_key();
    let mut cert = make_cert("Deep root", &key, None, from, to, Kind::Ca);
    let mut chain = vec![cert.clone()];
    for i in 1..=11 {
        let next_key = ec_key();
        let next = make_cert(
            &format!("Deep {i}"),
            &next_key,
            Some((&cert, &key)),
            from,
            to,
            Kind::Ca,
        );
        chain.push(next.clone());
        (key, cert) = (next_key, next);
    }
    chain.push(make_cert(
        "deep",
        leaf_key,
        Some((&cert, &key)),
        from,
        to,
        Kind::Plain,
    ));
    chain.reverse();
    chain
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let t = now();
        let day = 86_400;
        let ca_key = rsa_key();
        let ca = make_cert("Test CA", &ca_key, None, t - day, t + 30 * day, Kind::Ca);
        let server_key = rsa_key();
        let client_key = rsa_key();
        let signed = |cn: &str, key: &PKey<Private>, from: i64, to: i64| {
            make_cert(cn, key, Some((&ca, &ca_key)), from, to, Kind::Plain)
        };
        Pki {
            self_signed: make_cert(
                "selfie",
                &server_key,
                None,
                t - day,
                t + 30 * day,
                Kind::Plain,
            ),
            leaf: signed("localhost", &server_key, t - day, t + 30 * day),
            expired: make_cert("old", &server_key, None, t - 30 * day, t - day, Kind::Plain),
            not_yet_valid: make_cert(
                "young",
                &server_key,
                None,
                t + day,
                t + 30 * day,
                Kind::Plain,
            ),
            client: signed("user", &client_key, t - day, t + 30 * day),
            other_key: rsa_key(),
            ec_key: ec_key(),
            deep: deep_chain(&server_key, t - day, t + 30 * day),
            ca,
            server_key,
            client_key,
        }
    })
}

/// A file in the temp directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str, contents: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!(
            "imtest-tls-{}-{}-{tag}.pem",
            std::process::id(),
            now()
        ));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Certificate then key, one PEM file, as `-t file` expects.
fn client_pem(key: &PKey<Private>) -> Vec<u8> {
    crate::testkit::pki::pem(&[&pki().client], key)
}

// ---------------------------------------------------------------------------------------------
// The test server

#[derive(Clone, Copy, PartialEq, Eq)]
enum Chain {
    SelfSigned,
    LeafOnly,
    LeafAndRoot,
    Expired,
    NotYetValid,
    /// Thirteen certificates: checks beyond depth 10 make the callback stop verification.
    Deep,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// TLS handshake, then wait for the client to go away.
    Tls,
    /// TLS handshake, then close at once without close_notify.
    TlsClose,
    /// TLS, then a tiny IMAP server (for the C tool).
    TlsImap,
    /// IMAP banner with STARTTLS in clear, then as `TlsImap`.
    StartTlsImap,
    /// Read the ClientHello, answer with these bytes (e.g. an alert record), then close.
    HelloThen(&'static [u8]),
    /// Send text that is not TLS, then record what comes back.
    Garbage,
    /// Send nothing, record what comes.
    Record,
}

#[derive(Clone, Copy)]
struct Spec {
    chain: Chain,
    tls12_only: bool,
    no_tickets: bool,
    ask_client_cert: bool,
}

impl Spec {
    fn new(chain: Chain) -> Spec {
        Spec {
            chain,
            tls12_only: false,
            no_tickets: false,
            ask_client_cert: false,
        }
    }

    fn tls12(mut self) -> Spec {
        self.tls12_only = true;
        self
    }

    fn session_ids_only(mut self) -> Spec {
        self.no_tickets = true;
        self
    }

    fn client_cert(mut self) -> Spec {
        self.ask_client_cert = true;
        self
    }
}

/// What the server saw on one connection.
#[derive(Debug, Default)]
struct Seen {
    error: Option<String>,
    reused: bool,
    version: String,
    client_cn: Option<String>,
    /// The server's own Finished and the client's, as the server sees them.
    server_finished: Vec<u8>,
    client_finished: Vec<u8>,
    /// Bytes received in `Garbage`/`Record` mode.
    received: Vec<u8>,
}

fn server_context(spec: Spec) -> SslContext {
    let pki = pki();
    let (leaf, chain) = match spec.chain {
        Chain::SelfSigned => (&pki.self_signed, &[][..]),
        Chain::LeafOnly => (&pki.leaf, &[][..]),
        Chain::LeafAndRoot => (&pki.leaf, std::slice::from_ref(&pki.ca)),
        Chain::Expired => (&pki.expired, &[][..]),
        Chain::NotYetValid => (&pki.not_yet_valid, &[][..]),
        Chain::Deep => (&pki.deep[0], &pki.deep[1..]),
    };
    let mut tls = ServerTls::new(leaf, chain, &pki.server_key);
    if spec.no_tickets {
        tls = tls.no_tickets();
    }
    if spec.tls12_only {
        tls = tls.max_version(Some(SslVersion::TLS1_2));
    }
    if spec.ask_client_cert {
        tls = tls.request_client_cert();
    }
    tls.context()
}

/// Starts a server on 127.0.0.1 that handles one connection per entry of `plan` (sharing one
/// context, hence one session cache) and reports each on the channel.
fn serve(spec: Spec, plan: &[Reply]) -> (u16, Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ctx = server_context(spec);
    let plan = plan.to_vec();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for reply in plan {
            let Ok((tcp, _)) = listener.accept() else {
                return;
            };
            let _ = tcp.set_read_timeout(Some(WAIT));
            let seen = handle(&ctx, tcp, reply);
            if tx.send(seen).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

fn read_to_end_lenient(r: &mut impl Read) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    got
}

fn read_line(r: &mut impl Read) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match r.read(&mut byte) {
            Ok(1) => {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    return Some(line);
                }
            }
            _ => return (!line.is_empty()).then_some(line),
        }
    }
}

/// Answers IMAP lines: CAPABILITY, LOGOUT (then closes), anything else `<tag> OK done`.
fn imap_loop(s: &mut (impl Read + Write)) {
    while let Some(line) = read_line(s) {
        let text = String::from_utf8_lossy(&line).to_string();
        let tag = text.split_whitespace().next().unwrap_or("*").to_string();
        let upper = text.to_ascii_uppercase();
        let answer = if upper.contains("LOGOUT") {
            format!("* BYE\r\n{tag} OK bye\r\n")
        } else if upper.contains("CAPABILITY") {
            format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\n{tag} OK done\r\n")
        } else if upper.contains("STARTTLS") {
            format!("{tag} OK begin TLS\r\n")
        } else {
            format!("{tag} OK done\r\n")
        };
        if s.write_all(answer.as_bytes()).is_err() || upper.contains("LOGOUT") {
            return;
        }
    }
}

fn handle(ctx: &SslContext, mut tcp: TcpStream, reply: Reply) -> Seen {
    let mut seen = Seen::default();
    match reply {
        Reply::Garbage => {
            let _ = tcp.write_all(GARBAGE);
            seen.received = read_to_end_lenient(&mut tcp);
            return seen;
        }
        Reply::Record => {
            seen.received = read_to_end_lenient(&mut tcp);
            return seen;
        }
        Reply::HelloThen(answer) => {
            // Read exactly one record so that closing sends FIN, not RST.
            let mut header = [0u8; 5];
            if tcp.read_exact(&mut header).is_ok() {
                let mut body = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
                let _ = tcp.read_exact(&mut body);
                seen.received = [&header[..], &body].concat();
                let _ = tcp.write_all(answer);
            }
            return seen;
        }
        Reply::StartTlsImap => {
            let _ = tcp.write_all(STARTTLS_BANNER);
            match read_line(&mut tcp) {
                Some(line) if line.ends_with(b"STARTTLS\r\n") => {
                    let _ = tcp.write_all(b"S01 OK begin TLS\r\n");
                }
                other => {
                    seen.error = Some(format!("no STARTTLS: {other:?}"));
                    return seen;
                }
            }
        }
        Reply::Tls | Reply::TlsClose | Reply::TlsImap => {}
    }
    let mut stream = SslStream::new(Ssl::new(ctx).unwrap(), tcp).unwrap();
    if let Err(e) = stream.accept() {
        seen.error = Some(e.to_string());
        return seen;
    }
    let ssl = stream.ssl();
    seen.reused = ssl.session_reused();
    seen.version = ssl.version_str().to_string();
    seen.client_cn = ssl.peer_certificate().and_then(|c| {
        c.subject_name()
            .entries_by_nid(Nid::COMMONNAME)
            .next()
            .map(|e| String::from_utf8_lossy(e.data().as_slice()).into_owned())
    });
    let mut buf = [0u8; 64];
    let n = ssl.finished(&mut buf);
    seen.server_finished = buf[..n].to_vec();
    let n = ssl.peer_finished(&mut buf);
    seen.client_finished = buf[..n].to_vec();
    if reply == Reply::TlsClose {
        return seen;
    }
    if reply == Reply::Tls {
        read_to_end_lenient(&mut stream);
    } else {
        if reply == Reply::TlsImap {
            let _ = stream.write_all(BANNER);
        }
        imap_loop(&mut stream);
        let _ = stream.shutdown();
    }
    // Keep the session in the server's cache however the client left.
    stream.set_shutdown(ShutdownState::SENT | ShutdownState::RECEIVED);
    seen
}

fn next(rx: &Receiver<Seen>) -> Seen {
    rx.recv_timeout(WAIT).expect("server reported nothing")
}

fn dial(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).unwrap()
}

/// One engine round: connect, hand back what the engine printed, close cleanly.
fn round(
    engine: &mut Engine,
    port: u16,
    keyfile: Option<&str>,
) -> (String, Result<Established, Failure>) {
    let (result, printed) =
        crate::transcript::capture(|| engine.connect(dial(port), keyfile.map(str::as_bytes)));
    (String::from_utf8_lossy(&printed).into_owned(), result)
}

fn close(mut est: Established) {
    Engine::shutdown(&mut est.stream);
}

fn expect_ok(result: Result<Established, Failure>) -> Established {
    match result {
        Ok(est) => est,
        Err(e) => panic!("handshake failed: {e:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Engine against the test server

#[test]
fn self_signed_tls13_prints_verify_and_established_lines() {
    let (port, rx) = serve(Spec::new(Chain::SelfSigned), &[Reply::Tls]);
    let mut engine = Engine::new(false);
    let (printed, result) = round(&mut engine, port, None);
    let est = expect_ok(result);
    assert_eq!(printed, format!("{SELF_SIGNED}{TLS13_LINE}"));
    assert_eq!(est.usebits, 256);
    assert_eq!(est.peer_cn.as_deref(), Some("selfie"));
    let unique = {
        assert_eq!(est.binding.name, "tls-unique");
        est.binding.data.clone()
    };
    close(est);
    let seen = next(&rx);
    assert_eq!(seen.version, "TLSv1.3");
    assert!(!unique.is_empty());
    assert_eq!(
        unique, seen.client_finished,
        "tls-unique is the client Finished"
    );
}

#[test]
fn leaf_from_unknown_ca_prints_20_then_21() {
    let (port, rx) = serve(Spec::new(Chain::LeafOnly), &[Reply::Tls]);
    let mut engine = Engine::new(false);
    let (printed, result) = round(&mut engine, port, None);
    let est = expect_ok(result);
    assert_eq!(printed, format!("{UNKNOWN_CA}{TLS13_LINE}"));
    assert_eq!(est.peer_cn.as_deref(), Some("localhost"));
    close(est);
    next(&rx);
}

#[test]
fn full_chain_with_root_prints_19() {
    let (port, rx) = serve(Spec::new(Chain::LeafAndRoot), &[Reply::Tls]);
    let mut engine = Engine::new(false);
    let (printed, result) = round(&mut engine, port, None);
    close(expect_ok(result));
    assert_eq!(printed, format!("{FULL_CHAIN}{TLS13_LINE}"));
    next(&rx);
}

#[test]
fn failure_beyond_depth_10_stops_verification() {
    // The root's error comes at depth 12: printed, then the callback says no and OpenSSL
    // stops checking; the handshake goes on (verify mode none). OpenSSL's own depth limit is
    // left alone, otherwise error 22 (chain too long) would appear.
    let (port, rx) = serve(Spec::new(Chain::Deep), &[Reply::Tls]);
    let mut engine = Engine::new(true);
    let (printed, result) = round(&mut engine, port, None);
    let est = expect_ok(result);
    assert_eq!(est.peer_cn.as_deref(), Some("deep"));
    close(est);
    next(&rx);
    let verify: Vec<&str> = printed
        .lines()
        .filter(|l| l.starts_with("verify") || l.starts_with("Peer cert"))
        .collect();
    assert_eq!(
        verify,
        [
            "Peer cert verify depth=12 /CN=Deep root",
            "verify error:num=19:self-signed certificate in certificate chain",
            "verify return:0"
        ]
    );
}

#[test]
fn expired_and_not_yet_valid_add_their_note() {
    for (chain, expect) in [
        (
            Chain::Expired,
            "verify error:num=18:self-signed certificate\n\
             verify error:num=10:certificate has expired\ncert has expired\n\
             cert has expired\n",
        ),
        (
            Chain::NotYetValid,
            "verify error:num=18:self-signed certificate\n\
             verify error:num=9:certificate is not yet valid\ncert not yet valid\n\
             cert not yet valid\n",
        ),
    ] {
        let (port, rx) = serve(Spec::new(chain), &[Reply::Tls]);
        let mut engine = Engine::new(false);
        let (printed, result) = round(&mut engine, port, None);
        close(expect_ok(result));
        assert_eq!(printed, format!("{expect}{TLS13_LINE}"));
        next(&rx);
    }
}

#[test]
fn tls12_second_connect_resumes_session() {
    let spec = Spec::new(Chain::LeafOnly).tls12();
    let (port, rx) = serve(spec, &[Reply::Tls, Reply::Tls, Reply::Tls]);
    let mut engine = Engine::new(false);

    let (first, result) = round(&mut engine, port, None);
    let est = expect_ok(result);
    assert_eq!(first, format!("{UNKNOWN_CA}{TLS12_LINE}"));
    let unique1 = {
        assert_eq!(est.binding.name, "tls-unique");
        est.binding.data.clone()
    };
    close(est);
    let seen1 = next(&rx);
    assert!(!seen1.reused);
    assert_eq!(unique1, seen1.client_finished);

    // Resumed: no certificate check, so no verify lines; tls-unique is the server's Finished.
    let (second, result) = round(&mut engine, port, None);
    let est = expect_ok(result);
    assert_eq!(second, TLS12_LINE);
    assert_eq!(est.peer_cn.as_deref(), Some("localhost"));
    let unique2 = {
        assert_eq!(est.binding.name, "tls-unique");
        est.binding.data.clone()
    };
    close(est);
    let seen2 = next(&rx);
    assert!(seen2.reused, "second handshake should resume");
    assert_eq!(unique2, seen2.server_finished);
    assert_ne!(unique2, seen2.client_finished);

    let (third, result) = round(&mut engine, port, None);
    close(expect_ok(result));
    assert_eq!(third, TLS12_LINE);
    assert!(next(&rx).reused);
}

#[test]
fn tls13_session_taken_after_handshake_is_not_resumed() {
    // The session is saved right after SSL_connect, before the TLS 1.3 ticket arrives: the C
    // tool never resumes TLS 1.3 (see c_tool_resumption_pattern_matches).
    let (port, rx) = serve(Spec::new(Chain::SelfSigned), &[Reply::Tls, Reply::Tls]);
    let mut engine = Engine::new(false);
    for _ in 0..2 {
        let (printed, result) = round(&mut engine, port, None);
        close(expect_ok(result));
        assert_eq!(printed, format!("{SELF_SIGNED}{TLS13_LINE}"));
        assert!(!next(&rx).reused);
    }
}

#[test]
fn stream_dropped_without_shutdown_is_not_resumed() {
    let spec = Spec::new(Chain::LeafOnly).tls12();
    let (port, rx) = serve(spec, &[Reply::Tls, Reply::Tls]);
    let mut engine = Engine::new(false);
    let (_, result) = round(&mut engine, port, None);
    drop(expect_ok(result)); // no Engine::shutdown: OpenSSL marks the session not resumable
    next(&rx);
    let (printed, result) = round(&mut engine, port, None);
    close(expect_ok(result));
    assert_eq!(printed, format!("{UNKNOWN_CA}{TLS12_LINE}"));
    assert!(!next(&rx).reused);
}

#[test]
fn client_certificate_reaches_server() {
    let file = TempFile::new("client", &client_pem(&pki().client_key));
    let (port, rx) = serve(Spec::new(Chain::SelfSigned).client_cert(), &[Reply::Tls]);
    let mut engine = Engine::new(false);
    let (printed, result) = round(&mut engine, port, Some(file.path()));
    let est = expect_ok(result);
    assert_eq!(printed, format!("{SELF_SIGNED}{TLS13_LINE}"));
    // The auth id is the server's CN, not ours (C tool behaviour).
    assert_eq!(est.peer_cn.as_deref(), Some("selfie"));
    close(est);
    assert_eq!(next(&rx).client_cn.as_deref(), Some("user"));
}

#[test]
fn empty_keyfile_sends_no_client_certificate() {
    let (port, rx) = serve(Spec::new(Chain::SelfSigned).client_cert(), &[Reply::Tls]);
    let mut engine = Engine::new(false);
    let (_, result) = round(&mut engine, port, Some(""));
    close(expect_ok(result));
    assert_eq!(next(&rx).client_cn, None);
}

#[test]
fn garbage_instead_of_tls_fails_handshake() {
    let (port, rx) = serve(Spec::new(Chain::SelfSigned), &[Reply::Garbage]);
    let mut engine = Engine::new(false);
    let (printed, result) = round(&mut engine, port, None);
    assert!(matches!(result, Err(Failure::Handshake(None))));
    assert_eq!(printed, "SSL_connect error -1\nSSL session removed\n");
    // The client did send a ClientHello (a TLS handshake record).
    assert_eq!(next(&rx).received.first(), Some(&0x16));
}

#[test]
fn failed_handshake_discards_saved_session() {
    let spec = Spec::new(Chain::LeafOnly).tls12();
    let (port, rx) = serve(spec, &[Reply::Tls, Reply::Garbage, Reply::Tls]);
    let mut engine = Engine::new(false);
    let (_, result) = round(&mut engine, port, None);
    close(expect_ok(result));
    assert!(engine.has_saved_session());
    next(&rx);
    let (printed, result) = round(&mut engine, port, None);
    assert!(matches!(result, Err(Failure::Handshake(None))));
    assert_eq!(printed, "SSL_connect error -1\nSSL session removed\n");
    assert!(!engine.has_saved_session());
    next(&rx);
    let (printed, result) = round(&mut engine, port, None);
    close(expect_ok(result));
    assert_eq!(printed, format!("{UNKNOWN_CA}{TLS12_LINE}"));
    assert!(!next(&rx).reused);
}

/// Engine set-up fails before any byte is sent, and the socket comes back usable.
fn assert_engine_failure(keyfile: &str, first_line: &str) {
    let (port, rx) = serve(Spec::new(Chain::SelfSigned), &[Reply::Record]);
    let mut engine = Engine::new(false);
    let (printed, result) = round(&mut engine, port, Some(keyfile));
    let Err(Failure::Engine(mut tcp)) = result else {
        panic!("expected an engine failure");
    };
    assert_eq!(printed, format!("{first_line}\n{ENGINE_FAILED}\n"));
    tcp.write_all(b"C01 CAPABILITY\r\n").unwrap();
    drop(tcp);
    assert_eq!(next(&rx).received, b"C01 CAPABILITY\r\n");
}

#[test]
fn missing_key_file_is_an_engine_failure() {
    assert_engine_failure(
        "/nonexistent.pem",
        "unable to get certificate from '/nonexistent.pem'",
    );
}

#[test]
fn garbled_key_file_is_an_engine_failure() {
    let file = TempFile::new("garbled", b"-----BEGIN CERTIFICATE-----\nnot base64 !!\n");
    let expect = format!("unable to get certificate from '{}'", file.path());
    assert_engine_failure(file.path(), &expect);
}

#[test]
fn certificate_without_key_is_an_engine_failure() {
    let file = TempFile::new("nokey", &pki().client.to_pem().unwrap());
    let expect = format!("unable to get private key from '{}'", file.path());
    assert_engine_failure(file.path(), &expect);
}

#[test]
fn key_not_matching_certificate_is_an_engine_failure() {
    // Same key type: OpenSSL 3 refuses the key itself.
    let file = TempFile::new("mismatch", &client_pem(&pki().other_key));
    let expect = format!("unable to get private key from '{}'", file.path());
    assert_engine_failure(file.path(), &expect);
    // Other key type: the key is taken, the consistency check fails.
    let file = TempFile::new("mismatch-ec", &client_pem(&pki().ec_key));
    assert_engine_failure(
        file.path(),
        "Private key does not match the certificate public key",
    );
}

#[test]
fn verbose_prints_engine_state_verify_and_dump_lines() {
    let (port, rx) = serve(Spec::new(Chain::SelfSigned), &[Reply::Tls]);
    let mut engine = Engine::new(true);
    let (printed, result) = round(&mut engine, port, None);
    close(expect_ok(result));
    next(&rx);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "starting TLS engine",
            "setting up TLS connection",
            "SSL_connect:before SSL initialization"
        ]
    );
    let trace = without_dumps(&printed);
    for wanted in [
        "SSL_connect:SSLv3/TLS write client hello\n",
        "Peer cert verify depth=0 /CN=selfie\n\
         verify error:num=18:self-signed certificate\n\
         verify return:1\n",
        "subject_CN=selfie, issuer_CN=selfie\n",
    ] {
        assert!(trace.contains(wanted), "missing {wanted:?} in\n{trace}");
    }
    assert!(trace.ends_with(TLS13_LINE));
    assert!(printed.contains("\nwrite to "));
    assert!(printed.contains("\nread from "));
    assert!(printed.contains("\n0000 16 03 0"), "record dump missing");
}

#[test]
fn verbose_garbage_reports_error_state() {
    let (port, rx) = serve(Spec::new(Chain::SelfSigned), &[Reply::Garbage]);
    let mut engine = Engine::new(true);
    let (printed, result) = round(&mut engine, port, None);
    assert!(matches!(result, Err(Failure::Handshake(None))));
    next(&rx);
    let trace = without_dumps(&printed);
    assert!(
        trace.contains("SSL_connect:error in "),
        "no error line in\n{trace}"
    );
    assert!(trace.ends_with("SSL_connect error -1\nSSL session removed\n"));
}

#[test]
fn verbose_unclean_close_reports_alert() {
    let (port, rx) = serve(Spec::new(Chain::SelfSigned).tls12(), &[Reply::TlsClose]);
    let mut engine = Engine::new(true);
    let (_, result) = round(&mut engine, port, None);
    let mut est = expect_ok(result);
    next(&rx);
    let mut buf = [0u8; 16];
    // With a socket BIO OpenSSL sees the end of file: a fatal error, not a quiet Ok(0).
    let (read, printed) = crate::transcript::capture(|| est.stream.read(&mut buf));
    assert!(read.is_err());
    let trace = without_dumps(&String::from_utf8_lossy(&printed));
    assert_eq!(trace, "SSL3 alert write:fatal:decode error\n");
}

#[test]
fn unclean_close_seen_makes_session_unresumable() {
    // The fatal alert on an unclean close drops the session, as with the C tool's socket BIO;
    // when the close is never read, the session stays good.
    for (read_eof, resumed) in [(true, false), (false, true)] {
        let spec = Spec::new(Chain::LeafOnly).tls12();
        let (port, rx) = serve(spec, &[Reply::TlsClose, Reply::Tls]);
        let mut engine = Engine::new(false);
        let (_, result) = round(&mut engine, port, None);
        let mut est = expect_ok(result);
        next(&rx);
        if read_eof {
            let mut buf = [0u8; 16];
            let _ = est.stream.read(&mut buf);
        }
        close(est);
        let (_, result) = round(&mut engine, port, None);
        close(expect_ok(result));
        assert_eq!(next(&rx).reused, resumed, "read_eof={read_eof}");
    }
}

// ---------------------------------------------------------------------------------------------
// Pure formatting

#[test]
fn dump_matches_c_layout() {
    // Rows as the C tool prints them (from a `-v` run): full rows end in one space, a short
    // last row gets three spaces, trailing NULs are cut and announced.
    let mut record = vec![0x16, 0x03, 0x03, 0x00, 0x5d];
    assert_eq!(dump(&record), b"0000 16 03 03 00 5d    \n");
    record = (0u8..20).collect();
    record.extend_from_slice(&[0, 0, b' ']);
    assert_eq!(
        String::from_utf8(dump(&record)).unwrap(),
        "0000 00 01 02 03 04 05 06 07|08 09 0a 0b 0c 0d 0e 0f \n\
         0010 10 11 12 13    \n\
         0017 - <SPACES/NULS>\n\n"
    );
    assert_eq!(dump(b"  \0"), b"0003 - <SPACES/NULS>\n\n");
    assert_eq!(dump(b""), b"");
    let row: Vec<u8> = (0u8..16).collect();
    assert_eq!(
        dump(&row),
        b"0000 00 01 02 03 04 05 06 07|08 09 0a 0b 0c 0d 0e 0f \n"
    );
}

#[test]
fn bio_header_matches_c_format() {
    let event = BioEvent {
        write: false,
        bio_addr: 0x55E3_DFB2_5B10,
        buf_addr: 0xABC,
        requested: 5,
        result: 5,
        data: &[],
    };
    assert_eq!(
        bio_header(&event),
        "read from 55E3DFB25B10 [00000ABC] (5 bytes => 5 (0x5))\n"
    );
    let event = BioEvent {
        write: true,
        result: -1,
        requested: 517,
        ..event
    };
    assert_eq!(
        bio_header(&event),
        "write to 55E3DFB25B10 [00000ABC] (517 bytes => -1 (0xFFFFFFFFFFFFFFFF))\n"
    );
}

#[test]
fn info_lines_follow_c_rules() {
    let line = |e: InfoEvent<'_>| info_line(&e).map(|t| String::from_utf8(t).unwrap());
    assert_eq!(
        line(InfoEvent::Loop {
            side: Side::Connect,
            state: b"SSLv3/TLS write client hello"
        })
        .as_deref(),
        Some("SSL_connect:SSLv3/TLS write client hello\n")
    );
    let close_notify = InfoEvent::Alert {
        read: true,
        code: 0x0100,
        kind: b"warning",
        desc: b"close notify",
    };
    assert_eq!(line(close_notify), None);
    assert_eq!(
        line(InfoEvent::Alert {
            read: false,
            code: 0x0232,
            kind: b"fatal",
            desc: b"decode error"
        })
        .as_deref(),
        Some("SSL3 alert write:fatal:decode error\n")
    );
    let exit = |ret| InfoEvent::Exit {
        side: Side::Undefined,
        state: b"error",
        ret,
    };
    assert_eq!(
        line(exit(0)).as_deref(),
        Some("undefined:failed in error\n")
    );
    assert_eq!(
        line(exit(-1)).as_deref(),
        Some("undefined:error in error -1\n")
    );
    assert_eq!(line(exit(1)), None);
}

#[test]
fn verify_notes_by_code() {
    assert_eq!(verify_note(2), Some(Note::Issuer));
    for code in [9, 13] {
        assert_eq!(verify_note(code), Some(Note::Text("cert not yet valid")));
    }
    for code in [10, 14] {
        assert_eq!(verify_note(code), Some(Note::Text("cert has expired")));
    }
    for code in [0, 18, 19, 20, 21] {
        assert_eq!(verify_note(code), None);
    }
}

/// The trace without BIO dump headers, hex rows, truncation marks and blank lines.
fn without_dumps(text: &str) -> String {
    let mut kept = String::new();
    for l in text.lines() {
        let hex_row = l.len() > 5
            && l.as_bytes()[..4].iter().all(u8::is_ascii_hexdigit)
            && l.as_bytes()[4] == b' ';
        if l.is_empty() || hex_row || l.starts_with("read from ") || l.starts_with("write to ") {
            continue;
        }
        kept.push_str(l);
        kept.push('\n');
    }
    kept
}

// ---------------------------------------------------------------------------------------------
// The C tool against the same kind of server

struct CRun {
    stdout: String,
    stderr: String,
    status: Option<i32>,
}

/// Runs the installed C tool with stdin empty; `None` when it is not installed.
fn run_c_tool(args: &[&str]) -> Option<CRun> {
    if !Path::new(C_TOOL).exists() {
        eprintln!("{C_TOOL} not installed; comparison skipped");
        return None;
    }
    let mut child = Command::new(C_TOOL)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || read_to_end_lenient(&mut out));
    let err = std::thread::spawn(move || read_to_end_lenient(&mut err));
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Some(CRun {
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
        status,
    })
}

/// The part of a C transcript from the line after `after` (or the start) through the first
/// `TLS connection established` line (or everything).
fn tls_part(stdout: &str, after: Option<&str>) -> String {
    let mut text = String::new();
    let mut on = after.is_none();
    for l in stdout.split_inclusive('\n') {
        if !on {
            on = after.is_some_and(|a| l.starts_with(a));
            continue;
        }
        text.push_str(l);
        if l.starts_with("TLS connection established") {
            break;
        }
    }
    text
}

fn c_args(port: u16, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    for a in ["-p", &port.to_string(), "-a", "tim", "-w", "x", "127.0.0.1"] {
        args.push(a.to_string());
    }
    args
}

fn c_tool(port: u16, extra: &[&str]) -> Option<CRun> {
    let args = c_args(port, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_c_tool(&args)
}

/// Our lines for one handshake against a fresh server of kind `spec`.
fn engine_lines(spec: Spec, verbose: bool) -> String {
    let (port, rx) = serve(spec, &[Reply::Tls]);
    let mut engine = Engine::new(verbose);
    let (printed, result) = round(&mut engine, port, None);
    if let Ok(est) = result {
        close(est);
    }
    next(&rx);
    printed
}

#[test]
fn c_tool_prints_the_same_verify_lines() {
    for spec in [
        Spec::new(Chain::SelfSigned),
        Spec::new(Chain::LeafOnly),
        Spec::new(Chain::LeafAndRoot),
        Spec::new(Chain::Expired),
        Spec::new(Chain::NotYetValid),
        Spec::new(Chain::Deep),
        Spec::new(Chain::LeafOnly).tls12(),
    ] {
        let (port, rx) = serve(spec, &[Reply::TlsImap]);
        let Some(c) = c_tool(port, &["-s"]) else {
            return;
        };
        assert!(next(&rx).error.is_none());
        assert_eq!(c.status, Some(0), "{}{}", c.stdout, c.stderr);
        assert_eq!(tls_part(&c.stdout, None), engine_lines(spec, false));
    }
}

#[test]
fn c_tool_verbose_trace_matches_without_dumps() {
    for spec in [
        Spec::new(Chain::LeafAndRoot),
        Spec::new(Chain::Deep),
        Spec::new(Chain::LeafOnly).tls12(),
    ] {
        let (port, rx) = serve(spec, &[Reply::TlsImap]);
        let Some(c) = c_tool(port, &["-v", "-s"]) else {
            return;
        };
        next(&rx);
        let theirs = without_dumps(&tls_part(&c.stdout, None));
        let ours = without_dumps(&engine_lines(spec, true));
        assert_eq!(theirs, ours);
        assert!(ours.contains("SSL_connect:SSLv3/TLS read server certificate\n"));
    }
}

#[test]
fn c_tool_failed_handshake_lines_match() {
    // OpenSSL 3 returns -1 from SSL_connect in every one of these.
    for reply in [
        Reply::Garbage,
        Reply::HelloThen(b""),
        Reply::HelloThen(ALERT_CLOSE_NOTIFY),
        Reply::HelloThen(ALERT_HANDSHAKE_FAILURE),
        Reply::HelloThen(ALERT_WARNING_UNEXPECTED),
    ] {
        for verbose in [false, true] {
            let (port, rx) = serve(Spec::new(Chain::SelfSigned), &[reply]);
            let flags: &[&str] = if verbose { &["-v", "-s"] } else { &["-s"] };
            let Some(c) = c_tool(port, flags) else {
                return;
            };
            next(&rx);
            assert_eq!(c.status, Some(1));
            assert_eq!(c.stderr, "failure: TLS negotiation failed!\n\n");
            let (port, rx) = serve(Spec::new(Chain::SelfSigned), &[reply]);
            let mut engine = Engine::new(verbose);
            let (ours, result) = round(&mut engine, port, None);
            assert!(matches!(result, Err(Failure::Handshake(None))));
            next(&rx);
            let ours = without_dumps(&ours);
            assert_eq!(without_dumps(&c.stdout), ours);
            assert!(ours.ends_with("SSL_connect error -1\nSSL session removed\n"));
            let alert = match reply {
                Reply::HelloThen(b"") => "SSL3 alert write:fatal:decode error\n",
                Reply::HelloThen(ALERT_HANDSHAKE_FAILURE) => {
                    "SSL3 alert read:fatal:handshake failure\n"
                }
                Reply::HelloThen(ALERT_WARNING_UNEXPECTED) => {
                    "SSL3 alert read:warning:unexpected_message\n"
                }
                _ => "\n",
            };
            if verbose {
                assert!(ours.contains(alert), "{ours}");
            }
        }
    }
}

#[test]
fn c_tool_resumption_pattern_matches() {
    for (spec, expect) in [
        (Spec::new(Chain::LeafOnly).tls12(), [false, true, true]),
        (
            Spec::new(Chain::LeafOnly).tls12().session_ids_only(),
            [false, true, true],
        ),
        (Spec::new(Chain::LeafOnly), [false, false, false]),
        (
            Spec::new(Chain::LeafOnly).session_ids_only(),
            [false, false, false],
        ),
    ] {
        let (port, rx) = serve(spec, &[Reply::TlsImap; 3]);
        let Some(c) = c_tool(port, &["-n", "3", "-s"]) else {
            return;
        };
        assert_eq!(c.status, Some(0), "{}{}", c.stdout, c.stderr);
        let theirs: Vec<bool> = (0..3).map(|_| next(&rx).reused).collect();
        assert_eq!(theirs, expect);
        let c_verify = c.stdout.matches("verify error:num=20").count();

        let (port, rx) = serve(spec, &[Reply::Tls; 3]);
        let mut engine = Engine::new(false);
        let mut ours = Vec::new();
        let mut verify = 0;
        for _ in 0..3 {
            let (printed, result) = round(&mut engine, port, None);
            close(expect_ok(result));
            verify += printed.matches("verify error:num=20").count();
            ours.push(next(&rx).reused);
        }
        assert_eq!(ours, theirs);
        assert_eq!(verify, c_verify);
    }
}

#[test]
fn c_tool_starttls_client_certificate_matches() {
    let file = TempFile::new("c-client", &client_pem(&pki().client_key));
    let spec = Spec::new(Chain::SelfSigned).client_cert();
    let (port, rx) = serve(spec, &[Reply::StartTlsImap]);
    let Some(c) = c_tool(port, &["-t", file.path()]) else {
        return;
    };
    assert_eq!(c.status, Some(0), "{}{}", c.stdout, c.stderr);
    assert_eq!(next(&rx).client_cn.as_deref(), Some("user"));
    let theirs = tls_part(&c.stdout, Some("S: S01 OK begin TLS"));

    let (port, rx) = serve(spec, &[Reply::Tls]);
    let mut engine = Engine::new(false);
    let (ours, result) = round(&mut engine, port, Some(file.path()));
    close(expect_ok(result));
    assert_eq!(next(&rx).client_cn.as_deref(), Some("user"));
    assert_eq!(theirs, ours);
}

#[test]
fn c_tool_key_file_errors_match() {
    let garbled = TempFile::new("c-garbled", b"garbage\n");
    let nokey = TempFile::new("c-nokey", &pki().client.to_pem().unwrap());
    let mismatch = TempFile::new("c-mismatch", &client_pem(&pki().other_key));
    let mismatch_ec = TempFile::new("c-mismatch-ec", &client_pem(&pki().ec_key));
    for file in [
        "/nonexistent.pem",
        garbled.path(),
        nokey.path(),
        mismatch.path(),
        mismatch_ec.path(),
    ] {
        let (port, rx) = serve(Spec::new(Chain::SelfSigned), &[Reply::StartTlsImap]);
        let Some(c) = c_tool(port, &["-t", file]) else {
            return;
        };
        let _ = next(&rx);
        let theirs: String = tls_part(&c.stdout, Some("S: S01 OK begin TLS"))
            .split_inclusive('\n')
            .take_while(|l| !l.starts_with("Start TLS engine failed"))
            .collect();

        let (port, rx) = serve(Spec::new(Chain::SelfSigned), &[Reply::Record]);
        let mut engine = Engine::new(false);
        let (ours, result) = round(&mut engine, port, Some(file));
        assert!(matches!(result, Err(Failure::Engine(_))));
        drop(result);
        let _ = next(&rx);
        assert_eq!(theirs, ours, "key file {file}");
    }
}
