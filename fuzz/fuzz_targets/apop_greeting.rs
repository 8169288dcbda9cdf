//! The POP3 greeting's APOP challenge: whatever it finds is a `<...@...>` piece of the line.
#![no_main]

use imtest::parsers;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    if let Some(challenge) = parsers::apop_challenge(line) {
        assert!(challenge.starts_with(b"<") && challenge.ends_with(b">"));
        assert!(challenge.contains(&b'@'));
        assert!(!challenge.contains(&0));
        assert!(
            line.windows(challenge.len()).any(|w| w == challenge),
            "challenge not taken from the line"
        );
    }
});
