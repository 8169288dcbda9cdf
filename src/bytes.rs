//! Small helpers over byte strings that several modules share: the C library's ways of
//! reading them (a C string ends at its NUL, `atoi`), and the case-insensitive tests the
//! protocol code uses.

/// Bytes up to the first NUL, as `printf("%s")` would print them.
pub fn c_str(bytes: &[u8]) -> &[u8] {
    match find_byte(0, bytes) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

/// The first position of `needle` in `haystack` (libc's memchr: relayed data is scanned for
/// NUL and LF on every piece).
pub fn find_byte(needle: u8, haystack: &[u8]) -> Option<usize> {
    crate::ffi::sys::memchr(needle, haystack)
}

/// Case-insensitive prefix test (end-of-response and reply checks).
pub fn starts_with_ci(line: &[u8], prefix: &str) -> bool {
    line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Case-insensitive substring test (`-m` against the advertised list).
pub fn contains_ci(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// glibc `atoi`: `(int) strtol(s, NULL, 10)` — leading white space, an optional sign, decimal
/// digits up to the first other byte; no digits gives 0; out of `long` range saturates, and the
/// `long` is then truncated to its low 32 bits.
pub fn atoi(s: &[u8]) -> i32 {
    let mut rest = s;
    while let [b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r', tail @ ..] = rest {
        rest = tail;
    }
    let negative = match rest {
        [b'-', tail @ ..] => {
            rest = tail;
            true
        }
        [b'+', tail @ ..] => {
            rest = tail;
            false
        }
        _ => false,
    };
    // Anything past 2^64 saturates anyway, so the magnitude is capped there.
    let cap: i128 = 1 << 64;
    let mut magnitude: i128 = 0;
    for &b in rest.iter().take_while(|b| b.is_ascii_digit()) {
        magnitude = (magnitude * 10 + i128::from(b - b'0')).min(cap);
    }
    let value = if negative { -magnitude } else { magnitude };
    let long = value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    long as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_follows_glibc() {
        let cases: [(&str, i32); 18] = [
            ("", 0),
            ("abc", 0),
            ("12abc", 12),
            ("  -7", -7),
            ("+5", 5),
            ("\t\n\x0b\x0c\r 42", 42),
            ("- 5", 0),
            ("+-5", 0),
            ("0x10", 0),
            ("007", 7),
            ("2147483647", i32::MAX),
            ("2147483648", i32::MIN),
            ("4294967297", 1),
            ("-4294967295", 1),
            ("99999999999999999999", -1),
            ("9223372036854775807", -1),
            ("-99999999999999999999", 0),
            ("-9223372036854775807", 1),
        ];
        for (input, expected) in cases {
            assert_eq!(atoi(input.as_bytes()), expected, "atoi({input:?})");
        }
    }

    #[test]
    fn prefix_and_substring_helpers() {
        assert!(starts_with_ci(b"a01 ok done", "A01 OK"));
        assert!(!starts_with_ci(b"A0", "A01"));
        assert!(contains_ci(b"PLAIN  LOGIN\r\n", b"login"));
        assert!(!contains_ci(b"PLAIN", b"CRAM"));
    }

    #[test]
    fn c_str_cuts_at_nul() {
        assert_eq!(c_str(b"ab\0cd"), b"ab");
        assert_eq!(c_str(b"\0ab\0"), b"");
        let mut long = vec![b'x'; 5000];
        long[4097] = 0;
        assert_eq!(c_str(&long).len(), 4097);
        assert_eq!(c_str(b"abc"), b"abc");
        assert_eq!(c_str(b"\0"), b"");
        assert_eq!(c_str(b""), b"");
    }
}
