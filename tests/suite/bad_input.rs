//! The bad-input cases that need Rust (the rest are files in `tests/cases/bad-input/`): a key
//! file made from the test PKI, and `-H` values (upstream master's option, so ours only).

use crate::engine::{rust_test, Case, Expect};
use crate::support::certs::certs;
use crate::support::run::{words, Command, Imp};
use crate::support::server::*;
use libtest_mimic::{Failed, Trial};

const BANNER: &str = "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR] fake ready\r\n";

/// `-t` with a PEM that holds the CA certificate but no private key: same as the C tool.
fn key_file_without_a_private_key() -> Result<(), Failed> {
    let cert_only = certs().ca.pem.with_file_name("cert-only.pem");
    let pem = std::fs::read_to_string(&certs().ca.pem).expect("CA pem");
    let end = pem
        .find("-----END CERTIFICATE-----")
        .expect("a certificate")
        + "-----END CERTIFICATE-----\n".len();
    std::fs::write(&cert_only, &pem[..end]).expect("write cert-only pem");
    let path = cert_only.to_str().expect("utf-8 path").to_string();
    let args = [
        &["-t", path.as_str()],
        &words("-p {PORT} -m plain -a tim -w x 127.0.0.1")[..],
    ]
    .concat();
    Case::new("-t certificate without key", "imtest")
        .expect(Expect::Same)
        .args(&args)
        .server(|| {
            vec![vec![
                send(BANNER),
                read_line(),
                send("S01 OK begin TLS\r\n"),
                read_line(),
                send("C01 OK nothing\r\n"),
                read_line(),
                send("Q01 OK bye\r\n"),
            ]]
        })
        .check_same()
}

/// `-H` is upstream master's (3.6.1 has no such option: not differential). Any text is sent
/// verbatim as the v1 source address; `local`/`unknown` in any case pick the other headers.
fn odd_haproxy_addresses() {
    for (value, header) in [
        ("", "PROXY TCP4  127.0.0.1 "),
        ("not an address", "PROXY TCP4 not an address 127.0.0.1 "),
        ("999.1.2.3", "PROXY TCP4 999.1.2.3 127.0.0.1 "),
        ("::1", "PROXY TCP4 ::1 127.0.0.1 "),
        ("UnKnOwN", "PROXY UNKNOWN\r\n"),
    ] {
        let server = FakeServer::start(vec![vec![
            read_line(),
            send(BANNER),
            read_line(),
            send("A01 OK done\r\n"),
            read_line(),
            send("Q01 OK bye\r\n"),
        ]]);
        let port = server.port().to_string();
        let output = Command::new(Imp::Ours, "imtest")
            .args([
                "-H", value, "-p", &port, "-m", "plain", "-a", "tim", "-w", "x",
            ])
            .arg("127.0.0.1")
            .run();
        let received = server.finish().conns[0].received();
        assert_eq!(output.code(), 0, "-H {value:?}: {}", output.describe());
        assert!(
            received.starts_with(header.as_bytes()),
            "-H {value:?}: {:?}",
            String::from_utf8_lossy(&received)
        );
    }
}

/// This module's listed tests.
pub fn trials() -> Vec<Trial> {
    vec![
        Trial::test(
            "bad-input/key_file_without_a_private_key",
            key_file_without_a_private_key,
        ),
        rust_test("bad-input/odd_haproxy_addresses", odd_haproxy_addresses),
    ]
}
