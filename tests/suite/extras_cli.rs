//! The opt-in extras that are about the command line and the run as a whole, against the
//! real lab servers: `--exit-status` (one code per failure stage, and the C tool's codes
//! without it), the password sources (`--password-file`, `--password-fd`,
//! `IMTEST_PASSWORD`), `--help-extras` against the man page, and master's long-option
//! abbreviations, which our full-name-only options must leave alone.

use crate::lab::{lab, TIM};
use crate::support::run::{Command as Run, Imp, Input, Output};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn imap_port() -> String {
    lab().port("IMAP_PORT").to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn code(outcome: &Output) -> i32 {
    match outcome.status.code() {
        Some(code) => code,
        None => panic!("did not exit normally: {}", outcome.describe()),
    }
}

/// Ours with stdin from /dev/null, `env` added.
fn ours_direct(list: &[&str], env: &[(&str, &str)]) -> Output {
    let mut run = Run::new(Imp::Ours, "imtest").args(list).stdin(Input::Null);
    for (k, v) in env {
        run = run.env(k, v);
    }
    run.run_lab()
}

fn imtest(tool: Imp, list: &[&str], stdin: &str) -> Output {
    Run::new(tool, "imtest")
        .args(args(list))
        .stdin_bytes(stdin)
        .timeout(LIMIT)
        .run_lab()
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port().to_string()
}

/// A server that sends an IMAP greeting, reads one command and closes.
fn greeting_then_close() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let _ = conn.write_all(b"* OK fake\r\n");
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = conn.read(&mut [0u8; 512]);
        }
    });
    port
}

/// (case, arguments, stdin, stage code, whether a server is needed per run)
fn stage_cases() -> Vec<(&'static str, Vec<String>, &'static str, i32)> {
    let imap = imap_port();
    vec![
        (
            "success",
            args(&[
                "-a",
                TIM.0,
                "-w",
                TIM.1,
                "-m",
                "PLAIN",
                "-p",
                &imap,
                "127.0.0.1",
            ]),
            "",
            0,
        ),
        (
            "connect",
            args(&["-w", "x", "-p", &closed_port(), "127.0.0.1"]),
            "",
            2,
        ),
        (
            "tls",
            args(&["-s", "-w", "x", "-p", &imap, "127.0.0.1"]),
            "",
            3,
        ),
        (
            "auth",
            args(&[
                "-a",
                TIM.0,
                "-w",
                "wrong",
                "-m",
                "PLAIN",
                "-p",
                &imap,
                "127.0.0.1",
            ]),
            "",
            4,
        ),
    ]
}

fn exit_status_gives_one_code_per_stage_and_nothing_changes_without_it() {
    for (case, list, stdin, stage) in stage_cases() {
        let plain: Vec<&str> = list.iter().map(String::as_str).collect();
        let c = imtest(Imp::Oracle, &plain, stdin);
        let ours = imtest(Imp::Ours, &plain, stdin);
        assert_eq!(
            code(&ours),
            code(&c),
            "{case}: without --exit-status, C's code"
        );
        let mut with = vec!["--exit-status"];
        with.extend(&plain);
        let ours = imtest(Imp::Ours, &with, stdin);
        assert_eq!(
            code(&ours),
            stage,
            "{case}: --exit-status\n{}{}",
            text(&ours.stdout),
            text(&ours.stderr)
        );
    }
}

fn exit_status_protocol_stage_when_the_server_goes_away() {
    let c = imtest(
        Imp::Oracle,
        &["-w", "x", "-p", &greeting_then_close(), "127.0.0.1"],
        "",
    );
    let ours = imtest(
        Imp::Ours,
        &["-w", "x", "-p", &greeting_then_close(), "127.0.0.1"],
        "",
    );
    assert_eq!(code(&ours), code(&c));
    assert_eq!(ours.stderr, c.stderr);
    let port = greeting_then_close();
    let ours = imtest(
        Imp::Ours,
        &["--exit-status", "-w", "x", "-p", &port, "127.0.0.1"],
        "",
    );
    assert_eq!(text(&ours.stderr), "failure: prot layer failure\n");
    assert_eq!(code(&ours), 5);
}

fn authenticated(outcome: &Output) -> bool {
    text(&outcome.stdout).contains("\nAuthenticated.\n")
}

