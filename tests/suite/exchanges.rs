//! The exchanges of the other program names that need Rust logic (the rest, multi-step SASL
//! in every framing and the security layers among them, are files in `tests/cases/<topic>/`):
//! HTTP SCRAM end to end against the libsasl2 server (3.6.1 fails where master logs in), and
//! sieve's bounded wait for a challenge literal (ours only, 30 s).

use crate::engine::{rust_test, Case};
use crate::mechanism::{authenticated, mask_sasl};
use crate::support::run::{Command, Imp};
use crate::support::sasl_server::*;
use crate::support::server::*;
use crate::support::wire::{diff, show, spec_text};
use libtest_mimic::Trial;

const ARGS: [&str; 7] = ["-p", "{PORT}", "-a", "tim", "-w", "x", "127.0.0.1"];

fn args(before: &[&'static str]) -> Vec<&'static str> {
    before.iter().copied().chain(ARGS).collect()
}

/// A fresh sasldb with `tim`/`x` (realm EXAMPLE) per run.
fn cfg() -> ServerConfig {
    ServerConfig::new(&SaslDb::create("EXAMPLE", &[("tim", "x")]))
}

// ------------------------------------------------------------------------------------------
// HTTP SCRAM end to end (docs/behaviour.md §6.6, §10.23). Ours parses `data=` the way upstream
// master does and completes the exchange with a libsasl2 server; the C 3.6 tool keeps the CR LF in
// the value, so every padded base64 value fails to decode (`base64 decoding error: -5`) and it
// never authenticates. Not a differential case: the `oracle` test documents 3.6's failure,
// the `ours` test pins master's behaviour.

fn http_scram_case() -> Case {
    Case::new("http SCRAM-SHA-256 end to end", "httptest")
        .args(&args(&["-u", "tim"]))
        .server(|| {
            vec![vec![
                expect_line("OPTIONS * HTTP/1.1\r\n"),
                expect_line("Host: 127.0.0.1\r\n"),
                expect_line("User-Agent: httptest\r\n"),
                expect_line("\r\n"),
                send("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: SCRAM-SHA-256 realm=\"fake\"\r\nContent-Length: 0\r\n\r\n"),
                http_sasl(&cfg(), "c2lk"),
            ]]
        })
        .normalise(mask_sasl)
}

mod h01_http_scram_end_to_end {
    use super::*;

    pub fn oracle() {
        let o = http_scram_case().observe(Imp::Oracle);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains("base64 decoding error: -5\nAuthentication failed. generic failure\n")
                && o.out.code() == 0,
            "the C 3.6 tool was expected to fail on the padded data= value:\n{}",
            o.out.describe()
        );
    }

    pub fn ours() {
        let mut o = http_scram_case().observe(Imp::Ours);
        authenticated("tim@EXAMPLE".into(), 0)(&mut o);
        let want = spec_text(include_str!(
            "../cases/http/expected/h01_http_scram_end_to_end.stdout"
        ));
        assert!(
            o.stdout == want && o.out.code() == 0 && o.stderr.is_empty(),
            "{}",
            diff("stdout", &show(&want), &show(&o.stdout))
        );
    }
}

fn sieve_caps() -> Step {
    send("\"IMPLEMENTATION\" \"Fake\"\r\n\"SASL\" \"PLAIN\"\r\n\"VERSION\" \"1.0\"\r\nOK\r\n")
}

/// The bound itself, end to end with the production value (30 s; it runs in parallel with
/// the other cases). The C tool would still be waiting; ours shows the same lines, then gives
/// up with one `failure:` line and exit status 1.
fn q03_sieve_quoted_challenge_silent_server_gives_up() {
    use std::time::Duration;
    let server = FakeServer::start(vec![vec![
        sieve_caps(),
        expect_line("AUTHENTICATE \"PLAIN\"\r\n"),
        send("\"cmVhbG0=\"\r\n"),
        run(|s| {
            // Silent, but still there: wait (past the client's bound) for it to go away.
            s.set_timeout(Duration::from_secs(40));
            Ok(())
        }),
        discard_to_eof(),
    ]]);
    let port = server.port().to_string();
    let out = Command::new(Imp::Ours, "sivtest")
        .args(["-i", "-p", &port, "-a", "tim", "-w", "x", "127.0.0.1"])
        .timeout(Duration::from_secs(45))
        .run();
    let report = server.finish();
    assert_eq!(
        show(&out.stdout),
        show(&spec_text(
            r#"S: "IMPLEMENTATION" "Fake"\r
S: "SASL" "PLAIN"\r
S: "VERSION" "1.0"\r
S: OK\r
C: AUTHENTICATE "PLAIN"\r
S: "cmVhbG0="\r
"#
        ))
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "failure: no SASL challenge literal from the server within 30 seconds\n"
    );
    assert_eq!(out.code(), 1);
    assert!(
        out.elapsed >= Duration::from_secs(30) && out.elapsed < Duration::from_secs(35),
        "gave up after {:?}",
        out.elapsed
    );
    assert!(report.errors().is_empty(), "{:?}", report.errors());
}

/// This module's listed tests.
pub fn trials() -> Vec<Trial> {
    vec![
        rust_test(
            "http/h01_http_scram_end_to_end::oracle",
            h01_http_scram_end_to_end::oracle,
        ),
        rust_test(
            "http/h01_http_scram_end_to_end::ours",
            h01_http_scram_end_to_end::ours,
        ),
        rust_test(
            "sieve/q03_sieve_quoted_challenge_silent_server_gives_up",
            q03_sieve_quoted_challenge_silent_server_gives_up,
        ),
    ]
}
