//! The spec's notation (docs/transcripts.md §13A) as data: Python-style `repr` of byte strings,
//! the `C->S` / `S->C` wire log, and the `\r`-marked stdout blocks. Recorded server logs are
//! rendered into the same text so that a test can paste a spec block and compare.

use super::server::{ConnLog, Event};

/// Python `repr()` of an ASCII-ish byte string, quotes included (`'...'`, or `"..."` when the
/// text contains `'` but no `"`, as Python does).
pub fn py_repr(data: &[u8]) -> String {
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut s = String::with_capacity(data.len() + 2);
    s.push(quote);
    for &b in data {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            b'\'' if quote == '\'' => s.push_str("\\'"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push(quote);
    s
}

/// Parses a Python string/bytes literal (`'...'`, `"..."`, `b'...'`) with the escapes that
/// [`py_repr`] produces. Returns the bytes and the unparsed rest.
pub fn py_unrepr(text: &str) -> Result<(Vec<u8>, &str), String> {
    let t = text.strip_prefix('b').unwrap_or(text);
    let mut chars = t.char_indices();
    let quote = match chars.next() {
        Some((_, q @ ('\'' | '"'))) => q,
        _ => return Err(format!("not a quoted literal: {text}")),
    };
    let mut out = Vec::new();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((out, &t[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push(b'\n'),
                Some((_, 'r')) => out.push(b'\r'),
                Some((_, 't')) => out.push(b'\t'),
                Some((_, '\\')) => out.push(b'\\'),
                Some((_, '\'')) => out.push(b'\''),
                Some((_, '"')) => out.push(b'"'),
                Some((_, 'x')) => {
                    let h: String = (0..2)
                        .filter_map(|_| chars.next().map(|(_, c)| c))
                        .collect();
                    let v = u8::from_str_radix(&h, 16).map_err(|e| format!("bad \\x{h}: {e}"))?;
                    out.push(v);
                }
                other => return Err(format!("unsupported escape {other:?} in {text}")),
            },
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Err(format!("unterminated literal: {text}"))
}

/// One entry of a wire log, in the spec's granularity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireItem {
    NewConnection,
    ServerToClient(Vec<u8>),
    ClientToServer(Vec<u8>),
    /// `(TLS handshake: <version> ('<cipher>', '<cipher version>', <bits>))`
    Tls(String),
    SessionResumed,
    /// Not in the spec: `(SASL security layer: ssf N)`.
    SaslLayer(u32),
    /// `(raw DEFLATE on from here)`
    Deflate,
}

impl WireItem {
    pub fn render(&self) -> String {
        match self {
            WireItem::NewConnection => "(new TCP connection)".into(),
            WireItem::ServerToClient(b) => format!("S->C {}", py_repr(b)),
            WireItem::ClientToServer(b) => format!("C->S b{}", py_repr(b)),
            WireItem::Tls(t) => format!("(TLS handshake: {t})"),
            WireItem::SessionResumed => "(session resumed)".into(),
            WireItem::SaslLayer(n) => format!("(SASL security layer: ssf {n})"),
            WireItem::Deflate => "(raw DEFLATE on from here)".into(),
        }
    }
}

/// Concatenates consecutive same-direction data items, so that send/receive granularity does
/// not matter when comparing.
pub fn merge(items: Vec<WireItem>) -> Vec<WireItem> {
    let mut out: Vec<WireItem> = Vec::new();
    for it in items {
        match (out.last_mut(), it) {
            (Some(WireItem::ServerToClient(a)), WireItem::ServerToClient(b)) => a.extend(b),
            (Some(WireItem::ClientToServer(a)), WireItem::ClientToServer(b)) => a.extend(b),
            (_, it) => out.push(it),
        }
    }
    out
}

/// Parses a spec wire block (`(new TCP connection)`, `S->C '...'`, `C->S b'...'`,
/// `(TLS handshake: ...)`, `(session resumed)`; `(server closes)` and blank lines are ignored).
pub fn parse_wire(text: &str) -> Vec<WireItem> {
    let mut items = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let item = if line == "(new TCP connection)" {
            WireItem::NewConnection
        } else if line == "(server closes)" {
            continue;
        } else if line == "(raw DEFLATE on from here)" {
            WireItem::Deflate
        } else if line == "(session resumed)" {
            WireItem::SessionResumed
        } else if let Some(t) = line
            .strip_prefix("(TLS handshake: ")
            .and_then(|t| t.strip_suffix(')'))
        {
            WireItem::Tls(t.to_string())
        } else if let Some(t) = line
            .strip_prefix("(SASL security layer: ssf ")
            .and_then(|t| t.strip_suffix(')'))
        {
            WireItem::SaslLayer(t.parse().expect("ssf number"))
        } else if let Some(t) = line.strip_prefix("S->C ") {
            WireItem::ServerToClient(parse_literal(t, line))
        } else if let Some(t) = line.strip_prefix("C->S ") {
            WireItem::ClientToServer(parse_literal(t, line))
        } else {
            panic!("unparsable wire line in expectation: {line}");
        };
        items.push(item);
    }
    merge(items)
}

fn parse_literal(t: &str, line: &str) -> Vec<u8> {
    match py_unrepr(t) {
        Ok((b, rest)) if rest.trim().is_empty() => b,
        Ok((_, rest)) => panic!("trailing text {rest:?} in wire line: {line}"),
        Err(e) => panic!("{e} in wire line: {line}"),
    }
}

/// Turns recorded connections into wire items (Recv → C->S, Sent → S->C, handshakes, layers).
/// Discarded bytes, notes and close markers are not part of the spec's notation and are left out.
pub fn wire_items(conns: &[ConnLog]) -> Vec<WireItem> {
    let mut items = Vec::new();
    for c in conns {
        items.push(WireItem::NewConnection);
        for e in &c.events {
            match e {
                Event::Recv(b) => items.push(WireItem::ClientToServer(b.clone())),
                Event::Sent(b) => items.push(WireItem::ServerToClient(b.clone())),
                Event::TlsHandshake {
                    version,
                    cipher,
                    cipher_version,
                    bits,
                    resumed,
                } => {
                    items.push(WireItem::Tls(format!(
                        "{version} ('{cipher}', '{cipher_version}', {bits})"
                    )));
                    if *resumed {
                        items.push(WireItem::SessionResumed);
                    }
                }
                Event::SaslLayer { ssf } => items.push(WireItem::SaslLayer(*ssf)),
                Event::Deflate => items.push(WireItem::Deflate),
                Event::Discarded(_) | Event::Closed | Event::Note(_) => {}
            }
        }
    }
    merge(items)
}

/// Renders wire items one per line (the spec's notation).
pub fn render_wire(items: &[WireItem]) -> String {
    let mut s = String::new();
    for it in items {
        s.push_str(&it.render());
        s.push('\n');
    }
    s
}

/// Converts a spec stdout/stderr block into bytes: every line ends in `\n`, and a line whose
/// text ends in the two characters `\r` ends in CR LF instead. `(empty)` stands for no output.
/// A trailing blank line in the block is kept (the spec shows `failure: ...\n\n` that way) only
/// when written as an explicit empty line before the end.
pub fn spec_text(block: &str) -> Vec<u8> {
    let block = block.strip_prefix('\n').unwrap_or(block);
    if block.trim() == "(empty)" {
        return Vec::new();
    }
    let mut out = Vec::new();
    for line in block.split_inclusive('\n') {
        let line = line.strip_suffix('\n').unwrap_or(line);
        if let Some(l) = line.strip_suffix("\\r") {
            out.extend_from_slice(l.as_bytes());
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
    }
    out
}

/// Standard base64 decoding (None if invalid).
pub fn b64decode(text: &[u8]) -> Option<Vec<u8>> {
    let t = std::str::from_utf8(text).ok()?;
    if t.is_empty() {
        return Some(Vec::new());
    }
    openssl::base64::decode_block(t).ok()
}

/// Bytes as text, invalid UTF-8 replaced.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn b64encode(data: &[u8]) -> String {
    openssl::base64::encode_block(data)
}

/// Shows bytes as text with the spec's convention (CR LF line ends as `\r` + newline, other
/// control bytes escaped), for readable assertion messages.
pub fn show(data: &[u8]) -> String {
    let mut s = String::new();
    for &b in data {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push('\n'),
            b'\t' => s.push('\t'),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// A compact line diff for assertion messages: the first differing line plus both texts.
pub fn diff(what: &str, expected: &str, actual: &str) -> String {
    let el: Vec<&str> = expected.split('\n').collect();
    let al: Vec<&str> = actual.split('\n').collect();
    let first = (0..el.len().max(al.len()))
        .find(|&i| el.get(i) != al.get(i))
        .unwrap_or(0);
    format!(
        "{what} differs at line {}:\n  expected: {:?}\n  actual:   {:?}\n--- expected {what}\n{expected}\n--- actual {what}\n{actual}\n---",
        first + 1,
        el.get(first).unwrap_or(&"<end>"),
        al.get(first).unwrap_or(&"<end>"),
    )
}

/// Self-test: `py_repr` and `py_unrepr` are inverses.
fn repr_roundtrip() {
    for s in [
        &b"a1 NOOP\r\n"[..],
        b"it's",
        b"both ' and \"",
        b"\x16\x03\x01\\",
    ] {
        let r = py_repr(s);
        assert_eq!(py_unrepr(&r).unwrap().0, s, "{r}");
    }
    assert_eq!(py_repr(b"it's"), "\"it's\"");
}

/// Self-test: the spec's `\r` line ends and `(empty)`.
fn spec_text_crlf() {
    assert_eq!(spec_text("S: x\\r\nAuth.\n"), b"S: x\r\nAuth.\n");
    assert_eq!(spec_text("(empty)\n"), b"");
    assert_eq!(spec_text("failure: a\n\n"), b"failure: a\n\n");
}

/// The self-tests above, listed.
pub fn self_tests() -> Vec<libtest_mimic::Trial> {
    crate::listed!("support::wire::", repr_roundtrip, spec_text_crlf)
}
