//! A few real sessions under valgrind (memcheck, `--error-exitcode=1`, no leak check): a PLAIN
//! login with a relayed command, a STARTTLS session, and DIGEST-MD5 with a confidentiality
//! layer (auth-conf) — the FFI paths (libsasl2, OpenSSL, glibc getopt, the argv mask) with
//! real data. Any memory error fails the test. The three run side by side (valgrind is slow).

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};
use support::certs::certs;
use support::sasl_server::*;
use support::server::*;

const VALGRIND: &str = "/usr/bin/valgrind";
const LIMIT: Duration = Duration::from_secs(60);

/// Answers CAPABILITY and NOOP until LOGOUT.
fn imap_tail() -> Step {
    run(|s| loop {
        let line = s.read_line()?;
        let text = String::from_utf8_lossy(&line).into_owned();
        let mut words = text.trim_end().splitn(2, ' ');
        let (tag, command) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        match command.to_ascii_uppercase().as_str() {
            "LOGOUT" => return s.send(format!("* BYE\r\n{tag} OK bye\r\n").as_bytes()),
            "CAPABILITY" => s.send(
                format!("* CAPABILITY IMAP4rev1 AUTH=DIGEST-MD5\r\n{tag} OK done\r\n").as_bytes(),
            )?,
            _ => s.send(format!("* 1 EXISTS\r\n{tag} OK noop\r\n").as_bytes())?,
        }
    })
}

struct Session {
    name: &'static str,
    args: Vec<String>,
    script: Script,
    /// A line stdout must contain.
    expect: &'static str,
}

fn under_valgrind(session: Session) -> Result<(), String> {
    let server = FakeServer::start(vec![session.script]);
    let port = server.port().to_string();
    let args: Vec<String> = session
        .args
        .iter()
        .map(|a| a.replace("{PORT}", &port))
        .collect();
    let dir = support::tmp::TempDir::new("valgrind");
    let stdin = dir.write("stdin", b"a1 NOOP\n");
    let mut child = std::process::Command::new(VALGRIND)
        .args(["-q", "--error-exitcode=1", "--leak-check=no"])
        .arg(env!("CARGO_BIN_EXE_imtest"))
        .args(&args)
        .env("LC_ALL", "C")
        .stdin(std::fs::File::open(stdin).expect("stdin file"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {VALGRIND}: {e} (apt-get install valgrind)"))?;
    let start = Instant::now();
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{}: still running after {LIMIT:?}", session.name));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let report = server.finish();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "{}: exit {:?} (memory errors exit 1)\n--- stderr\n{stderr}\n--- stdout\n{stdout}",
            session.name,
            output.status.code()
        ));
    }
    if !stdout.contains(session.expect) || !stderr.is_empty() {
        return Err(format!(
            "{}: unexpected output\n--- stderr\n{stderr}\n--- stdout\n{stdout}",
            session.name
        ));
    }
    let errors = report.errors();
    if !errors.is_empty() {
        return Err(format!("{}: server: {errors:?}", session.name));
    }
    Ok(())
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn sessions_have_no_memory_errors() {
    let db = SaslDb::create("EXAMPLE", &[("tim", "secret")]);
    let sessions = vec![
        Session {
            name: "PLAIN login and relay",
            args: words(&[
                "-p",
                "{PORT}",
                "-m",
                "plain",
                "-a",
                "tim",
                "-w",
                "secret",
                "127.0.0.1",
            ]),
            script: vec![
                send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake\r\n"),
                read_line(),
                send("A01 OK done\r\n"),
                imap_tail(),
            ],
            expect: "a1 OK noop",
        },
        Session {
            name: "STARTTLS",
            args: words(&[
                "-t",
                "",
                "-p",
                "{PORT}",
                "-m",
                "plain",
                "-a",
                "tim",
                "-w",
                "secret",
                "127.0.0.1",
            ]),
            script: vec![
                send("* OK [CAPABILITY IMAP4rev1 STARTTLS] fake\r\n"),
                read_line(),
                send("S01 OK begin TLS\r\n"),
                start_tls(&TlsConfig::simple(&certs().server)),
                read_line(),
                send("* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\nC01 OK done\r\n"),
                read_line(),
                send("A01 OK done\r\n"),
                imap_tail(),
            ],
            expect: "a1 OK noop",
        },
        Session {
            name: "DIGEST-MD5 auth-conf",
            args: words(&[
                "-p",
                "{PORT}",
                "-m",
                "DIGEST-MD5",
                "-k",
                "128",
                "-a",
                "tim",
                "-w",
                "secret",
                "127.0.0.1",
            ]),
            script: vec![
                send("* OK fake ready\r\n"),
                read_line(),
                send("* CAPABILITY IMAP4rev1 AUTH=DIGEST-MD5\r\nC01 OK done\r\n"),
                imap_auth(&ServerConfig::new(&db)),
                imap_tail(),
            ],
            expect: "Security strength factor: 128",
        },
    ];
    let runs: Vec<_> = sessions
        .into_iter()
        .map(|s| std::thread::spawn(move || under_valgrind(s)))
        .collect();
    let failures: Vec<String> = runs
        .into_iter()
        .filter_map(|r| r.join().expect("runner thread").err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
