//! `-q` COMPRESS=DEFLATE, the cases that need Rust (zlib on the test side, a recording tap):
//!
//! `-q` COMPRESS=DEFLATE (docs/behaviour.md §7.5): after authentication the C tool and ours must
//! put the same compressed bytes on the wire for the same input — zlib's raw deflate with memLevel
//! 9, one sync flush per flush of the C tool's 4096-byte output buffer, and the same flush
//! points (every stdin line, the logout) — and decompress what the server sends.
//!
//! `-q` against the lab's real Dovecot (COMPRESS=DEFLATE advertised before login): a
//! session with literals both ways (an APPEND literal up, a FETCH literal down). A recording
//! TCP tap sits between each tool and Dovecot; the compressed bytes the C tool and ours send
//! for the same input must be identical, and what Dovecot sends back must be decompressed.

use crate::engine::{Case, Expect};
use crate::support::run::{words, Command, Imp, Output};
use crate::support::server::*;
use crate::support::tap::tap;
use libtest_mimic::{Failed, Trial};
use std::time::Duration;

const BANNER: &str =
    "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR COMPRESS=DEFLATE] fake ready\r\n";

/// A raw-deflate stream the server sends after `Z01 OK`: `* 1 EXISTS\r\n` then `a1 OK done\r\n`,
/// each sync-flushed (made once with Python's zlib, as any compressing server would).
fn server_compressed() -> Vec<u8> {
    let script = "import zlib,sys\nc=zlib.compressobj(6,zlib.DEFLATED,-15,9)\n\
                  sys.stdout.buffer.write(c.compress(b'* 1 EXISTS\\r\\n')+c.flush(zlib.Z_SYNC_FLUSH)\
                  +c.compress(b'a1 OK done\\r\\n')+c.flush(zlib.Z_SYNC_FLUSH))";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .output()
        .expect("python3");
    assert!(out.status.success(), "python3 zlib failed");
    out.stdout
}

fn inflate(data: &[u8]) -> Vec<u8> {
    let script = "import zlib,sys\nd=zlib.decompressobj(-15)\nsys.stdout.buffer.write(d.decompress(sys.stdin.buffer.read()))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(data).unwrap();
    child.wait_with_output().unwrap().stdout
}

/// What the client sent after `Z01 COMPRESS DEFLATE` (the compressed stream).
fn compressed(received: &[u8]) -> Vec<u8> {
    const MARK: &[u8] = b"Z01 COMPRESS DEFLATE\r\n";
    let start = received
        .windows(MARK.len())
        .position(|w| w == MARK)
        .expect("COMPRESS sent")
        + MARK.len();
    received[start..].to_vec()
}

/// About 40 KB of words from a 50-word vocabulary, in a fixed pseudo-random order: a stream
/// whose compressed bytes change with zlib's hash size (memLevel 8 instead of the C tool's 9).
fn word_salad() -> String {
    let mut x: u32 = 2;
    let mut next = move || {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (x >> 16) as usize
    };
    let mut word = || {
        let n = 3 + next() % 7;
        (0..n)
            .map(|_| (b'a' + (next() % 26) as u8) as char)
            .collect()
    };
    let vocab: Vec<String> = (0..50).map(|_| word()).collect();
    let words: Vec<&str> = (0..6000).map(|_| vocab[next() % 50].as_str()).collect();
    words.join(" ")
}

