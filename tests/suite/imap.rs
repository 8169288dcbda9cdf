//! The IMAP cases that need Rust logic (the others are files in `tests/cases/imap/`; their
//! run-to-run values are checked by the normalisers in `sasl_math.rs`): the password prompt
//! on a pty, the unix-socket relay (`-x`) and the stress test (`-z`). Each runs against the C
//! tool (`::oracle`) and against ours compared with both (`::ours`).

use crate::engine::rust_test_with;
use crate::support::run::{Command, Imp, Output, PtyOutput};
use crate::support::server::*;
use libtest_mimic::Trial;

const BANNER_LOGIN: &str =
    "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN AUTH=LOGIN SASL-IR] fake ready\r\n";

/// docs/transcripts.md §13A.15 / §13A.35 server: IMAP LOGIN as the current user (the C tool's
/// default `-a`; the spec ran as root).
fn login_as_current_user() -> Script {
    let user = crate::engine::current_user();
    vec![
        send(BANNER_LOGIN),
        expect_line(format!("L01 LOGIN {user} {{6}}\r\n")),
        send("+ go ahead\r\n"),
        expect_line("secret\r\n"),
        send("L01 OK logged in\r\n"),
        expect_line("a1 NOOP\r\n"),
        send("* 1 EXISTS\r\na1 OK done\r\n"),
        expect_line("Q01 LOGOUT\r\n"),
    ]
}

/// docs/transcripts.md §13A.35 raw terminal bytes, in the spec's notation (one Python literal per
/// line; `root` is the current user, see [`login_as_current_user`]).
const PTY_SPEC: &str = include_str!("../cases/imap/expected/pty_login_prompt.py-lines");

fn pty_expected() -> Vec<u8> {
    let mut v = Vec::new();
    for line in PTY_SPEC.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (bytes, _comment) = crate::support::wire::py_unrepr(line).expect("spec literal");
        v.extend(bytes);
    }
    let user = crate::engine::current_user();
    crate::engine::replace(&v, b"LOGIN root ", format!("LOGIN {user} ").as_bytes())
}

/// Runs docs/transcripts.md §13A.35 on a pty: wait for the prompt and for echo to go off (getpass
/// flushes earlier type-ahead), type the password, wait for the login, type a command, wait for its
/// reply, then Ctrl-D.
fn pty_run(imp: Imp) -> (PtyOutput, ServerReport) {
    use std::time::Duration;
    let server = FakeServer::start(vec![login_as_current_user()]);
    let port = server.port().to_string();
    let t = Duration::from_secs(5);
    let out = Command::new(imp, "imtest")
        .args(["-p", &port, "-m", "login", "127.0.0.1"])
        .run_pty(|pty| {
            pty.wait_for(b"Please enter your password: ", t)?;
            pty.wait_echo(false, t)?;
            pty.write(b"secret\n")?;
            pty.wait_for(b"Security strength factor: 0\r\n", t)?;
            pty.wait_echo(true, t)?;
            pty.write(b"a1 NOOP\n")?;
            pty.wait_for(b"a1 OK done\r\r\n", t)?;
            pty.write(b"\x04")
        });
    (out, server.finish())
}

fn pty_problems(what: &str, out: &PtyOutput, report: &ServerReport) -> Vec<String> {
    use crate::support::wire::{diff, py_repr};
    let mut p = Vec::new();
    if let Err(e) = &out.drive_result {
        p.push(format!("{what}: terminal dialogue failed: {e}"));
    }
    if out.timed_out {
        p.push(format!("{what}: timed out"));
    }
    let want = pty_expected();
    if out.raw != want {
        let lines = |b: &[u8]| {
            b.split_inclusive(|&c| c == b'\n')
                .map(py_repr)
                .collect::<Vec<_>>()
                .join("\n")
        };
        p.push(diff(
            &format!("{what} terminal bytes"),
            &lines(&want),
            &lines(&out.raw),
        ));
    }
    if out.status.code() != Some(0) {
        p.push(format!("{what}: exit status {:?}, expected 0", out.status));
    }
    for e in report.errors() {
        p.push(format!("{what}: fake server: {e}"));
    }
    p
}

/// Fails with the problems found, if any.
fn verdict(spec: &str, p: Vec<String>) {
    assert!(p.is_empty(), "[{spec}]\n{}", p.join("\n\n"));
}

fn a35_password_on_pty(imp: Imp) {
    let (o, report) = pty_run(imp);
    let mut p = pty_problems(imp.label(), &o, &report);
    if imp == Imp::Ours {
        let (c, _) = pty_run(Imp::Oracle);
        if o.raw != c.raw {
            p.push(crate::support::wire::diff(
                "terminal bytes (vs C oracle)",
                &crate::support::wire::show(&c.raw),
                &crate::support::wire::show(&o.raw),
            ));
        }
    }
    verdict("13A.35", p);
}

// ---------------------------------------------------------------------------------------------
// docs/transcripts.md §13A.33 and §13A.34 (beyond the docs/transcripts.md §13A.1–16/35 set: they
// exercise spawn/signal/unix sockets and large literals of the support layer, and are cheap).

