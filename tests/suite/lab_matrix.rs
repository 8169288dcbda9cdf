//! The real-server matrix is data (`tests/cases/lab/<server>/...`, one same-as-C case per
//! file, `server: lab`); here the checks on the matrix as a whole, and the self-tests of the
//! lab's normalisation and diff.

use crate::casefile::{files, unescape};
use crate::engine::rust_test_with;
use crate::lab::{diff, normalise};
use crate::support::wire::b64encode;
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
    let needles = include_str!("../cases/lab/expected/matrix-options.txt");
    for needle in needles.lines().filter(|l| !l.starts_with('#')) {
        let needle = String::from_utf8(unescape(needle).unwrap()).unwrap();
        assert!(
            cases.iter().any(|(_, a)| a.contains(&needle)),
            "no lab case uses {needle:?}"
        );
    }
}

/// `tests/cases/lab-normalise/NAME.txt` (see the README there): each input normalises to the
/// line after it.
fn normalise_table(name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/lab-normalise");
    let text = std::fs::read_to_string(dir.join(format!("{name}.txt"))).expect("read a table");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(
        !lines.is_empty() && lines.len() % 2 == 0,
        "{name}: pairs of lines"
    );
    for pair in lines.chunks(2) {
        let mut input = String::from_utf8(unescape(pair[0]).unwrap()).unwrap();
        // `[[...]]` is the base64 of what it holds, innermost first.
        while let Some(end) = input.find("]]") {
            let start = input[..end].rfind("[[").expect("[[ before ]]");
            let encoded = b64encode(&input.as_bytes()[start + 2..end]);
            input.replace_range(start..end + 2, &encoded);
        }
        let expected = String::from_utf8(unescape(pair[1]).unwrap()).unwrap();
        assert_eq!(
            normalise::normalise(input.as_bytes()),
            expected,
            "{name}: {}",
            pair[0]
        );
    }
}

pub fn trials() -> Vec<Trial> {
    let mut tests = crate::listed!("lab::", matrix_covers_the_required_dimensions);
    for name in [
        "scram_fields",
        "digest_and_cram",
        "deterministic_payloads_stay",
        "scram_plus",
        "cyrus_values",
        "dovecot_values",
    ] {
        let test = move || normalise_table(name);
        tests.push(rust_test_with(&format!("lab::normalise::{name}"), test));
    }
    use diff::self_tests::*;
    tests.extend(crate::listed!(
        "lab::diff::",
        equal_is_empty,
        one_change_with_context,
        insertions_deletions_and_separate_hunks,
    ));
    tests
}
