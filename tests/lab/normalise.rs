//! Normalisation of the tools' output before comparing: replaces exactly the values that
//! differ from one run to the next against the same server, nothing else (`normalise: lab`
//! in a case file). The `::c-stable` test of every lab case (`tests/cases/lab/`) proves it is
//! enough: the C tool run twice on the case compares equal after it.
//!
//! What is normalised, and why:
//!
//! 1. **SASL payloads of nonce-bearing mechanisms.** A whitespace-separated token (optionally
//!    in double quotes, as ManageSieve sends challenges) that is strict base64 and decodes to
//!    printable ASCII of one of the forms below is shown decoded as `b64{...}` with only the
//!    random fields replaced; everything else in it (user names, gs2 header, authzid, realm,
//!    qop, maxbuf, digest-uri, iteration count...) is still compared:
//!    * SCRAM-SHA-1/-256 (RFC 5802): `r=` (client and server nonce), `s=` (salt: Dovecot
//!      derives {PLAIN} passwords with a fresh salt each time), `p=` (proof), `v=` (server
//!      signature) — all depend on the nonces.
//!    * DIGEST-MD5 (RFC 2831): `nonce`, `cnonce`, `response`, `rspauth`.
//!    * CRAM-MD5 (RFC 2195): the challenge `<random.time@host>` and the HMAC in the reply.
//!
//!    Other tokens are left alone: PLAIN, LOGIN, EXTERNAL and APOP payloads are the same in
//!    every run (APOP's digest is over the host name when the banner has no challenge,
//!    docs/behaviour.md §6.4; see 5 for one that has), and a token that is
//!    not strict base64 (say, a wrongly padded one from our tool) stays as it is and shows
//!    up in the diff.
//!    * OTP (RFC 2444): the sequence number of the challenge `otp-md5 <seq> <seed> ext`
//!      (it goes down with every login) and the one-time password of the reply.
//!
//!    The same payloads in HTTP headers (Cyrus httpd): SCRAM as `sid=...,data=<base64>`
//!    (the session id `sid` varies too) and DIGEST-MD5 in the clear after `Digest `
//!    (`WWW-Authenticate`, `Authorization`) or `Authentication-Info: `.
//! 2. **Command timing** at the end of tagged replies → `(<t> secs)`: Dovecot's
//!    `(0.001 + 0.000 secs)` or `(0.001 + 0.000 + 0.001 secs)`, Cyrus's
//!    `(0.001 secs 10 calls)`.
//! 3. **Dovecot's time stamp** `[YYYY-MM-DD HH:MM:SS]` in "internal error" replies.
//! 4. **Cyrus's session ids** `SESSIONID=<...>`, and the HTTP header values `Date:` and
//!    `Expires:` (the served page has a fixed mtime, so `ETag` and `Last-Modified` stay).
//! 5. **APOP** (Cyrus pop3d): the banner's challenge `<...@host>` and, when the output has
//!    such a challenge, the digest of `APOP <user> <digest>` computed from it.
//!
//! Not normalised, because it does not vary between the runs being compared (both tools talk
//! to the same lab in the same test process): ports, host names, UIDVALIDITY, mailbox
//! contents, certificates and verify errors, TLS version and cipher, session resumption.
//! Dovecot's session ids appear only in its log, never in replies.

/// `bytes` as text (invalid UTF-8 as `\xNN`), normalised line by line.
pub fn normalise(bytes: &[u8]) -> String {
    let text = readable(bytes);
    let apop = apop_challenge(&text);
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body_len = line
            .strip_suffix("\r\n")
            .or_else(|| line.strip_suffix('\n'))
            .map_or(line.len(), str::len);
        let (body, end) = line.split_at(body_len);
        let body = sasl_tokens(body);
        let body = dovecot_timing(&body);
        let body = dovecot_stamp(&body);
        let body = cyrus_values(&body);
        let body = match &apop {
            Some(challenge) => apop_values(&body, challenge),
            None => body,
        };
        out.push_str(&body);
        out.push_str(end);
    }
    out
}

/// Text with every byte kept: valid UTF-8 as is, other bytes as `\xNN`.
pub fn readable(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        for byte in chunk.invalid() {
            text.push_str(&format!("\\x{byte:02x}"));
        }
    }
    text
}

// --- 1. SASL payloads ----------------------------------------------------------------------

