//! The command line, differentially: every case runs our binary and Debian's C `imtest`
//! (cyrus-clients 3.6.1, the oracle) under the same program name and arguments, and compares
//! stdout, stderr and exit status. Only cases that end before connecting are used. Where we
//! follow upstream master instead of 3.6 (long options, `-H`), the expected text is spelled out.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const ORACLE: &str = "/usr/lib/cyrus/bin/imtest";
const OURS: &str = env!("CARGO_BIN_EXE_imtest");

const NAMES: [&str; 9] = [
    "imtest",
    "smtptest",
    "lmtptest",
    "pop3test",
    "sivtest",
    "nntptest",
    "mupdatetest",
    "httptest",
    "synctest",
];

/// Protocols whose usage text lists `-H` (master).
const HAPROXY_PROTOCOLS: [&str; 5] = ["imap", "pop3", "smtp", "http", "sieve"];

/// The protocol a run uses: the last `-P` value unless it is empty (the cases never cluster
/// it), else the program name's (spec §1.1).
fn effective_protocol(name: &str, args: &[&str]) -> String {
    let from_option = args
        .windows(2)
        .filter(|pair| pair[0] == "-P")
        .map(|pair| pair[1].to_ascii_lowercase())
        .next_back()
        .filter(|value| !value.is_empty());
    from_option.unwrap_or_else(|| {
        let key = match name.to_ascii_lowercase().as_str() {
            "imtest" => "imap",
            "pop3test" => "pop3",
            "lmtptest" => "lmtp",
            "smtptest" => "smtp",
            "mupdatetest" => "mupdate",
            "sivtest" => "sieve",
            "synctest" => "csync",
            "httptest" => "http",
            "nntptest" => "nntp",
            _ => "",
        };
        key.to_owned()
    })
}

/// Master's three `-H` lines, which the 3.6 oracle does not print.
const HAPROXY_LINES: &str = "  -H ip    : Enable the HAProxy protocol and send the specified client IP address in a v1 header
             If the address is \"unknown\", a v1 header with UNKNOWN protocol will be sent
             If the address is \"local\", a v2 header with LOCAL command will be sent
";

/// The usage line the `-H` block comes right before.
const CHALLENGE_LINE: &str = "  -c       : enable challenge prompt callbacks\n";

/// Placeholder for argv[0] in stderr, so outputs of differently placed links compare equal.
const ARGV0: &str = "<argv0>";

/// Every process gets this long before it is killed.
const TIMEOUT: Duration = Duration::from_secs(20);

fn oracle() -> &'static Path {
    let path = Path::new(ORACLE);
    assert!(
        path.exists(),
        "the C oracle {ORACLE} is missing: install the Debian package `cyrus-clients` \
         (apt-get install cyrus-clients) to run these tests"
    );
    path
}

/// A private temporary directory, removed on drop.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("imtest-cli-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("ours")).expect("create scratch dir");
        std::fs::create_dir_all(dir.join("c")).expect("create scratch dir");
        Scratch { dir }
    }

    /// `<scratch>/<side>/<name>`, a symlink to our binary (side `ours`) or the oracle (`c`).
    fn link(&self, side: &str, name: &str) -> PathBuf {
        let target = if side == "ours" {
            Path::new(OURS)
        } else {
            oracle()
        };
        let link = self.dir.join(side).join(name);
        if !link.exists() {
            std::os::unix::fs::symlink(target, &link).expect("create symlink");
        }
        link
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    stdout: String,
    stderr: String,
    status: Option<i32>,
}

