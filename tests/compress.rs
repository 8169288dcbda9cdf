//! `-q` COMPRESS=DEFLATE (spec §7.5): after authentication the C tool and ours must put the
//! same compressed bytes on the wire for the same input — zlib's raw deflate with memLevel 9,
//! one sync flush per flush of the C tool's 4096-byte output buffer, and the same flush
//! points (every stdin line, the logout) — and decompress what the server sends.

mod support;

use std::time::Duration;
use support::run::{Command, Imp, Output};
use support::server::*;

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

fn session(imp: Imp, stdin: &[u8]) -> (Output, Vec<u8>) {
    let reply = server_compressed();
    let server = FakeServer::start(vec![vec![
        send(BANNER),
        expect_line("A01 AUTHENTICATE PLAIN AHRpbQB4\r\n"),
        send("A01 OK done\r\n"),
        expect_line("Z01 COMPRESS DEFLATE\r\n"),
        send("Z01 OK compressing\r\n"),
        pause_ms(200),
        send(reply),
        run(|s| {
            // Everything the client sends until it has been quiet for a while: its lines and
            // the logout, compressed.
            s.set_timeout(Duration::from_millis(500));
            let _ = s.read_to_eof(false);
            Ok(())
        }),
        close(),
    ]]);
    let port = server.port().to_string();
    let args = [
        "-q",
        "-p",
        &port,
        "-m",
        "plain",
        "-a",
        "tim",
        "-w",
        "x",
        "127.0.0.1",
    ];
    let out = Command::new(imp, "imtest")
        .args(args)
        .stdin_bytes(stdin)
        .run();
    let report = server.finish();
    let received = report.conns[0].received();
    let start = received
        .windows(22)
        .position(|w| w == b"Z01 COMPRESS DEFLATE\r\n")
        .expect("COMPRESS sent")
        + 22;
    (out, received[start..].to_vec())
}

#[test]
fn compressed_wire_bytes_and_output_match_the_c_tool() {
    // Lines of several sizes, one longer than the 4096-byte buffer, a literal.
    let mut stdin = b"a1 NOOP\nb2 APPEND INBOX {20+}\r\n".to_vec();
    stdin.extend_from_slice(b"0123456789012345678\n");
    stdin.extend_from_slice(format!("c3 SEARCH TEXT {}\n", "abcdefgh".repeat(1200)).as_bytes());
    let (c, c_wire) = session(Imp::Oracle, &stdin);
    let (ours, our_wire) = session(Imp::Ours, &stdin);
    assert!(!c.timed_out && !ours.timed_out, "a run hung");
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&c.stdout),
        "stdout differs"
    );
    assert_eq!(ours.code(), c.code());
    assert!(
        c_wire.ends_with(&[0, 0, 0xff, 0xff]),
        "the C tool's stream ends with a sync flush"
    );
    assert_eq!(
        our_wire, c_wire,
        "compressed bytes differ from the C tool's"
    );
    let plain = inflate(&our_wire);
    let text = String::from_utf8_lossy(&plain);
    assert!(
        text.starts_with("a1 NOOP\r\nb2 APPEND INBOX {20+}\r\n0123456789012345678\r\n"),
        "{text:.80}"
    );
    assert!(text.ends_with("Q01 LOGOUT\r\n"), "logout is compressed too");
    // The server's compressed reply was decompressed and relayed.
    let stdout = String::from_utf8_lossy(&ours.stdout);
    assert!(stdout.contains("* 1 EXISTS\r\na1 OK done\r\n"), "{stdout}");
}
