//! Hardening that changes nothing printed or sent (the C tools have none of it):
//! * the process is non-dumpable from the start: run as another user (nobody), its
//!   `/proc/PID` files belong to root, so that user's other processes cannot read its memory
//!   or environment, and a crash leaves no core file;
//! * `IMTEST_PASSWORD` is gone from `/proc/PID/environ` once read;
//! * the `-x` socket is created 0600 and the `-I` file 0644 even under umask 000;
//! * `-I` does not write through a symbolic link planted at its path.

use crate::support::held::{plain_server, tell, when_authed, PLAIN};
use crate::support::run::{Command, Imp};
use crate::support::server::*;
use crate::support::tmp::TempDir;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "s3cr3t-Pw";
const NOBODY: u32 = 65534;

fn process_run_as_another_user_is_not_dumpable() {
    let (authed_tx, authed_rx) = mpsc::channel();
    let server = plain_server(authed_tx);
    let port = server.port().to_string();
    let mut child = std::process::Command::new(Imp::Ours.binary())
        .arg0("imtest")
        .args(["-p", &port, "-a", "tim", "-w", PASSWORD, "127.0.0.1"])
        .env("LC_ALL", "C")
        .current_dir("/")
        .uid(NOBODY)
        .gid(NOBODY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ours as nobody");
    let authenticated = authed_rx.recv_timeout(Duration::from_secs(10)).is_ok();
    let proc_dir = format!("/proc/{}", child.id());
    let status = std::fs::read_to_string(format!("{proc_dir}/status")).unwrap_or_default();
    let owner = |file: &str| std::fs::metadata(format!("{proc_dir}/{file}")).map(|m| m.uid());
    let owners = (owner("environ"), owner("mem"), owner("maps"));
    drop(child.stdin.take());
    let output = child.wait_with_output().expect("wait");
    server.finish().assert_ok();
    assert!(authenticated, "{output:?}");
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or("");
    assert_eq!(
        uid_line.split_whitespace().nth(1),
        Some("65534"),
        "it ran as nobody: {uid_line}"
    );
    assert_eq!(
        (
            owners.0.as_ref().ok(),
            owners.1.as_ref().ok(),
            owners.2.as_ref().ok()
        ),
        (Some(&0), Some(&0), Some(&0)),
        "a dumpable process's /proc files belong to its user (65534); non-dumpable: root"
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

/// Starts ours with `IMTEST_PASSWORD` set (and `args`), returns `/proc/PID/environ` as seen
/// once the session is authenticated.
fn environ_during_session(args: &[&str]) -> Vec<u8> {
    let command = |port: &str| {
        Command::new(Imp::Ours, "imtest")
            .args(["-p", port, "-a", "tim"])
            .args(args)
            .arg("127.0.0.1")
            .env("IMTEST_PASSWORD", PASSWORD)
    };
    let (environ, output) = when_authed(plain_server, command, |pid| {
        std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default()
    });
    assert_eq!(output.code(), 0, "{}", output.describe());
    environ
}

/// The environment as text, entries separated by spaces.
fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\0', " ")
}

/// The `IMTEST_PASSWORD` entries only (for failure messages).
fn entry(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|&b| b == 0)
        .filter(|e| e.starts_with(b"IMTEST_PASSWORD"))
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect()
}

fn imtest_password_leaves_proc_environ() {
    let environ = environ_during_session(&[]);
    assert!(
        !show(&environ).contains(PASSWORD),
        "password in /proc/PID/environ: {:?}",
        entry(&environ)
    );
    assert!(
        show(&environ).contains("IMTEST_PASSWORD=xxxxxxxxx "),
        "overwritten in place: {:?}",
        entry(&environ)
    );
    assert!(show(&environ).contains("LC_ALL=C "), "the rest stays");
}

fn imtest_password_is_wiped_even_when_w_wins() {
    // -w gives the same password (the server expects it); the variable is still removed.
    let environ = environ_during_session(&["-w", PASSWORD]);
    assert!(
        !show(&environ).contains(PASSWORD),
        "password in /proc/PID/environ: {:?}",
        entry(&environ)
    );
}

fn socket_and_pid_file_modes_ignore_umask_000() {
    let server = FakeServer::start(vec![vec![
        send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake\r\n"),
        expect_line(PLAIN),
        send("A01 OK done\r\n"),
        discard_to_eof(),
    ]]);
    let dir = TempDir::new("modes");
    let socket = dir.path().join("sock");
    let pidfile = dir.path().join("pid");
    let port = server.port().to_string();
    let mut child = std::process::Command::new("/bin/sh")
        .args(["-c", "umask 000; exec \"$@\"", "sh"])
        .arg(Imp::Ours.binary())
        .args([
            "-x",
            socket.to_str().unwrap(),
            "-I",
            pidfile.to_str().unwrap(),
        ])
        .args(["-p", &port, "-a", "tim", "-w", PASSWORD, "127.0.0.1"])
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ours under umask 000");
    let started = Instant::now();
    while !socket.exists() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).map(|m| m.permissions().mode() & 0o7777);
    let (socket_mode, pid_mode) = (mode(&socket).ok(), mode(&pidfile).ok());
    let _ = child.kill();
    let _ = child.wait();
    server.finish();
    assert_eq!(
        socket_mode,
        Some(0o600),
        "socket mode {:?} (0777 & ~umask would be 0777)",
        socket_mode.map(|m| format!("{m:o}"))
    );
    assert_eq!(
        pid_mode,
        Some(0o644),
        "pid file mode {:?}",
        pid_mode.map(|m| format!("{m:o}"))
    );
}

