//! The command line where a case file cannot say it (the rest is `tests/cases/cli/`): bytes
//! that are not UTF-8 in the program name, `--version` under every name, and `-X`'s daemon.

use crate::support::run::{Command, Imp, Input};
use crate::support::tmp::TempDir;
use libtest_mimic::Trial;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// The program names.
const NAMES: &str =
    "imtest smtptest lmtptest pop3test sivtest nntptest mupdatetest httptest synctest";

/// Stdout, stderr (as text, bytes that are not UTF-8 as `\xNN`) and the exit status.
type Run = (String, String, i32);

fn run(imp: Imp, name: impl AsRef<OsStr>, args: &[&OsStr]) -> Run {
    let out = Command::new(imp, name).args(args).stdin(Input::Null).run();
    (
        crate::lab::normalise::readable(&out.stdout),
        crate::lab::normalise::readable(&out.stderr),
        out.code(),
    )
}

/// Program names and arguments that are not UTF-8 pass through byte for byte.
fn non_utf8_bytes_match_c() {
    let dir = TempDir::new("cli");
    let pidfile = dir.path().join(OsStr::from_bytes(b"no\xfedir/pid"));
    let name = OsStr::from_bytes(b"x\xff");
    let usage_args = [
        OsStr::new("-P"),
        OsStr::new("pop3"),
        OsStr::from_bytes(b"-\xe9"),
    ];
    let pid_args = [
        OsStr::new("-I"),
        pidfile.as_os_str(),
        OsStr::from_bytes(b"h\xfe"),
        OsStr::new("-P"),
        OsStr::new("imap"),
    ];
    let side = |imp| (run(imp, name, &usage_args), run(imp, name, &pid_args));
    let (c, o) = (side(Imp::Oracle), side(Imp::Ours));
    assert_eq!(o.1, c.1);
    assert_eq!((&o.0 .1, o.0 .2), (&c.0 .1, c.0 .2));
    assert_eq!(o.0 .0, with_haproxy_lines(&c.0 .0));
    assert!(o.0 .0.starts_with("Usage: x\\xff [options] hostname\n"));
    assert_eq!(o.0 .1, "x\\xff: invalid option -- '\\xe9'\n");
    let shown = crate::lab::normalise::readable(dir.path().as_os_str().as_bytes());
    assert_eq!(
        o.1 .1.replace(&shown, "<dir>"),
        "could not open <dir>/no\\xfedir/pid for writing\nerror: No such file or directory\n"
    );
}

/// The C usage text with master's `-H` lines before `-c` (ours, for the protocols with -H).
fn with_haproxy_lines(usage: &str) -> String {
    const C_LINE: &str = "  -c       : enable challenge prompt callbacks\n";
    const H_LINES: &str =
        "  -H ip    : Enable the HAProxy protocol and send the specified client IP \
address in a v1 header
             If the address is \"unknown\", a v1 header with UNKNOWN protocol will be sent
             If the address is \"local\", a v2 header with LOCAL command will be sent
";
    assert!(usage.contains(C_LINE), "not a usage text: {usage}");
    usage.replacen(C_LINE, &format!("{H_LINES}{C_LINE}"), 1)
}

/// `--version` is ours alone (no C tool has it): `<name> (imtest-rs) <version>`, status 0, for
/// every name (`-V` stays the C tool's invalid option: `tests/cases/cli/imtest/-V.case`).
fn version_is_ours_only() {
    for name in NAMES.split(' ') {
        let expected = (
            format!("{name} (imtest-rs) {}\n", env!("CARGO_PKG_VERSION")),
            String::new(),
            0,
        );
        for args in [&["--version"][..], &["h", "--version"]] {
            let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
            assert_eq!(run(Imp::Ours, name, &args), expected, "{name}");
        }
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
            started.elapsed() < Duration::from_secs(20),
            "pid file {} never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `-X`: the command returns 0 at once with nothing printed after it; the pid file records the
/// daemon, not the process we started. A complaint printed before -X is seen; the usage
/// after it goes nowhere.
fn daemon_mode_matches_c() {
    let dir = TempDir::new("cli");
    let mut outcomes = Vec::new();
    for (imp, side) in [(Imp::Ours, "ours"), (Imp::Oracle, "c")] {
        let pidfile = dir.path().join(format!("pid-{side}"));
        let socket = dir.path().join(format!("sock-{side}"));
        let args = [
            OsStr::new("-X"),
            socket.as_os_str(),
            OsStr::new("-I"),
            pidfile.as_os_str(),
            OsStr::new("-p"),
            OsStr::new("1"),
            OsStr::new("127.0.0.1"),
        ];
        let outcome = run(imp, "imtest", &args);
        let pid = read_pidfile(&pidfile);
        assert!(
            pid.bytes().all(|b| b.is_ascii_digit()),
            "{side}: pid file {pid:?}"
        );
        outcomes.push(outcome);
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert_eq!(outcomes[0], (String::new(), String::new(), 0));
    let args: Vec<&OsStr> = ["-Z", "-X", "/nonexistent/s", "-h"]
        .iter()
        .map(OsStr::new)
        .collect();
    let (o, c) = (
        run(Imp::Ours, "imtest", &args),
        run(Imp::Oracle, "imtest", &args),
    );
    assert_eq!(o, c);
    assert_eq!(
        o,
        (String::new(), "imtest: invalid option -- 'Z'\n".into(), 0)
    );
}

pub fn trials() -> Vec<Trial> {
    crate::listed!(
        "cli/",
        non_utf8_bytes_match_c,
        version_is_ours_only,
        daemon_mode_matches_c,
    )
}
