//! Capability responses (and greetings that are one) of every protocol: the first byte picks
//! the protocol key, the rest is split into lines after each LF, as the line reader hands them.
#![no_main]

use imtest::parsers;
use libfuzzer_sys::fuzz_target;

const KEYS: [&str; 9] = [
    "imap", "pop3", "lmtp", "smtp", "mupdate", "sieve", "csync", "http", "nntp",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let key = KEYS[usize::from(pick) % KEYS.len()];
    let lines: Vec<&[u8]> = rest.split_inclusive(|&b| b == b'\n').collect();
    let mechs = parsers::capability_lines(key, &lines).expect("a known protocol");
    // The mechanism list is made of the lines' own bytes (HTTP adds one space per scheme).
    assert!(
        mechs.len() <= 2 * rest.len() + 1,
        "{key}: list longer than its input"
    );
    assert!(!mechs.contains(&0), "{key}: NUL in the mechanism list");
});