fn scratch_file(name: &str, contents: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("imtest-extras-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn password_file_logs_in_and_a_wrong_one_does_not() {
    let good = scratch_file("good", format!("{}\n", TIM.1).as_bytes());
    let bad = scratch_file("bad", b"nope\n");
    let imap = imap_port();
    for (file, expected) in [(&good, true), (&bad, false)] {
        let ours = imtest(
            Imp::Ours,
            &[
                "-a",
                TIM.0,
                "--password-file",
                file.to_str().unwrap(),
                "-m",
                "PLAIN",
                "-p",
                &imap,
                "127.0.0.1",
            ],
            "",
        );
        assert_eq!(authenticated(&ours), expected, "{}", text(&ours.stdout));
    }
}

fn password_fd_zero_reads_one_line_and_leaves_the_rest_of_stdin() {
    let imap = imap_port();
    let stdin = format!("{}\na1 NOOP\n", TIM.1);
    let ours = imtest(
        Imp::Ours,
        &[
            "-a",
            TIM.0,
            "--password-fd",
            "0",
            "-m",
            "PLAIN",
            "-p",
            &imap,
            "127.0.0.1",
        ],
        &stdin,
    );
    let out = text(&ours.stdout);
    assert!(authenticated(&ours), "{out}");
    assert!(out.contains("a1 OK NOOP completed"), "{out}");
}

fn password_fd_from_an_inherited_descriptor() {
    let file = scratch_file("fd3", format!("{}\n", TIM.1).as_bytes());
    let imap = imap_port();
    let output = Run::new(Imp::Ours, "imtest")
        .under(["sh", "-c", "exec \"$@\" 3<\"$PWFILE\"", "sh"])
        .args([
            "-a",
            TIM.0,
            "--password-fd",
            "3",
            "-m",
            "PLAIN",
            "-p",
            &imap,
            "127.0.0.1",
        ])
        .env("PWFILE", &file)
        .stdin(Input::Null)
        .run_lab();
    let out = text(&output.stdout);
    assert!(out.contains("\nAuthenticated.\n"), "{out}");
    let output = ours_direct(&["--password-fd", "9", "-p", &imap, "127.0.0.1"], &[]);
    assert_eq!(
        text(&output.stderr),
        "failure: --password-fd: cannot read descriptor 9: Bad file descriptor\n"
    );
    assert_eq!(output.status.code(), Some(1));
}

fn imtest_password_is_used_only_when_no_other_source_is_given() {
    let imap = imap_port();
    let run_env = |extra: &[&str]| {
        let mut list = vec!["-a", TIM.0, "-m", "PLAIN", "-p", &imap];
        list.extend(extra);
        list.push("127.0.0.1");
        let output = ours_direct(&list, &[("IMTEST_PASSWORD", TIM.1)]);
        text(&output.stdout)
    };
    assert!(run_env(&[]).contains("\nAuthenticated.\n"));
    // -w wins over the environment.
    assert!(run_env(&["-w", "wrong"]).contains("Authentication failed."));
}

fn two_password_sources_are_refused() {
    let file = scratch_file("two", b"x\n");
    let output = ours_direct(
        &["-w", "x", "--password-file", file.to_str().unwrap(), "host"],
        &[],
    );
    assert_eq!(
        text(&output.stderr),
        "failure: give the password one way only: -w, --password-fd or --password-file\n"
    );
    assert_eq!(output.status.code(), Some(1));
}

/// Every option `--help-extras` lists is documented in the man page, and the other way round.
fn help_extras_and_the_man_page_list_the_same_options() {
    let output = ours_direct(&["--help-extras"], &[]);
    assert_eq!(output.status.code(), Some(0));
    let help = text(&output.stdout);
    let names = |text: &str| {
        let mut names: Vec<String> = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '\\'))
            .map(|w| w.replace("\\-", "-"))
            .filter(|w| w.starts_with("--") && w.len() > 3)
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let listed = names(&help);
    assert!(listed.len() >= 25, "{listed:?}");
    let man =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/imtest.1")).unwrap();
    let man_section = man
        .split(".SH \"OPTIONS ADDED BY IMTEST-RS\"")
        .nth(1)
        .expect("man page section OPTIONS ADDED BY IMTEST-RS")
        .split("\n.SH ")
        .next()
        .unwrap();
    // The section also names master's --password (and its abbreviation --pass).
    let documented: Vec<String> = names(man_section)
        .into_iter()
        .filter(|n| n != "--pass" && n != "--password")
        .collect();
    assert_eq!(documented, listed);
}

fn master_abbreviations_are_unchanged_by_our_full_name_options() {
    // --ver and --v are --verbose, as in master: neither our --verify nor our --version
    // (both taken only when spelled in full) makes them ambiguous.
    for short in ["--ver", "--v"] {
        let output = ours_direct(&[short, "-h"], &[]);
        assert_eq!(text(&output.stderr), "", "{short}");
        assert!(text(&output.stdout).starts_with("Usage: "), "{short}");
    }
    // --passw still abbreviates --password although --password-fd/-file exist.
    let imap = imap_port();
    let ours = imtest(
        Imp::Ours,
        &[
            "-a",
            TIM.0,
            "--passw",
            TIM.1,
            "-m",
            "PLAIN",
            "-p",
            &imap,
            "127.0.0.1",
        ],
        "",
    );
    assert!(authenticated(&ours), "{}", text(&ours.stderr));
    // An abbreviation of one of ours is not ours: getopt rejects it, as master would.
    let output = ours_direct(&["--verif", "host"], &[]);
    assert!(text(&output.stderr).starts_with("imtest: unrecognized option '--verif'"));
    assert_eq!(output.status.code(), Some(1));
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    crate::listed!(
        "extras/cli/",
        exit_status_gives_one_code_per_stage_and_nothing_changes_without_it,
        exit_status_protocol_stage_when_the_server_goes_away,
        password_file_logs_in_and_a_wrong_one_does_not,
        password_fd_zero_reads_one_line_and_leaves_the_rest_of_stdin,
        password_fd_from_an_inherited_descriptor,
        imtest_password_is_used_only_when_no_other_source_is_given,
        two_password_sources_are_refused,
        help_extras_and_the_man_page_list_the_same_options,
        master_abbreviations_are_unchanged_by_our_full_name_options,
    )
}
