//! `-q` against the lab's real Dovecot (COMPRESS=DEFLATE advertised before login): a
//! session with literals both ways (an APPEND literal up, a FETCH literal down). A recording
//! TCP tap sits between each tool and Dovecot; the compressed bytes the C tool and ours send
//! for the same input must be identical, and what Dovecot sends back must be decompressed.

mod lab;

use lab::{lab, run, Tool};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

/// Forwards one connection to `target` and returns what the client sent.
fn tap(target: u16) -> (u16, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind tap");
    let port = listener.local_addr().expect("tap address").port();
    let handle = std::thread::spawn(move || {
        let (client, _) = listener.accept().expect("accept");
        let server = TcpStream::connect(("127.0.0.1", target)).expect("connect to Dovecot");
        let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        let upstream = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buf = [0u8; 65536];
            while let Ok(n) = c_read.read(&mut buf) {
                if n == 0 || s_write.write_all(&buf[..n]).is_err() {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            let _ = s_write.shutdown(Shutdown::Write);
            seen
        });
        let (mut s_read, mut c_write) = (server, client);
        let mut buf = [0u8; 65536];
        while let Ok(n) = s_read.read(&mut buf) {
            if n == 0 || c_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = c_write.shutdown(Shutdown::Both);
        upstream.join().unwrap_or_default()
    });
    (port, handle)
}

fn session(tool: Tool, user: (&str, &str), stdin: &[u8]) -> (lab::Outcome, Vec<u8>) {
    let (port, recorded) = tap(lab().port("IMAP_PORT"));
    let args: Vec<String> = [
        "-q",
        "-m",
        "plain",
        "-a",
        user.0,
        "-w",
        user.1,
        "-p",
        &port.to_string(),
        "127.0.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let outcome = run(tool, "imtest", &args, stdin, Duration::from_secs(20));
    let sent = recorded.join().expect("tap thread");
    let marker = b"Z01 COMPRESS DEFLATE\r\n";
    let start = sent
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("COMPRESS was sent")
        + marker.len();
    (outcome, sent[start..].to_vec())
}

#[test]
fn compressed_session_with_literals_matches_the_c_tool_on_dovecot() {
    let body = "From: a@b\r\nSubject: compress test\r\n\r\n".to_string()
        + &"The quick brown fox. ".repeat(300)
        + "\r\n";
    let mut stdin = format!("a1 APPEND INBOX {{{}+}}\r\n", body.len()).into_bytes();
    stdin.extend_from_slice(body.as_bytes());
    stdin.extend_from_slice(b"\r\na2 SELECT INBOX\na3 FETCH 1 BODY[]\n");
    // Each tool gets a user of its own so both find the same (empty) mailbox.
    let (c, c_sent) = session(Tool::C, lab::TIM, &stdin);
    let (ours, our_sent) = session(Tool::Ours, lab::BOB, &stdin);
    assert!(
        c.stdout.windows(13).any(|w| w == b"Z01 OK Begin "),
        "Dovecot accepted COMPRESS for the C tool"
    );
    assert_eq!(c.exit.to_string(), ours.exit.to_string(), "exit status");
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
