//! The real-server matrix is data (`tests/cases/lab/<server>/...`, one same-as-C case per
//! file, `server: lab`); here the checks on the matrix as a whole, and the self-tests of the
//! lab's normalisation and diff.

use crate::casefile::files;
use crate::engine::rust_test;
use crate::lab::{diff, normalise};
use libtest_mimic::Trial;
use std::path::Path;

/// `tool:` and `args:` of every lab case file.
fn lab_cases() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/lab");
    files(&root)
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("read a lab case");
            let value = |key: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(key))
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            };
            (value("tool:"), value("args:"))
        })
        .collect()
}

/// The matrix keeps covering every program name, the Cyrus-only ones with their own cases,
/// and the options that reach the servers.
fn matrix_covers_the_required_dimensions() {
    let cases = lab_cases();
    assert!(cases.len() >= 270, "only {} lab cases", cases.len());
    let count = |tool: &str| cases.iter().filter(|(t, _)| t == tool).count();
    for tool in ["imtest", "pop3test", "smtptest", "lmtptest", "sivtest"] {
        assert!(count(tool) > 0, "no case for {tool}");
    }
    let cyrus_only = ["nntptest", "httptest", "mupdatetest", "synctest"];
    assert!(cyrus_only.iter().map(|t| count(t)).sum::<usize>() >= 40);
    for tool in cyrus_only {
        assert!(count(tool) >= 8, "only {} cases for {tool}", count(tool));
    }
    for needle in [
        "-t \"\"",
        "-s ",
        "-m plain",
        "-m login",
        "-m cram-md5",
        "-m digest-md5",
        "-m scram-sha-1",
        "-m scram-sha-256",
        "-m user",
        "-m external",
        "-m otp",
        "-m apop",
        "-plus",
        "-u tim",
        "-r ",
        "-q ",
        "-n 2",
        "-H ",
        "-k ",
        "-l ",
        "-l 1",
        "-i ",
        "-v ",
        "tim.pem",
        "-w wrong",
    ] {
        assert!(
            cases.iter().any(|(_, a)| a.contains(needle)),
            "no lab case uses {needle:?}"
        );
    }
}

pub fn trials() -> Vec<Trial> {
    let tests: [(&str, fn()); 10] = [
        (
            "lab::matrix_covers_the_required_dimensions",
            matrix_covers_the_required_dimensions,
        ),
        (
            "lab::normalise::scram_fields",
            normalise::self_tests::scram_fields,
        ),
        (
            "lab::normalise::digest_and_cram",
            normalise::self_tests::digest_and_cram,
        ),
        (
            "lab::normalise::deterministic_payloads_stay",
            normalise::self_tests::deterministic_payloads_stay,
        ),
        (
            "lab::normalise::scram_plus",
            normalise::self_tests::scram_plus,
        ),
        (
            "lab::normalise::cyrus_values",
            normalise::self_tests::cyrus_values,
        ),
        (
            "lab::normalise::dovecot_values",
            normalise::self_tests::dovecot_values,
        ),
        (
            "lab::diff::equal_is_empty",
            diff::self_tests::equal_is_empty,
        ),
        (
            "lab::diff::one_change_with_context",
            diff::self_tests::one_change_with_context,
        ),
        (
            "lab::diff::insertions_deletions_and_separate_hunks",
            diff::self_tests::insertions_deletions_and_separate_hunks,
        ),
    ];
    tests.into_iter().map(|(n, f)| rust_test(n, f)).collect()
}
