//! One differential check for scripted-server cases: the C tool and ours each run against a
//! fresh copy of the same script and must agree byte for byte on stdout, stderr, the exit
//! status and the bytes the server received. A run that hits the runner's timeout fails.

use super::run::{Command, Imp, Output};
use super::server::{FakeServer, Script};
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

struct Run {
    output: Output,
    received: Vec<u8>,
}

/// `{PORT}` in an argument becomes the fake server's port; other bytes are left alone.
fn with_port(arg: &OsString, port: &str) -> OsString {
    let bytes = arg.as_bytes();
    match bytes.windows(6).position(|w| w == b"{PORT}") {
        Some(at) => OsString::from_vec([&bytes[..at], port.as_bytes(), &bytes[at + 6..]].concat()),
        None => arg.clone(),
    }
}

fn run(imp: Imp, tool: &str, args: &[OsString], stdin: &[u8], script: &dyn Fn() -> Script) -> Run {
    let server = FakeServer::start(vec![script()]);
    let port = server.port().to_string();
    let args: Vec<OsString> = args.iter().map(|a| with_port(a, &port)).collect();
    let output = Command::new(imp, tool).args(&args).stdin_bytes(stdin).run();
    let report = server.finish();
    let received = report.conns.iter().flat_map(|c| c.received()).collect();
    Run { output, received }
}

/// Runs `tool` (the C oracle, then ours) with `args` and `stdin` against `script`.
pub fn same_as_c(
    name: &str,
    tool: &str,
    args: &[OsString],
    stdin: &[u8],
    script: impl Fn() -> Script,
) {
    let c = run(Imp::Oracle, tool, args, stdin, &script);
    let ours = run(Imp::Ours, tool, args, stdin, &script);
    assert!(
        !c.output.timed_out,
        "{name}: the C tool timed out — the case itself is wrong"
    );
    assert!(
        !ours.output.timed_out,
        "{name}: ours hung (killed after the timeout)"
    );
    // Byte-exact: a lossy view would hide a byte that became U+FFFD on one side.
    let same = |what: &str, ours: &[u8], c: &[u8]| {
        assert!(
            ours == c,
            "{name}: {what} differs from the C tool\nours: {:?}\nC:    {:?}",
            String::from_utf8_lossy(ours),
            String::from_utf8_lossy(c)
        );
    };
    same("stdout", &ours.output.stdout, &c.output.stdout);
    same("stderr", &ours.output.stderr, &c.output.stderr);
    assert_eq!(
        ours.output.code(),
        c.output.code(),
        "{name}: exit status differs from the C tool"
    );
    same("bytes sent to the server", &ours.received, &c.received);
}
