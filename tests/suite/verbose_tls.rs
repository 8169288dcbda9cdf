//! `-v` details of the TLS trace that byte comparison cannot reach (record contents and
//! addresses differ from run to run): what ours writes at the end of a session, and how a
//! failed read is dumped. Each check runs the C tool and ours and compares the part in
//! question with addresses and bytes masked.

use crate::lab::{self, TIM};
use crate::support::run::{Command, Imp, Output};
use crate::support::server::*;
use libtest_mimic::Trial;

/// The trace's record headers (`read from <bio> [<buf>] (n bytes => r (0xR))`) with the
/// addresses masked, and the other non-dump lines (normalised as in the differential tests),
/// from the first line starting with `from`.
fn trace_after(stdout: &[u8], from: &str) -> Vec<String> {
    let text = crate::lab::normalise::normalise(stdout);
    let mut lines = text.lines().skip_while(|l| !l.starts_with(from));
    let mut kept = Vec::new();
    for line in lines.by_ref() {
        let is_dump_row = line.len() >= 5
            && line.as_bytes()[..4].iter().all(u8::is_ascii_hexdigit)
            && line.as_bytes()[4] == b' ';
        if is_dump_row {
            continue;
        }
        let masked = match (line.find(' '), line.find(" (")) {
            (Some(_), Some(paren))
                if line.starts_with("read from ") || line.starts_with("write to ") =>
            {
                let verb = if line.starts_with("read") {
                    "read from"
                } else {
                    "write to"
                };
                format!("{verb} <bio> <buf>{}", &line[paren..])
            }
            _ => line.to_owned(),
        };
        kept.push(masked);
    }
    kept
}

fn no_close_notify_of_our_own_after_the_session() {
    let port = lab::lab().port("IMAPS_PORT").to_string();
    let run = |imp| -> Output {
        let _slot = lab::take_slot();
        Command::new(imp, "imtest")
            .args(["-v", "-s", "-p", &port, "-a", TIM.0, "-w", TIM.1])
            .args(["-m", "plain", "127.0.0.1"])
            .stdin_bytes(b"a1 NOOP\n")
            .run()
    };
    let (c, ours) = (run(Imp::Oracle), run(Imp::Ours));
    let c_tail = trace_after(&c.stdout, "Q01 OK");
    let ours_tail = trace_after(&ours.stdout, "Q01 OK");
    assert!(
        c_tail.last().is_some_and(|l| l == "Connection closed."),
        "C: {c_tail:?}"
    );
    assert!(
        !c_tail.iter().any(|l| l.starts_with("write to")),
        "the C tool wrote after the logout: {c_tail:?}"
    );
    assert_eq!(ours_tail, c_tail);
}

fn read_error_dump_prints_the_result_as_a_long() {
    let run = |imp| {
        let server = FakeServer::start(vec![vec![
            start_tls(&TlsConfig::simple(&crate::support::certs::certs().server)),
            pause_ms(100),
            run(|s| {
                s.reset();
                Ok(())
            }),
        ]]);
        let port = server.port().to_string();
        let out = Command::new(imp, "imtest")
            .args(["-v", "-s", "-p", &port, "127.0.0.1"])
            .stdin_bytes(b"")
            .run();
        server.finish();
        out
    };
    let (c, ours) = (run(Imp::Oracle), run(Imp::Ours));
    const FAILED_READ: &str = "bytes => -1 (0xFFFFFFFFFFFFFFFF))";
    let c_trace = trace_after(&c.stdout, "TLS connection established");
    assert!(
        c_trace.iter().any(|l| l.ends_with(FAILED_READ)),
        "C: {c_trace:?}"
    );
    assert_eq!(
        trace_after(&ours.stdout, "TLS connection established"),
        c_trace
    );
    assert_eq!(ours.stderr, c.stderr);
    assert_eq!(ours.code(), c.code());
}

pub fn trials() -> Vec<Trial> {
    crate::listed!(
        "verbose-tls/",
        no_close_notify_of_our_own_after_the_session,
        read_error_dump_prints_the_result_as_a_long,
    )
}
