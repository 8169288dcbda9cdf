//! The integration suite: one test binary. Every case file under `tests/cases/` is a listed
//! test (see `tests/README.md`); the modules below hold the cases that need Rust logic.
//! Select by name like any libtest binary: `cargo test --test suite -- pop3/` runs every POP3
//! case, `-- --list` lists them all; several filters select what any of them selects.

mod support;

// The real-server lab (Dovecot, Postfix, Cyrus), shared with the binaries not yet in the suite.
#[path = "../lab/mod.rs"]
#[allow(unused_imports)]
mod lab;

/// The listed tests of a module's Rust functions: `listed!("topic/", f, g)` names them
/// `topic/f`, `topic/g`; `listed!(cases "topic/", f, g)` for functions that build an engine
/// `Case` (`engine::rust_case`: two tests each for the text and mechanism cases).
#[macro_export]
macro_rules! listed {
    ($prefix:literal, $($f:ident),+ $(,)?) => {
        vec![$($crate::engine::rust_test(concat!($prefix, stringify!($f)), $f)),+]
    };
    (cases $prefix:literal, $($f:ident),+ $(,)?) => {
        [$($crate::engine::rust_case(concat!($prefix, stringify!($f)), $f)),+]
            .into_iter()
            .flatten()
            .collect()
    };
}

mod bad_input;
mod casefile;
mod cli;
mod compress;
mod daemon;
mod deviations;
mod engine;
mod exchanges;
mod extras_cli;
mod extras_connect;
mod extras_oauth;
mod extras_tls;
mod hardening;
mod imap;
mod lab_matrix;
mod mechanism;
mod mechanisms;
mod partial_lines;
mod sasl_math;
mod secrets;
mod valgrind;
mod verbose_tls;

use libtest_mimic::{Arguments, Trial};

/// Parallel tests when neither `--test-threads` nor `RUST_TEST_THREADS` says: most of a
/// case's time is spent waiting for the tools and the fake servers, not computing.
const DEFAULT_THREADS: usize = 6;

/// Options of the libtest command line that take a value (the rest are flags or filters).
const WITH_VALUE: &str = "--test-threads --skip --format --logfile --color -Z";

fn all_tests() -> Vec<Trial> {
    let mut tests: Vec<Trial> = casefile::all_trials();
    tests.extend(casefile::self_tests());
    tests.extend(support::wire::self_tests());
    tests.extend(bad_input::trials());
    tests.extend(compress::trials());
    tests.extend(imap::trials());
    tests.extend(exchanges::trials());
    tests.extend(mechanisms::trials());
    tests.extend(valgrind::trials());
    tests.extend(daemon::trials());
    tests.extend(extras_cli::trials());
    tests.extend(extras_connect::trials());
    tests.extend(extras_oauth::trials());
    tests.extend(extras_tls::trials());
    tests.extend(hardening::trials());
    tests.extend(secrets::trials());
    tests.extend(verbose_tls::trials());
    tests.extend(partial_lines::trials_all());
    tests.extend(lab_matrix::trials());
    tests.extend(cli::trials());
    tests
}

fn main() {
    // libtest takes any number of name filters, libtest-mimic one: keep the options for it
    // and apply the filters here.
    let mut options = Vec::new();
    let mut filters = Vec::new();
    let mut argv = std::env::args();
    options.extend(argv.next());
    while let Some(a) = argv.next() {
        if WITH_VALUE.split(' ').any(|option| option == a) {
            options.push(a);
            options.extend(argv.next());
        } else if a.starts_with('-') {
            options.push(a);
        } else {
            filters.push(a);
        }
    }
    let mut args = Arguments::from_iter(options);
    if args.test_threads.is_none() {
        let env = std::env::var("RUST_TEST_THREADS").ok();
        args.test_threads = Some(env.and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_THREADS));
    }
    let mut tests = all_tests();
    if !filters.is_empty() {
        let exact = args.exact;
        tests.retain(|t| {
            filters.iter().any(|f| {
                if exact {
                    t.name() == f
                } else {
                    t.name().contains(f.as_str())
                }
            })
        });
    }
    tests.sort_by(|a, b| a.name().cmp(b.name()));
    libtest_mimic::run(&args, tests).exit();
}