/// Same as the C tool (stdout, stderr, exit status, every byte the server received, so the
/// compressed stream too), and for each tool: the stream ends with a sync flush, inflates to
/// the lines and the logout, and the server's compressed reply was decompressed and relayed.
fn compressed_wire_bytes_and_output_match_the_c_tool() -> Result<(), Failed> {
    // Lines of several sizes, two longer than the 4096-byte buffer, a literal.
    let mut stdin = b"a1 NOOP\nb2 APPEND INBOX {20+}\r\n".to_vec();
    stdin.extend_from_slice(b"0123456789012345678\n");
    stdin.extend_from_slice(format!("c3 SEARCH TEXT {}\n", "abcdefgh".repeat(1200)).as_bytes());
    stdin.extend_from_slice(format!("d4 SEARCH TEXT \"{}\"\n", word_salad()).as_bytes());
    let reply = server_compressed();
    Case::new("-q against a scripted COMPRESS=DEFLATE server", "imtest")
        .expect(Expect::Same)
        .args(&words("-q -p {PORT} -m plain -a tim -w x 127.0.0.1"))
        .stdin(&stdin)
        .server(move || {
            vec![vec![
                send(BANNER),
                expect_line("A01 AUTHENTICATE PLAIN AHRpbQB4\r\n"),
                send("A01 OK done\r\n"),
                expect_line("Z01 COMPRESS DEFLATE\r\n"),
                send("Z01 OK compressing\r\n"),
                pause_ms(200),
                send(reply.clone()),
                run(|s| {
                    // Everything the client sends until it has been quiet for a while: its
                    // lines and the logout, compressed.
                    s.set_timeout(Duration::from_millis(500));
                    let _ = s.read_to_eof(false);
                    Ok(())
                }),
                close(),
            ]]
        })
        .check(|o| {
            let wire = compressed(&o.received());
            let who = o.imp.label();
            assert!(
                wire.ends_with(&[0, 0, 0xff, 0xff]),
                "{who}: the stream ends with a sync flush"
            );
            let plain = inflate(&wire);
            let text = String::from_utf8_lossy(&plain);
            assert!(
                text.starts_with("a1 NOOP\r\nb2 APPEND INBOX {20+}\r\n0123456789012345678\r\n"),
                "{who}: {text:.80}"
            );
            assert!(
                text.ends_with("Q01 LOGOUT\r\n"),
                "{who}: logout is compressed too"
            );
            let stdout = String::from_utf8_lossy(&o.stdout);
            assert!(
                stdout.contains("* 1 EXISTS\r\na1 OK done\r\n"),
                "{who}: {stdout}"
            );
        })
        .check_same()
}

fn lab_session(imp: Imp, user: (&str, &str), stdin: &[u8]) -> (Output, Vec<u8>) {
    let (port, recorded) = tap(crate::lab::lab().port("IMAP_PORT"));
    let outcome = Command::new(imp, "imtest")
        .args(["-q", "-m", "plain", "-a", user.0, "-w", user.1])
        .args(["-p", &port.to_string(), "127.0.0.1"])
        .stdin_bytes(stdin)
        .timeout(Duration::from_secs(20))
        .run_lab();
    let (_, sent) = recorded.join().expect("tap thread");
    (outcome, compressed(&sent))
}

fn compressed_session_with_literals_matches_the_c_tool_on_dovecot() {
    let body = "From: a@b\r\nSubject: compress test\r\n\r\n".to_string()
        + &"The quick brown fox. ".repeat(300)
        + "\r\n";
    let mut stdin = format!("a1 APPEND INBOX {{{}+}}\r\n", body.len()).into_bytes();
    stdin.extend_from_slice(body.as_bytes());
    stdin.extend_from_slice(b"\r\na2 SELECT INBOX\na3 FETCH 1 BODY[]\n");
    // Each tool gets a user of its own so both find the same (empty) mailbox.
    let (c, c_sent) = lab_session(Imp::Oracle, crate::lab::TIM, &stdin);
    let (ours, our_sent) = lab_session(Imp::Ours, crate::lab::BOB, &stdin);
    assert!(
        c.stdout.windows(13).any(|w| w == b"Z01 OK Begin "),
        "Dovecot accepted COMPRESS for the C tool"
    );
    assert!(!c.timed_out && !ours.timed_out, "a tool timed out");
    assert_eq!(c.code(), ours.code(), "exit status");
    assert!(
        c_sent.ends_with(&[0, 0, 0xff, 0xff]),
        "the C tool's stream ends with a sync flush"
    );
    assert_eq!(
        our_sent, c_sent,
        "compressed bytes differ from the C tool's"
    );
    let stdout = String::from_utf8_lossy(&ours.stdout);
    assert!(
        stdout.contains("a1 OK"),
        "APPEND through the compressed stream: {stdout}"
    );
    assert!(
        stdout.contains("Subject: compress test"),
        "the FETCH literal came back decompressed"
    );
    assert!(stdout.contains("a3 OK"), "FETCH completed: {stdout}");
    assert!(stdout.ends_with("Connection closed.\n"), "{stdout}");
}

/// This module's listed tests.
pub fn trials() -> Vec<Trial> {
    vec![
        Trial::test(
            "imap/compressed_wire_bytes_and_output_match_the_c_tool",
            compressed_wire_bytes_and_output_match_the_c_tool,
        ),
        crate::engine::rust_test(
            "lab/compressed_session_with_literals_matches_the_c_tool_on_dovecot",
            compressed_session_with_literals_matches_the_c_tool_on_dovecot,
        ),
    ]
}
