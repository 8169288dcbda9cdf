//! Bad local input, differential against the C tool: missing and garbled key files, `-f` and
//! `-x` paths that cannot be used, odd `-H` addresses, `-p` out of range or not a number, and
//! arguments that are not UTF-8. Same stdout, stderr, exit status and bytes at the server.
//!
//! Not covered: an unreadable (mode 000) key file — the tests run as root, which reads it
//! anyway; the missing file covers the open failure.

mod support;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use support::run::{Command, Imp};
use support::server::*;
use support::tmp::TempDir;

const BANNER: &str = "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR] fake ready\r\n";

/// Ours against the C tool, no stdin (see `support::differ`).
fn same_as_c(name: &str, tool: &str, args: &[OsString], script: impl Fn() -> Script) {
    support::differ::same_as_c(name, tool, args, b"", script);
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// A PLAIN login, then the relay until stdin's EOF and LOGOUT.
fn plain_session() -> Script {
    vec![
        send(BANNER),
        read_line(),
        send("A01 OK done\r\n"),
        read_line(),
        send("Q01 OK bye\r\n"),
    ]
}

/// STARTTLS accepted; the client's TLS engine fails, it goes on in plain text to LOGOUT.
fn starttls_then_wait() -> Script {
    vec![
        send(BANNER),
        read_line(),
        send("S01 OK begin TLS\r\n"),
        read_line(),
        send("C01 OK nothing\r\n"),
        read_line(),
        send("Q01 OK bye\r\n"),
    ]
}

fn with_keyfile(name: &str, path: &str) {
    same_as_c(
        name,
        "imtest",
        &os(&[
            "-t",
            path,
            "-p",
            "{PORT}",
            "-m",
            "plain",
            "-a",
            "tim",
            "-w",
            "x",
            "127.0.0.1",
        ]),
        starttls_then_wait,
    );
}

#[test]
fn missing_key_file() {
    with_keyfile("-t missing", "/nonexistent/key.pem");
}

#[test]
fn garbled_key_files() {
    let dir = TempDir::new("badkeys");
    let garbage = dir.write("garbage.pem", b"\x00\xffnot a pem file at all\n\x01\x02");
    with_keyfile("-t binary garbage", garbage.to_str().unwrap());
    let broken = dir.write(
        "broken.pem",
        b"-----BEGIN CERTIFICATE-----\nMIIB!!!!not base64!!!!\n-----END CERTIFICATE-----\n\
          -----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    with_keyfile("-t broken PEM", broken.to_str().unwrap());
    let empty = dir.write("empty.pem", b"");
    with_keyfile("-t empty file", empty.to_str().unwrap());
}

#[test]
fn input_file_that_is_a_directory() {
    same_as_c(
        "-f directory",
        "imtest",
        &os(&[
            "-f",
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
        ]),
        || {
            vec![
                send(BANNER),
                read_line(),
                send("A01 OK done\r\n"),
                read_to_eof(),
            ]
        },
    );
}

#[test]
fn output_socket_that_cannot_be_created() {
    same_as_c(
        "-x in a missing directory",
        "imtest",
        &os(&[
            "-x",
            "/nonexistent/dir/imtest.sock",
            "-p",
            "{PORT}",
            "-m",
            "plain",
            "-a",
            "tim",
            "-w",
            "x",
            "127.0.0.1",
        ]),
        || {
            vec![
                send(BANNER),
                read_line(),
                send("A01 OK done\r\n"),
                read_to_eof(),
            ]
        },
    );
}

/// `-H` is upstream master's (3.6.1 has no such option: not differential). Any text is sent
/// verbatim as the v1 source address; `local`/`unknown` in any case pick the other headers.
#[test]
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

#[test]
fn ports_out_of_range_or_not_numbers() {
    for port in [
        "70000",
        "65536",
        "-1",
        "0",
        "1x",
        " 143",
        "99999999999999999999",
        "",
    ] {
        same_as_c(
            &format!("-p {port:?}"),
            "imtest",
            &os(&[
                "-p",
                port,
                "-m",
                "plain",
                "-a",
                "tim",
                "-w",
                "x",
                "127.0.0.1",
            ]),
            Vec::new,
        );
    }
}

#[test]
fn arguments_that_are_not_utf8() {
    let bad = |bytes: &[u8]| OsString::from_vec(bytes.to_vec());
    let base = |authname: OsString, password: OsString| {
        vec![
            OsString::from("-p"),
            OsString::from("{PORT}"),
            OsString::from("-m"),
            OsString::from("plain"),
            OsString::from("-a"),
            authname,
            OsString::from("-w"),
            password,
            OsString::from("127.0.0.1"),
        ]
    };
    same_as_c(
        "non-UTF-8 password",
        "imtest",
        &base("tim".into(), bad(b"p\xffw\xfe")),
        plain_session,
    );
    // `-a`, `-u` and `-r` go to the server as the bytes given (SASL, and IMAP LOGIN, which
    // also prints them); a host name is quoted unchanged in the connect failure.
    let login = |authname: OsString| {
        vec![
            OsString::from("-p"),
            OsString::from("{PORT}"),
            OsString::from("-m"),
            OsString::from("login"),
            OsString::from("-a"),
            authname,
            OsString::from("-w"),
            OsString::from("x"),
            OsString::from("127.0.0.1"),
        ]
    };
    same_as_c(
        "non-UTF-8 authname, SASL PLAIN",
        "imtest",
        &base(bad(b"t\xffm"), "x".into()),
        plain_session,
    );
    same_as_c(
        "non-UTF-8 authname, IMAP LOGIN",
        "imtest",
        &login(bad(b"t\xe9m")),
        || {
            vec![
                send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake\r\n"),
                read_line(),
                send("+ go\r\n"),
                read_line(),
                send("L01 OK done\r\n"),
                read_to_eof(),
            ]
        },
    );
    let mut proxy = base("tim".into(), "x".into());
    proxy.splice(
        0..0,
        [
            OsString::from("-u"),
            bad(b"b\xf6b"),
            OsString::from("-r"),
            bad(b"r\xe9alm"),
        ],
    );
    same_as_c(
        "non-UTF-8 authzid and realm",
        "imtest",
        &proxy,
        plain_session,
    );
    // File names and the port are bytes too: quoted unchanged in the messages.
    let with = |first: &[OsString]| {
        let mut args = first.to_vec();
        args.extend(os(&[
            "-p",
            "{PORT}",
            "-m",
            "plain",
            "-a",
            "tim",
            "-w",
            "x",
            "127.0.0.1",
        ]));
        args
    };
    same_as_c(
        "non-UTF-8 -f file name",
        "imtest",
        &with(&[OsString::from("-f"), bad(b"/nonexistent/cmds-\xff")]),
        || {
            vec![
                send(BANNER),
                read_line(),
                send("A01 OK done\r\n"),
                read_to_eof(),
            ]
        },
    );
    same_as_c(
        "non-UTF-8 -t key file name",
        "imtest",
        &with(&[OsString::from("-t"), bad(b"/nonexistent/key-\xe9.pem")]),
        starttls_then_wait,
    );
    same_as_c(
        "non-UTF-8 mechanism (not advertised)",
        "imtest",
        &[
            OsString::from("-m"),
            bad(b"pl\xe4in"),
            OsString::from("-o"),
            bad(b"client_mech_list=PL\xc4IN"),
            OsString::from("-p"),
            OsString::from("{PORT}"),
            OsString::from("-w"),
            OsString::from("x"),
            OsString::from("127.0.0.1"),
        ],
        || vec![send(BANNER), read_line(), send("Q01 OK bye\r\n")],
    );
    same_as_c(
        "non-UTF-8 port",
        "imtest",
        &[
            OsString::from("-p"),
            bad(b"imap\xff"),
            OsString::from("127.0.0.1"),
        ],
        Vec::new,
    );
    same_as_c(
        "non-UTF-8 host name",
        "imtest",
        &[
            OsString::from("-p"),
            OsString::from("1"),
            bad(b"h\xffst.invalid"),
        ],
        Vec::new,
    );
}