fn sasl_tokens(line: &str) -> String {
    // DIGEST-MD5 in the clear in HTTP headers: everything after the scheme.
    for marker in ["Digest ", "Authentication-Info: "] {
        if let Some(at) = line.find(marker) {
            let (head, rest) = line.split_at(at + marker.len());
            if let Some(n) = sasl_text(rest) {
                return format!("{head}{n}");
            }
        }
    }
    line.split(' ')
        .map(|token| match http_scram_params(token) {
            Some(n) => n,
            None => sasl_token(token),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// HTTP SCRAM parameters `[sid=<id>,]data=<base64>`: the sid masked, the data as a token.
fn http_scram_params(token: &str) -> Option<String> {
    if !token.starts_with("sid=") && !token.starts_with("data=") {
        return None;
    }
    let params: Vec<String> = token
        .split(',')
        .map(|p| {
            if p.starts_with("sid=") {
                "sid=<sid>".to_owned()
            } else if let Some(data) = p.strip_prefix("data=") {
                format!("data={}", sasl_token(data))
            } else {
                p.to_owned()
            }
        })
        .collect();
    Some(params.join(","))
}

fn sasl_token(token: &str) -> String {
    // Sieve success data: `OK (SASL "<base64>")`.
    if let Some(inner) = token.strip_suffix(')') {
        if inner.starts_with('"') {
            return format!("{})", sasl_token(inner));
        }
    }
    let (quote, core) = match token.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => ("\"", inner),
        None => ("", token),
    };
    // Short words ("NOOP", "+OK") can be valid base64 by accident; payloads are longer.
    if core.len() < 8 {
        return token.to_owned();
    }
    let decoded = match base64_strict(core) {
        Some(d) if d.iter().all(|b| (0x20..0x7f).contains(b)) => {
            String::from_utf8(d).expect("printable ASCII")
        }
        _ => return token.to_owned(),
    };
    match sasl_text(&decoded) {
        Some(n) => format!("{quote}b64{{{n}}}{quote}"),
        None => token.to_owned(),
    }
}

/// The normalised form of a decoded SASL payload, or `None` if it carries nothing random.
fn sasl_text(text: &str) -> Option<String> {
    // CRAM-MD5 challenge: <random.timestamp@hostname>
    if text.starts_with('<') && text.ends_with('>') && text.contains('@') {
        return Some("<cram-md5 challenge>".to_owned());
    }
    // CRAM-MD5 response: "user <32 hex digits>"
    if let Some((user, hmac)) = text.rsplit_once(' ') {
        if hmac.len() == 32 && hmac.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some(format!("{user} <hmac>"));
        }
    }
    // OTP challenge `otp-<alg> <seq> <seed> ext` and reply `<hex|word|init-...>:<otp>`.
    let words: Vec<&str> = text.split(' ').collect();
    if words.len() >= 3
        && words[0].starts_with("otp-")
        && words[1].bytes().all(|b| b.is_ascii_digit())
    {
        let mut masked = words.clone();
        masked[1] = "<seq>";
        return Some(masked.join(" "));
    }
    for kind in ["hex:", "word:", "init-hex:", "init-word:"] {
        if text.starts_with(kind) {
            return Some(format!("{kind}<otp>"));
        }
    }
    // DIGEST-MD5: key=value or key="value" pairs.
    let pairs = digest_pairs(text);
    if pairs.iter().any(|(k, _)| matches!(*k, "nonce" | "rspauth")) {
        let rebuilt: Vec<String> = pairs
            .iter()
            .map(|(k, v)| match *k {
                "nonce" | "cnonce" | "response" | "rspauth" => {
                    let quoted = v.starts_with('"');
                    let q = if quoted { "\"" } else { "" };
                    format!("{k}={q}<{k}>{q}")
                }
                _ => format!("{k}={v}"),
            })
            .collect();
        return Some(rebuilt.join(","));
    }
    // SCRAM: comma-separated attributes; r= in the first three messages, v= alone last.
    let attrs: Vec<&str> = text.split(',').collect();
    let is_scram =
        attrs.iter().any(|a| a.starts_with("r=")) || (attrs.len() == 1 && text.starts_with("v="));
    if is_scram {
        let rebuilt: Vec<String> = attrs
            .iter()
            .enumerate()
            .map(|(i, a)| match a.get(..2) {
                Some("r=") => "r=<nonce>".to_owned(),
                Some("s=") => "s=<salt>".to_owned(),
                // The first attribute `p=` is the gs2 channel-binding flag, not a proof.
                Some("p=") if i > 0 => "p=<proof>".to_owned(),
                Some("v=") => "v=<signature>".to_owned(),
                Some("c=") => format!("c={}", channel_binding(&a[2..])),
                _ => (*a).to_owned(),
            })
            .collect();
        return Some(rebuilt.join(","));
    }
    None
}

/// SCRAM `c=`: the gs2 header and, for the -PLUS mechanisms, the channel binding data (a
/// TLS value of this connection) masked.
fn channel_binding(value: &str) -> String {
    let Some(decoded) = base64_strict(value) else {
        return value.to_owned();
    };
    match decoded.windows(2).position(|w| w == b",,") {
        Some(at)
            if at + 2 < decoded.len() && decoded[..at].iter().all(|b| (0x20..0x7f).contains(b)) =>
        {
            format!(
                "{}<channel binding>",
                String::from_utf8_lossy(&decoded[..at + 2])
            )
        }
        _ => value.to_owned(),
    }
}

/// Splits a DIGEST-MD5 directive list at commas outside double quotes into (key, raw value).
/// Items without `=` get an empty key, so they never match.
fn digest_pairs(text: &str) -> Vec<(&str, &str)> {
    let mut items = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    items
        .into_iter()
        .map(|item| item.split_once('=').unwrap_or(("", item)))
        .collect()
}

/// Standard-alphabet base64 with padding, nothing else allowed.
fn base64_strict(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    if bytes.is_empty() || bytes.len() % 4 != 0 {
        return None;
    }
    let pad = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    if pad > 2 {
        return None;
    }
    let value = |b: u8| -> Option<u32> {
        Some(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let body = &bytes[..bytes.len() - pad];
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for &b in body {
        acc = (acc << 6) | value(b)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

// --- 4. and 5. Cyrus ------------------------------------------------------------------------

/// `SESSIONID=<...>` → `SESSIONID=<id>`; `Date:`/`Expires:` header values → `<date>`.
fn cyrus_values(line: &str) -> String {
    let mut line = line.to_owned();
    if let Some(at) = line.find("SESSIONID=<") {
        let start = at + "SESSIONID=<".len();
        if let Some(len) = line[start..].find('>') {
            line.replace_range(start..start + len, "id");
        }
    }
    let shown = if line.starts_with("S: ") { 3 } else { 0 };
    for name in ["Date: ", "Expires: "] {
        if line[shown..].starts_with(name) {
            line.replace_range(shown + name.len().., "<date>");
        }
    }
    line
}

/// The APOP challenge `<...@...>` of a `+OK` banner, if the output shows one.
fn apop_challenge(text: &str) -> Option<String> {
    let banner = text
        .lines()
        .find(|l| l.starts_with("S: +OK ") && l.contains('@'))?;
    let start = banner.rfind('<')?;
    let end = start + banner[start..].find('>')? + 1;
    let challenge = &banner[start..end];
    challenge.contains('@').then(|| challenge.to_owned())
}

/// With a banner challenge: the challenge itself and the digest sent for it.
fn apop_values(line: &str, challenge: &str) -> String {
    let line = line.replace(challenge, "<apop challenge>");
    let words: Vec<&str> = line.split(' ').collect();
    match words.as_slice() {
        [c, "APOP", user, digest]
            if c.ends_with("C:")
                && digest.len() == 32
                && digest.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            format!("{c} APOP {user} <apop digest>")
        }
        _ => line,
    }
}

// --- 2. and 3. Dovecot -----------------------------------------------------------------------

/// `(0.001 + 0.000 secs)` / `(0.001 + 0.000 + 0.001 secs)` (Dovecot) and
/// `(0.001 secs 10 calls)` (Cyrus) → `(<t> secs)`.
fn dovecot_timing(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find('(') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        match timing_len(tail) {
            Some(n) => {
                out.push_str("(<t> secs)");
                rest = &tail[n..];
            }
            None => {
                out.push('(');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Length of a timing group at the start of `s`, if there is one.
fn timing_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 1; // past '('
    let number = |i: &mut usize| -> bool {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i == start || *i >= b.len() || b[*i] != b'.' {
            return false;
        }
        *i += 1;
        let frac = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > frac
    };
    if !number(&mut i) {
        return None;
    }
    let mut terms = 1;
    while s[i..].starts_with(" + ") {
        i += 3;
        if !number(&mut i) {
            return None;
        }
        terms += 1;
    }
    if terms >= 2 && s[i..].starts_with(" secs)") {
        return Some(i + " secs)".len());
    }
    // Cyrus: one number, then ` secs <n> calls)`.
    let digits = s[i..].strip_prefix(" secs ")?;
    let calls = digits.trim_start_matches(|c: char| c.is_ascii_digit());
    if terms == 1 && calls.len() < digits.len() && calls.starts_with(" calls)") {
        return Some(s.len() - calls.len() + " calls)".len());
    }
    None
}

/// `[2026-11-24 08:04:04]` → `[<date>]`.
fn dovecot_stamp(line: &str) -> String {
    const SHAPE: &[u8] = b"[dddd-dd-dd dd:dd:dd]";
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < b.len() {
        let fits = b.len() - i >= SHAPE.len()
            && SHAPE.iter().zip(&b[i..]).all(|(&shape, &c)| match shape {
                b'd' => c.is_ascii_digit(),
                _ => c == shape,
            });
        if fits {
            out.push_str("[<date>]");
            i += SHAPE.len();
        } else {
            let c = line[i..].chars().next().expect("char boundary");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}
