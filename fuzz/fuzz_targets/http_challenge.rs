//! HTTP `WWW-Authenticate:` / `Authentication-Info:` headers: the first byte picks the scheme
//! and whether parameters (SCRAM's `data=`, `sid=`) are used; the rest is a sequence of header
//! lines sharing one session id, as in one exchange.
#![no_main]

use imtest::parsers;
use libfuzzer_sys::fuzz_target;

const SCHEMES: [&str; 6] = [
    "Basic",
    "Digest",
    "Negotiate",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "Bearer",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let scheme = SCHEMES[usize::from(pick >> 1) % SCHEMES.len()];
    let params = pick & 1 == 1;
    let headers: Vec<&[u8]> = rest.split_inclusive(|&b| b == b'\n').take(8).collect();
    let results = parsers::http_challenges(&headers, scheme, params);
    assert_eq!(results.len(), headers.len());
    for (header, result) in headers.iter().zip(results) {
        if let Ok(Some(token)) = result {
            assert!(
                token.is_empty() || header.windows(token.len()).any(|w| w == token),
                "challenge not taken from its header"
            );
            assert!(!token
                .iter()
                .any(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')));
        }
    }
});
