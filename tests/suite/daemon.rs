//! `-X path -I pidfile` end to end (docs/behaviour.md §8.4): the command returns 0 at once with no
//! output, the daemon (whose PID is in the pid file) authenticates, serves a socket client (the
//! reply reaches the client, the session is reset with `UN0 UNSELECT`), and on SIGINT removes its
//! socket and exits. One deliberate difference from the C tool: its daemon's server
//! connection reuses descriptor 0, which its clean-up closes by mistake, so the C daemon never
//! sends `Q01 LOGOUT`; ours does (as both tools do with `-x`).

use crate::support::run::{words, Command, Imp};
use crate::support::server::*;
use crate::support::tmp::TempDir;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Seen {
    launcher: (Vec<u8>, Vec<u8>, i32),
    client_got: Vec<u8>,
    server_got: Vec<u8>,
}

fn daemon_session(imp: Imp) -> Seen {
    let server = FakeServer::start(vec![vec![
        send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake ready\r\n"),
        expect_line("A01 AUTHENTICATE PLAIN AHRpbQB4\r\n"),
        send("A01 OK done\r\n"),
        expect_line("a1 NOOP\r\n"),
        send("a1 OK noop\r\n"),
        expect_line("UN0 UNSELECT\r\n"),
        send("UN0 OK unselect\r\n"),
        run(|s| {
            s.set_timeout(Duration::from_secs(3));
            if let Ok(line) = s.read_line() {
                if line.starts_with(b"Q01 LOGOUT") {
                    s.send(b"* BYE\r\nQ01 OK bye\r\n")?;
                }
            }
            Ok(())
        }),
        close(),
    ]]);
    let dir = TempDir::new("daemon");
    let socket = dir.path().join("sock");
    let pidfile = dir.path().join("pid");
    let port = server.port().to_string();
    let args = [
        "-X",
        socket.to_str().unwrap(),
        "-I",
        pidfile.to_str().unwrap(),
        "-p",
        &port,
    ];
    let out = Command::new(imp, "imtest")
        .args(args)
        .args(words("-a tim -w x -m plain 127.0.0.1"))
        .run();
    let launcher = (out.stdout.clone(), out.stderr.clone(), out.code());

    wait_until("the daemon's socket", Duration::from_secs(5), || {
        socket.exists()
    });
    let mut client = UnixStream::connect(&socket).expect("connect to the daemon");
    client.write_all(b"a1 NOOP\r\n").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut client_got = vec![0u8; 100];
    let n = client.read(&mut client_got).unwrap_or(0);
    client_got.truncate(n);
    drop(client);

    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("pid file")
        .parse()
        .expect("a PID");
    // The reset goes out once the daemon notices the client left; then Ctrl-C.
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: sending a signal to the daemon we started.
    unsafe { libc::kill(pid, libc::SIGINT) };
    wait_until("the daemon to exit", Duration::from_secs(5), || {
        !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    });
    wait_until("the socket file to go", Duration::from_secs(5), || {
        !socket.exists()
    });
    let report = server.finish();
    Seen {
        launcher,
        client_got,
        server_got: report.conns[0].received(),
    }
}

fn daemon_serves_a_client_and_stops_on_sigint() {
    let c = daemon_session(Imp::Oracle);
    let ours = daemon_session(Imp::Ours);
    assert_eq!(c.launcher, (Vec::new(), Vec::new(), 0), "C launcher");
    assert_eq!(
        ours.launcher, c.launcher,
        "the launcher returns 0 at once, silently"
    );
    assert_eq!(c.client_got, b"a1 OK noop\r\n");
    assert_eq!(ours.client_got, c.client_got);
    let session = b"A01 AUTHENTICATE PLAIN AHRpbQB4\r\na1 NOOP\r\nUN0 UNSELECT\r\n".to_vec();
    assert_eq!(c.server_got, session, "the C daemon loses its LOGOUT");
    assert_eq!(
        ours.server_got,
        [session, b"Q01 LOGOUT\r\n".to_vec()].concat(),
        "ours logs out"
    );
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    crate::listed!("daemon/", daemon_serves_a_client_and_stops_on_sigint,)
}