/// Runs `program` (argv[0] = its path as given) with stdin from /dev/null, then replaces that
/// path in stderr by `<argv0>`.
fn run_with(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_remove("POSIXLY_CORRECT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout pipe");
    let mut stderr = child.stderr.take().expect("stderr pipe");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!(
                "{} {args:?} did not finish within {TIMEOUT:?}",
                program.display()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let argv0 = program.as_os_str().as_bytes();
    let text = |bytes: Vec<u8>| readable(&replace_bytes(&bytes, argv0, ARGV0.as_bytes()));
    Outcome {
        stdout: text(out_reader.join().expect("stdout reader")),
        stderr: text(err_reader.join().expect("stderr reader")),
        status: status.code(),
    }
}

/// `haystack` with every `needle` replaced by `with`.
fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while !rest.is_empty() {
        if !needle.is_empty() && rest.starts_with(needle) {
            out.extend_from_slice(with);
            rest = &rest[needle.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// Text with every byte kept: valid UTF-8 as is, other bytes as `\xNN`.
fn readable(bytes: &[u8]) -> String {
    let mut text = String::new();
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        for byte in chunk.invalid() {
            text.push_str(&format!("\\x{byte:02x}"));
        }
    }
    text
}

fn run(program: &Path, args: &[&str]) -> Outcome {
    run_with(program, args, &[])
}

/// Removes master's `-H` block from a usage text; says whether it was there, right before `-c`.
fn strip_haproxy(stdout: &str) -> (String, bool) {
    let block = format!("{HAPROXY_LINES}{CHALLENGE_LINE}");
    if stdout.matches(HAPROXY_LINES).count() == 1 && stdout.contains(&block) {
        (stdout.replacen(HAPROXY_LINES, "", 1), true)
    } else {
        (stdout.to_owned(), false)
    }
}

/// Runs both sides under `name` and compares; the `-H` block must be in our usage text exactly
/// when the protocol lists it.
fn compare_with_env(scratch: &Scratch, name: &str, args: &[&str], env: &[(&str, &str)]) {
    let ours = run_with(&scratch.link("ours", name), args, env);
    let c = run_with(&scratch.link("c", name), args, env);
    let (stripped, had_haproxy) = strip_haproxy(&ours.stdout);
    let is_usage = ours.stdout.starts_with("Usage: ");
    let ours_vs_c = Outcome {
        stdout: stripped,
        ..ours.clone()
    };
    assert_eq!(
        ours_vs_c, c,
        "\n{name} {args:?}: ours (left, -H lines removed) differs from the C tool (right)"
    );
    assert!(
        !HAPROXY_LINES.lines().any(|l| c.stdout.contains(l)),
        "oracle is not 3.6?"
    );
    let protocol = effective_protocol(name, args);
    let expect_haproxy = is_usage && HAPROXY_PROTOCOLS.contains(&protocol.as_str());
    assert_eq!(
        had_haproxy, expect_haproxy,
        "\n{name} {args:?}: -H lines present = {had_haproxy}, expected {expect_haproxy}:\n{}",
        ours.stdout
    );
    if !expect_haproxy {
        assert!(
            !ours.stdout.contains("-H ip"),
            "{name} {args:?}: stray -H line"
        );
    }
}

fn compare(scratch: &Scratch, name: &str, args: &[&str]) {
    compare_with_env(scratch, name, args, &[]);
}

/// Cases that end inside option parsing for every program name.
const COMMON_CASES: &[&[&str]] = &[
    &["-h"],
    &["-?"],
    &["-Z"],
    &["-p"],
    &["-t"],
    &["-vh"],
    &["-vcqih"],
    &["127.0.0.1", "-h"],
    &["-h", "--", "127.0.0.1"],
    &["-Z", "-Y", "-p"],
    &["-P", "bogus", "-h"],
    &["-P", "imap", "-h"],
    &["-P", "IMAP", "-h"],
    &["-P", "", "-h"],
    &["-P", "imap", "-P", "", "-h"],
    &["-P", "nntp", "-h"],
    &["-P", "csync", "-h"],
    &["-P", "sieve", "-s"],
    &["-s", "-h"],
    &["-z", "-h"],
    &["-s", "-z", "-h"],
    &["-n", "0"],
    &["-n", "abc"],
    &["-n", "-3", "-h"],
    &["-n", "99999999999999999999", "-h"],
    &["-n", "4294967297", "-h"],
    &["-n", " 2x", "-h"],
    &["-Z", "-n", "0"],
    &["-n", "0", "-Z"],
    &["-P", "bogus", "-n", "0"],
    &["-f", "x", "-x", "y"],
    &["-x", "y", "-f", "x"],
    &["-f", "", "-x", ""],
    &["-x", "a", "-x", "b"],
    &["-x", "a", "-X", "b"],
    &["-k", "abc", "-l", "-5", "-h"],
    &["-o", "a=b", "-o", "c", "-h"],
    &[
        "-u", "u", "-a", "a", "-w", "w", "-m", "PLAIN", "-r", "R", "-t", "", "-h",
    ],
    &["-I", "/nonexistent/dir/pid", "127.0.0.1"],
    &["-I", "/nonexistent/dir/pid"],
    &["-I", "/nonexistent/dir/pid", "-h"],
    &["-I", "", "127.0.0.1"],
];

#[test]
fn every_name_matches_c_on_parse_only_cases() {
    let scratch = Scratch::new();
    std::thread::scope(|scope| {
        for name in NAMES {
            let scratch = &scratch;
            scope.spawn(move || {
                for args in COMMON_CASES {
                    compare(scratch, name, args);
                }
            });
        }
    });
}

#[test]
fn ssl_and_stress_refusals_match_c() {
    let scratch = Scratch::new();
    for name in ["lmtptest", "sivtest", "synctest", "mupdatetest"] {
        compare(&scratch, name, &["-s", "127.0.0.1"]);
        compare(&scratch, name, &["-s"]);
    }
    for name in NAMES.iter().filter(|n| **n != "imtest") {
        compare(&scratch, name, &["-z", "127.0.0.1"]);
    }
    compare(&scratch, "imtest", &["-P", "pop3", "-z"]);
}

#[test]
fn other_program_names_match_c() {
    let scratch = Scratch::new();
    for name in ["cyrus-imtest", "a.out", "IMTEST", "SivTest"] {
        compare(&scratch, name, &["-h"]);
        compare(&scratch, name, &["-P", "smtp", "-h"]);
        compare(&scratch, name, &["-n", "0"]);
    }
    for name in ["cyrus-imtest", "a.out"] {
        compare(&scratch, name, &["127.0.0.1"]);
        compare(&scratch, name, &[]);
    }
}

/// Program names and arguments that are not UTF-8 pass through byte for byte.
#[test]
fn non_utf8_bytes_match_c() {
    let scratch = Scratch::new();
    let name = std::ffi::OsStr::from_bytes(b"x\xff");
    let mut outcomes = Vec::new();
    for side in ["ours", "c"] {
        let target = if side == "ours" {
            Path::new(OURS)
        } else {
            oracle()
        };
        let link = scratch.dir.join(side).join(name);
        std::os::unix::fs::symlink(target, &link).expect("create symlink");
        let pidfile = scratch
            .dir
            .join(std::ffi::OsStr::from_bytes(b"no\xfedir/pid"));
        let args: [&std::ffi::OsStr; 6] = [
            "-P".as_ref(),
            "pop3".as_ref(),
            std::ffi::OsStr::from_bytes(b"-\xe9"),
            "-I".as_ref(),
            pidfile.as_os_str(),
            std::ffi::OsStr::from_bytes(b"h\xfe"),
        ];
        let usage = Command::new(&link)
            .args(&args[..3])
            .stdin(Stdio::null())
            .output()
            .expect("run");
        let pid = Command::new(&link)
            .args(&args[3..])
            .arg("-P")
            .arg("imap")
            .stdin(Stdio::null())
            .output()
            .expect("run");
        let link_bytes = link.as_os_str().as_bytes();
        outcomes.push((
            usage.status.code(),
            strip_haproxy(&readable(&usage.stdout)).0,
            readable(&replace_bytes(&usage.stderr, link_bytes, ARGV0.as_bytes())),
            pid.status.code(),
            readable(&pid.stdout),
            readable(&replace_bytes(
                &pid.stderr,
                scratch.dir.as_os_str().as_bytes(),
                b"<dir>",
            )),
        ));
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert!(outcomes[0]
        .1
        .starts_with("Usage: x\\xff [options] hostname\n"));
    assert_eq!(outcomes[0].2, "<argv0>: invalid option -- '\\xe9'\n");
    assert_eq!(
        outcomes[0].5,
        "could not open <dir>/no\\xfedir/pid for writing\nerror: No such file or directory\n"
    );
}

#[test]
fn posixly_correct_stops_at_the_first_operand_like_c() {
    let scratch = Scratch::new();
    compare_with_env(
        &scratch,
        "imtest",
        &["-Z", "127.0.0.1", "-h"],
        &[("POSIXLY_CORRECT", "1")],
    );
}

#[test]
fn dash_h_is_ours_only() {
    let scratch = Scratch::new();
    let c_usage = run(&scratch.link("c", "imtest"), &["-h"]).stdout;
    // 3.6 rejects -H; we take it (master) and only print usage because of -h.
    let ours = run(&scratch.link("ours", "imtest"), &["-H", "1.2.3.4", "-h"]);
    assert_eq!(ours.stderr, "");
    assert_eq!(ours.status, Some(1));
    assert_eq!(strip_haproxy(&ours.stdout), (c_usage.clone(), true));
    let ours = run(&scratch.link("ours", "imtest"), &["-H"]);
    assert_eq!(
        ours.stderr,
        format!("{ARGV0}: option requires an argument -- 'H'\n")
    );
    assert_eq!(strip_haproxy(&ours.stdout), (c_usage, true));
}

/// Long options do not exist in 3.6: the expected complaints are glibc's wording (spec §2.1).
#[test]
fn long_option_complaints_are_glibcs() {
    let scratch = Scratch::new();
    let ours = scratch.link("ours", "imtest");
    let c_usage = run(&scratch.link("c", "imtest"), &["-h"]).stdout;
    let cases: [(&[&str], String); 12] = [
        (&["--help"], String::new()),
        (&["--verb", "--help"], String::new()),
        (&["--he"], String::new()),
        (&["--foo"], format!("{ARGV0}: unrecognized option '--foo'\n")),
        (&["--verbose=x"], format!("{ARGV0}: option '--verbose' doesn't allow an argument\n")),
        (&["--port"], format!("{ARGV0}: option '--port' requires an argument\n")),
        (
            &["--re"],
            format!(
                "{ARGV0}: option '--re' is ambiguous; possibilities: '--reauth-attempts' \
                 '--require-compression' '--realm' '--require-tls'\n"
            ),
        ),
        // Master has no --version: --v and --ver are --verbose (ours is taken only in full).
        (&["--ver", "--help"], String::new()),
        (&["--v", "--help"], String::new()),
        (
            &["--h"],
            format!("{ARGV0}: option '--h' is ambiguous; possibilities: '--haproxy-clientip' '--help'\n"),
        ),
        (
            &["--m", "x"],
            format!("{ARGV0}: option '--m' is ambiguous; possibilities: '--minssf' '--maxssf' '--mechanism'\n"),
        ),
        (
            &["--foo", "-Z", "--output-socket"],
            format!(
                "{ARGV0}: unrecognized option '--foo'\n{ARGV0}: invalid option -- 'Z'\n\
                 {ARGV0}: option '--output-socket' requires an argument\n"
            ),
        ),
    ];
    for (args, stderr) in cases {
        let got = run(&ours, args);
        assert_eq!(got.stderr, stderr, "{args:?}");
        assert_eq!(got.status, Some(1), "{args:?}");
        assert_eq!(
            strip_haproxy(&got.stdout),
            (c_usage.clone(), true),
            "{args:?}"
        );
    }
    // Long forms of the parse-time failures.
    let got = run(&ours, &["--reauth-attempts=0"]);
    assert_eq!(
        (got.stderr.as_str(), got.status),
        ("failure: number of auth attempts must be > 0\n\n", Some(1))
    );
    let got = run(&ours, &["--input-filename=a", "--output-socket", "b"]);
    assert_eq!(
        (got.stderr.as_str(), got.status),
        (
            "failure: cannot pipe a file when using unix domain socket output\n",
            Some(1)
        )
    );
    let got = run(&ours, &["--protocol=bogus"]);
    assert_eq!(
        (got.stderr.as_str(), got.status),
        ("failure: unknown protocol\n\n", Some(1))
    );
    let got = run(&ours, &["--prot=lmtp", "--require-tls"]);
    assert_eq!(
        (got.stderr.as_str(), got.status),
        ("failure: protocol cannot be SSL-wrapped\n\n", Some(1))
    );
    let got = run(&ours, &["--pidfile=/nonexistent/dir/pid", "127.0.0.1"]);
    assert_eq!(
        (got.stderr.as_str(), got.status),
        (
            "could not open /nonexistent/dir/pid for writing\nerror: No such file or directory\n",
            Some(1)
        )
    );
}

/// `--version` is ours alone (no C tool has it): `<name> (imtest-rs) <version>`, status 0, for
/// every name; `-V` stays an invalid option exactly as in the C tool.
#[test]
fn version_is_ours_only() {
    let scratch = Scratch::new();
    for name in NAMES {
        let got = run(&scratch.link("ours", name), &["--version"]);
        let expected = Outcome {
            stdout: format!("{name} (imtest-rs) {}\n", env!("CARGO_PKG_VERSION")),
            stderr: String::new(),
            status: Some(0),
        };
        assert_eq!(got, expected, "{name}");
        assert_eq!(
            run(&scratch.link("ours", name), &["h", "--version"]),
            expected
        );
    }
    let ours = run(&scratch.link("ours", "imtest"), &["-V"]);
    assert_eq!(ours.stderr, format!("{ARGV0}: invalid option -- 'V'\n"));
    let c = run(&scratch.link("c", "imtest"), &["-V"]);
    assert_eq!(
        (strip_haproxy(&ours.stdout).0, ours.stderr, ours.status),
        (c.stdout, c.stderr, c.status)
    );
}

/// `--port=1` is `-p 1` in every spelling (compared on our side only: these would connect).
#[test]
fn long_port_behaves_like_short_port() {
    let scratch = Scratch::new();
    let ours = scratch.link("ours", "imtest");
    let reference = run(&ours, &["-p", "1", "127.0.0.1"]);
    for args in [
        &["--port=1", "127.0.0.1"][..],
        &["--port", "1", "127.0.0.1"],
        &["--po=1", "127.0.0.1"],
        &["127.0.0.1", "--port=1"],
        &["-p1", "127.0.0.1"],
    ] {
        assert_eq!(run(&ours, args), reference, "{args:?}");
    }
}

/// Waits for a pid file to hold a complete PID (the daemon writes it after forking).
fn read_pidfile(path: &Path) -> String {
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if !text.is_empty() {
                return text;
            }
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "pid file {} never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `-X`: the command returns 0 at once with nothing printed after it; the pid file records the
/// daemon, not the process we started.
#[test]
fn daemon_mode_matches_c() {
    let scratch = Scratch::new();
    let mut outcomes = Vec::new();
    for side in ["ours", "c"] {
        let program = scratch.link(side, "imtest");
        let pidfile = scratch.path(&format!("pid-{side}"));
        let socket = scratch.path(&format!("sock-{side}"));
        let args = [
            "-X",
            socket.to_str().expect("utf-8"),
            "-I",
            pidfile.to_str().expect("utf-8"),
            "-p",
            "1",
            "127.0.0.1",
        ];
        let outcome = run(&program, &args);
        let pid = read_pidfile(&pidfile);
        assert!(
            pid.bytes().all(|b| b.is_ascii_digit()),
            "{side}: pid file {pid:?}"
        );
        outcomes.push(outcome);
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert_eq!(
        outcomes[0],
        Outcome {
            stdout: String::new(),
            stderr: String::new(),
            status: Some(0)
        }
    );

    // A complaint printed before -X is seen; the usage after it goes nowhere.
    let ours = run(
        &scratch.link("ours", "imtest"),
        &["-Z", "-X", "/nonexistent/s", "-h"],
    );
    let c = run(
        &scratch.link("c", "imtest"),
        &["-Z", "-X", "/nonexistent/s", "-h"],
    );
    assert_eq!(ours, c);
    assert_eq!(ours.stderr, format!("{ARGV0}: invalid option -- 'Z'\n"));
    assert_eq!(ours.status, Some(0));
}
