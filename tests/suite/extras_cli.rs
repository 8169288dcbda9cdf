//! The command-line extras whose check needs Rust (the rest — `--exit-status` per stage and
//! without it, `--password-file`, `--password-fd 0`, `IMTEST_PASSWORD`, master's long-option
//! abbreviations — are case files: `tests/cases/lab/extras/cli/`, `tests/cases/extras/cli/`):
//! `--password-fd` on a descriptor the shell opened, and `--help-extras` against the man page.

use crate::lab::{lab, TIM};
use crate::support::run::{Command as Run, Imp, Input};
use crate::support::wire::text;

fn password_fd_from_an_inherited_descriptor() {
    let imap = lab().port("IMAP_PORT").to_string();
    let output = Run::new(Imp::Ours, "imtest")
        .line_on_fd(3, TIM.1)
        .args(["-a", TIM.0, "--password-fd", "3", "-m", "PLAIN"])
        .args(["-p", &imap, "127.0.0.1"])
        .run_lab();
    let out = text(&output.stdout);
    assert!(out.contains("\nAuthenticated.\n"), "{out}");
}

/// Every option `--help-extras` lists is documented in the man page, and the other way round.
fn help_extras_and_the_man_page_list_the_same_options() {
    let output = Run::new(Imp::Ours, "imtest")
        .arg("--help-extras")
        .stdin(Input::Null)
        .run();
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

pub fn trials() -> Vec<libtest_mimic::Trial> {
    crate::listed!(
        "extras/cli/",
        password_fd_from_an_inherited_descriptor,
        help_extras_and_the_man_page_list_the_same_options,
    )
}
