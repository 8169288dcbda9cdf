//! One reply line to a SASL step, classified by each protocol's framing (the first byte picks
//! the protocol): success with or without data, failure, a challenge (base64 through
//! libsasl2's decoder), an untagged line, or a literal header.
#![no_main]

use imtest::parsers::{self, SaslReply};
use libfuzzer_sys::fuzz_target;

const KEYS: [&str; 9] = [
    "imap", "pop3", "lmtp", "smtp", "mupdate", "sieve", "csync", "http", "nntp",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, line)) = data.split_first() else {
        return;
    };
    let key = KEYS[usize::from(pick) % KEYS.len()];
    let Some(reply) = parsers::sasl_reply(key, line) else {
        assert_eq!(key, "http", "only HTTP has no SASL command");
        return;
    };
    match reply {
        SaslReply::Literal(_) => assert!(matches!(key, "sieve" | "mupdate")),
        SaslReply::Success(Some(_)) => assert!(matches!(key, "sieve" | "nntp")),
        SaslReply::Untagged => assert!(line.starts_with(b"*")),
        SaslReply::Challenge(Some(decoded)) => assert!(decoded.len() <= line.len()),
        _ => {}
    }
});