/// An existing pid file with a wider mode is narrowed to 0644; /dev/null (not a regular
/// file) keeps its mode.
fn existing_pid_file_is_narrowed_to_0644() {
    let dir = TempDir::new("pidmode");
    let pidfile = dir.path().join("pid");
    std::fs::write(&pidfile, "").unwrap();
    std::fs::set_permissions(&pidfile, std::fs::Permissions::from_mode(0o666)).unwrap();
    let null_mode = std::fs::metadata("/dev/null").unwrap().permissions().mode();
    for path in [pidfile.to_str().unwrap(), "/dev/null"] {
        let out = Command::new(Imp::Ours, "imtest")
            .args(["-I", path, "-p", "1", "127.0.0.1"])
            .run();
        assert_eq!(out.code(), 1, "{}", out.describe());
    }
    let mode = std::fs::metadata(&pidfile).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o644, "{mode:o}");
    let now = std::fs::metadata("/dev/null").unwrap().permissions().mode();
    assert_eq!(now, null_mode);
}

fn pid_file_is_not_written_through_a_symlink() {
    let dir = TempDir::new("pidlink");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep me\n").unwrap();
    let link = dir.path().join("pid");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let dangling = dir.path().join("pid2");
    let nowhere = dir.path().join("nowhere");
    std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
    for path in [&link, &dangling] {
        // Port 1 is never reached: the pid file comes first.
        let out = Command::new(Imp::Ours, "imtest")
            .args(["-I", path.to_str().unwrap(), "-p", "1", "127.0.0.1"])
            .run();
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "failure: -I: {} is a symbolic link; not writing the pid file through it\n",
                path.display()
            ),
            "{}",
            out.describe()
        );
        assert!(out.stdout.is_empty(), "{}", out.describe());
        assert_eq!(out.code(), 1, "{}", out.describe());
        assert!(
            std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()),
            "the link stays"
        );
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
    assert!(
        !nowhere.exists(),
        "no file created at the dangling link's target"
    );
}

fn pid_file_keeps_working_on_a_plain_path() {
    let dir = TempDir::new("pidplain");
    let pidfile = dir.path().join("pid");
    std::fs::write(&pidfile, "old contents that are longer").unwrap();
    let out = Command::new(Imp::Ours, "imtest")
        .args(["-I", pidfile.to_str().unwrap(), "-p", "1", "127.0.0.1"])
        .run();
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    assert!(
        !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()),
        "{pid:?}"
    );
    assert_eq!(out.code(), 1, "{}", out.describe());
}

/// Long enough that the allocator's bookkeeping in a freed block (its first 16 bytes) leaves
/// most of it in place: what is searched for is its tail.
const LONG_PASSWORD: &str = "correct-horse-battery-staple-0123456789-ABCDEFGHIJ";
const LONG_TAIL: &[u8] = b"0123456789-ABCDEFGHIJ";

/// How many times `needle` is in the writable memory of process `pid` (read as root through
/// `/proc/PID/mem`, which works for a non-dumpable process too).
fn copies_in_memory(pid: i32, needle: &[u8]) -> usize {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("maps");
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).expect("mem");
    let mut count = 0;
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !perms.starts_with("rw") {
            continue;
        }
        let (start, end) = range.split_once('-').expect("range");
        let start = u64::from_str_radix(start, 16).unwrap();
        let end = u64::from_str_radix(end, 16).unwrap();
        let mut region = vec![0u8; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_err() || mem.read_exact(&mut region).is_err() {
            continue;
        }
        count += region
            .windows(needle.len())
            .filter(|w| *w == needle)
            .count();
    }
    count
}