/// Facts gathered from the unix-socket side of docs/transcripts.md §13A.33.
struct SocketSide {
    client1: Vec<u8>,
    client2: Vec<u8>,
    pidfile: Option<Vec<u8>>,
    pid: i32,
    socket_left: bool,
}

fn socket_run(imp: Imp) -> (Output, ServerReport, Result<SocketSide, String>) {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::time::{Duration, Instant};
    let (tx, rx) = std::sync::mpsc::channel();
    let server = FakeServer::start(vec![vec![
        send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake ready\r\n"),
        expect_line("A01 AUTHENTICATE PLAIN AHRpbQB4\r\n"),
        send("A01 OK done\r\n"),
        expect_line("a1 NOOP\r\n"),
        send("a1 OK noop\r\n"),
        expect_line("UN0 UNSELECT\r\n"),
        send("* extra\r\nUN0 OK unselect\r\n"),
        expect_line("UN0 UNSELECT\r\n"),
        send("UN0 OK unselect\r\n"),
        run(move |_| {
            let _ = tx.send(());
            Ok(())
        }),
        expect_line("Q01 LOGOUT\r\n"),
        send("* BYE\r\nQ01 OK bye\r\n"),
    ]]);
    let dir = crate::support::tmp::TempDir::new("sock");
    let port = server.port().to_string();
    let mut running = Command::new(imp, "imtest")
        .args(["-x", "sock", "-I", "pid", "-p", &port])
        .args(["-a", "tim", "-w", "x", "127.0.0.1"])
        .current_dir(dir.path())
        .spawn();
    let pid = running.pid();
    let sock = dir.join("sock");
    let side = (|| -> Result<SocketSide, String> {
        let t = Duration::from_secs(5);
        let mut connect = || -> Result<UnixStream, String> {
            let until = Instant::now() + t;
            loop {
                match UnixStream::connect(&sock) {
                    Ok(s) => {
                        s.set_read_timeout(Some(t)).map_err(|e| e.to_string())?;
                        return Ok(s);
                    }
                    Err(e) if Instant::now() > until || running.exited() => {
                        return Err(format!("connect {sock:?}: {e}"))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        };
        let mut c1 = connect()?;
        c1.write_all(b"a1 NOOP\n").map_err(|e| e.to_string())?;
        let mut client1 = Vec::new();
        while !client1.ends_with(b"a1 OK noop\r\n") {
            let mut b = [0u8; 256];
            let n = c1.read(&mut b).map_err(|e| format!("client 1 read: {e}"))?;
            if n == 0 {
                break;
            }
            client1.extend_from_slice(&b[..n]);
        }
        drop(c1);
        let mut c2 = connect()?;
        c2.write_all(b"a2 LOGOUT\r\n").map_err(|e| e.to_string())?;
        let mut client2 = Vec::new();
        c2.read_to_end(&mut client2)
            .map_err(|e| format!("client 2 read: {e}"))?;
        // The server has answered the second reset: the tool is (about to be) waiting for a
        // third client.
        rx.recv_timeout(t)
            .map_err(|_| "the second UN0 UNSELECT never came".to_string())?;
        std::thread::sleep(Duration::from_millis(100));
        running.signal(libc::SIGINT);
        Ok(SocketSide {
            client1,
            client2,
            pidfile: None,
            pid,
            socket_left: false,
        })
    })();
    let out = running.wait();
    let report = server.finish();
    let side = side.map(|mut s| {
        s.pidfile = std::fs::read(dir.join("pid")).ok();
        s.socket_left = sock.exists();
        s
    });
    (out, report, side)
}

const SOCKET_STDOUT: &str = include_str!("../cases/imap/expected/socket_relay.stdout");

const SOCKET_WIRE: &str = include_str!("../cases/imap/expected/socket_relay.wire");

fn socket_problems(
    what: &str,
    out: &Output,
    report: &ServerReport,
    side: &Result<SocketSide, String>,
) -> Vec<String> {
    use crate::support::wire::*;
    let mut p = Vec::new();
    match side {
        Err(e) => p.push(format!("{what}: unix-socket dialogue failed: {e}")),
        Ok(s) => {
            if s.client1 != b"a1 OK noop\r\n" {
                p.push(format!("{what}: client 1 got {:?}", show(&s.client1)));
            }
            if !s.client2.is_empty() {
                p.push(format!(
                    "{what}: client 2 (LOGOUT swallowed) got {:?}",
                    show(&s.client2)
                ));
            }
            if s.pidfile.as_deref() != Some(s.pid.to_string().as_bytes()) {
                p.push(format!(
                    "{what}: pid file {:?}, expected {:?} (no newline)",
                    s.pidfile.as_deref().map(show),
                    s.pid
                ));
            }
            if s.socket_left {
                p.push(format!("{what}: the socket file was not removed"));
            }
        }
    }
    let want = spec_text(SOCKET_STDOUT);
    if out.stdout != want {
        p.push(diff("stdout", &show(&want), &show(&out.stdout)));
    }
    if !out.stderr.is_empty() || out.code() != 0 || out.timed_out {
        p.push(format!(
            "{what}: expected exit 0 and empty stderr: {}",
            out.describe()
        ));
    }
    let w = wire_items(&report.conns);
    let want_w = parse_wire(SOCKET_WIRE);
    if w != want_w {
        p.push(diff("wire", &render_wire(&want_w), &render_wire(&w)));
    }
    for e in report.errors() {
        p.push(format!("{what}: fake server: {e}"));
    }
    p
}

fn a33_unix_socket_relay(imp: Imp) {
    let (out, report, side) = socket_run(imp);
    verdict("13A.33", socket_problems(imp.label(), &out, &report, &side));
}

/// docs/behaviour.md §8.5: the 261 header bytes of every stress-test APPEND (folded continuation
/// lines).
const STRESS_HEADER: &[u8] = b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n From: Fred Foobar <foobar@Blurdybloop.COM>\r\n Subject: afternoon meeting\r\n To: mooch@owatagu.siam.edu\r\n Message-Id: <B27397-0100000@Blurdybloop.COM>\r\n MIME-Version: 1.0\r\n Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n";

fn stress_script() -> Script {
    let mut s = vec![
        send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"),
        expect_line("A01 AUTHENTICATE PLAIN AHRpbQB4\r\n"),
        send("A01 OK done\r\n"),
    ];
    for _ in 0..10 {
        s.push(expect_line("C01 CREATE inbox.imtest\r\n"));
        s.push(send("C01 OK done\r\n"));
        for size in [200usize, 2000, 20000, 200000, 2000000] {
            s.push(expect_line(format!(
                "A003 APPEND inbox.imtest (\\Seen) {{{}}}\r\n",
                size + 261
            )));
            s.push(send("+ go ahead\r\n"));
            let mut body = STRESS_HEADER.to_vec();
            body.extend(b"0123456789".repeat(size / 10));
            s.push(expect_bytes(body));
            s.push(expect_line("\r\n"));
            s.push(send("A003 OK append\r\n"));
        }
        s.push(expect_line("D01 DELETE inbox.imtest\r\n"));
        s.push(send("D01 OK done\r\n"));
    }
    // No LOGOUT: the client just exits.
    s.push(discard_to_eof());
    s
}

fn stress_expected_stdout() -> Vec<u8> {
    let mut v = b"S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\nC: A01 AUTHENTICATE PLAIN AHRpbQB4\r\nS: A01 OK done\r\nAuthenticated.\nSecurity strength factor: 0\n".to_vec();
    for _ in 0..10 {
        v.extend(b"S: C01 OK done\r\n");
        for _ in 0..5 {
            v.extend(b"S: + go ahead\r\nS: A003 OK append\r\n");
        }
        v.extend(b"S: D01 OK done\r\n");
    }
    v.extend(b"took <n> seconds\n");
    v
}

/// `took N seconds` → `took <n> seconds` (wall-clock time varies).
fn stress_normalise(stdout: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(stdout).into_owned();
    match s.rfind("took ") {
        Some(i)
            if s[i..].ends_with(" seconds\n")
                && s[i + 5..s.len() - 9].bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{}took <n> seconds\n", &s[..i]).into_bytes()
        }
        _ => stdout.to_vec(),
    }
}

fn stress_run(imp: Imp) -> (Output, ServerReport) {
    let server = FakeServer::start(vec![stress_script()]);
    let port = server.port().to_string();
    let out = Command::new(imp, "imtest")
        .args(["-z", "-p", &port, "-a", "tim", "-w", "x", "127.0.0.1"])
        .run_raw();
    (out, server.finish())
}

fn stress_problems(what: &str, out: &Output, report: &ServerReport) -> Vec<String> {
    use crate::support::wire::*;
    let mut p = Vec::new();
    let got = stress_normalise(&out.stdout);
    let want = stress_expected_stdout();
    if got != want {
        p.push(diff(&format!("{what} stdout"), &show(&want), &show(&got)));
    }
    if !out.stderr.is_empty() || out.code() != 0 || out.timed_out {
        p.push(format!(
            "{what}: expected exit 0 and empty stderr: {}",
            out.describe()
        ));
    }
    for e in report.errors() {
        p.push(format!("{what}: fake server: {e}"));
    }
    p
}

fn a34_stress_test(imp: Imp) {
    let (out, report) = stress_run(imp);
    verdict("13A.34", stress_problems(imp.label(), &out, &report));
}

/// This module's listed tests.
pub fn trials() -> Vec<Trial> {
    let mut t = Vec::new();
    for (name, test) in [
        ("a33_unix_socket_relay", a33_unix_socket_relay as fn(Imp)),
        ("a34_stress_test", a34_stress_test),
        ("a35_password_on_pty", a35_password_on_pty),
    ] {
        for (side, imp) in [("oracle", Imp::Oracle), ("ours", Imp::Ours)] {
            t.push(rust_test_with(&format!("imap/{name}::{side}"), move || {
                test(imp)
            }));
        }
    }
    t
}