/// A server that takes `name`'s own login (IMAP LOGIN, POP3 USER/PASS) with the long
/// password, tells `authed` and waits for the log-out.
fn login_server(name: &str, authed: mpsc::Sender<()>) -> FakeServer {
    let told = tell(authed);
    let script = match name {
        "imtest" => vec![
            send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake\r\n"),
            expect_line("L01 LOGIN tim {50}\r\n"),
            send("+ go\r\n"),
            expect_line(format!("{LONG_PASSWORD}\r\n")),
            send("L01 OK done\r\n"),
            told,
            expect_line("Q01 LOGOUT\r\n"),
            send("* BYE\r\nQ01 OK bye\r\n"),
        ],
        _ => vec![
            send("+OK fake\r\n"),
            expect_line("CAPA\r\n"),
            send("+OK\r\nUSER\r\n.\r\n"),
            expect_line("USER tim\r\n"),
            send("+OK\r\n"),
            expect_line(format!("PASS {LONG_PASSWORD}\r\n")),
            send("+OK done\r\n"),
            told,
            expect_line("QUIT\r\n"),
            send("+OK bye\r\n"),
        ],
    };
    FakeServer::start(vec![script])
}

/// IMAP LOGIN and POP3 USER/PASS are built by us alone (no libsasl2 buffers): once the
/// rounds are over, the password is only where it must stay for the session (`-w`'s value;
/// the prompter and its copy end with the last round), not in the line that was sent, the
/// outgoing queue or freed blocks.
fn no_stray_copies_of_the_password_after_login() {
    for (name, mech) in [("imtest", "login"), ("pop3test", "user")] {
        let command = |port: &str| {
            Command::new(Imp::Ours, name)
                .args(["-p", port, "-m", mech, "-a", "tim", "-w", LONG_PASSWORD])
                .arg("127.0.0.1")
        };
        let server = |authed| login_server(name, authed);
        let (copies, output) = when_authed(server, command, |pid| {
            // The reply is read and the session idles, waiting for stdin.
            std::thread::sleep(Duration::from_millis(300));
            copies_in_memory(pid, LONG_TAIL)
        });
        assert_eq!(copies, 1, "{name}: copies of the password in memory");
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains(LONG_PASSWORD),
            "{}",
            output.describe()
        );
    }
}

/// A bearer token goes through our own XOAUTH2 code: after the exchange the token is only
/// in the options (one copy), and its base64 form, printed and sent, nowhere in memory.
fn no_stray_copies_of_the_bearer_token_after_xoauth2() {
    let token = format!("ya29.{LONG_PASSWORD}");
    let dir = TempDir::new("token");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let (line_tx, line_rx) = mpsc::channel::<Vec<u8>>();
    let server = |authed: mpsc::Sender<()>| {
        FakeServer::start(vec![vec![
            send("* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] fake\r\n"),
            run(move |s| {
                let line = s.read_line()?;
                s.send(b"A01 OK done\r\n")?;
                let _ = line_tx.send(line);
                let _ = authed.send(());
                Ok(())
            }),
            expect_line("Q01 LOGOUT\r\n"),
            send("* BYE\r\nQ01 OK bye\r\n"),
        ]])
    };
    let command = |port: &str| {
        Command::new(Imp::Ours, "imtest")
            .args(["-p", port, "-a", "tim", "--oauth-token-file"])
            .arg(&token_file)
            .arg("127.0.0.1")
    };
    let ((raw, base64), output) = when_authed(server, command, |pid| {
        std::thread::sleep(Duration::from_millis(300));
        let line = line_rx.recv().expect("the XOAUTH2 line");
        let encoded = line
            .strip_suffix(b"\r\n")
            .and_then(|l| l.strip_prefix(b"A01 AUTHENTICATE XOAUTH2 "))
            .expect("the XOAUTH2 line")
            .to_vec();
        let encoded_tail = &encoded[encoded.len() - 24..];
        (
            copies_in_memory(pid, LONG_TAIL),
            copies_in_memory(pid, encoded_tail),
        )
    });
    assert_eq!(output.code(), 0, "{}", output.describe());
    assert_eq!((raw, base64), (1, 0), "copies of the token (raw, base64)");
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    crate::listed!(
        "hardening/",
        process_run_as_another_user_is_not_dumpable,
        imtest_password_leaves_proc_environ,
        imtest_password_is_wiped_even_when_w_wins,
        socket_and_pid_file_modes_ignore_umask_000,
        existing_pid_file_is_narrowed_to_0644,
        pid_file_is_not_written_through_a_symlink,
        pid_file_keeps_working_on_a_plain_path,
        no_stray_copies_of_the_password_after_login,
        no_stray_copies_of_the_bearer_token_after_xoauth2,
    )
}
