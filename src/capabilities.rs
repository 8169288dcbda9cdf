//! What a capability (or greeting) response advertised, and how each line is scanned
//! (docs/behaviour.md §1.3–§1.4). Token searches are case-sensitive substring searches over the
//! line as a C string; the SASL mechanism list keeps the C tool's exact string semantics because it
//! is compared as a string after a security layer (MITM warning).

use crate::bytes::c_str;
use crate::protocol::{Kind, Protocol};

/// The SASL mechanism list as the C tool builds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MechList {
    text: Vec<u8>,
    /// IMAP: a token ended the line, so the C string ended at a NUL; later appends vanish.
    closed: bool,
}

impl MechList {
    pub fn as_bytes(&self) -> &[u8] {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    fn append(&mut self, bytes: &[u8]) {
        if !self.closed {
            self.text.extend_from_slice(bytes);
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Caps {
    pub login: bool,
    pub starttls: bool,
    pub compress: bool,
    /// `None` only where the protocol had no way to ask (mupdate/csync after a switch).
    pub mechs: Option<MechList>,
}

/// Per-process facts learnt from capability lines that outlive one read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Learnt {
    /// IMAP ` SASL-IR` was seen once: initial responses allowed from then on.
    pub imap_sasl_ir: bool,
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle, 0).is_some()
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return Some(from.min(haystack.len()));
    }
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

impl Caps {
    /// The state at the start of every capability read.
    pub fn fresh(protocol: &Protocol) -> Caps {
        Caps {
            login: protocol.login_default,
            starttls: false,
            compress: false,
            mechs: Some(MechList::default()),
        }
    }

    /// Scans one line (or piece of a line) of a capability response.
    pub fn scan_line(&mut self, protocol: &Protocol, line: &[u8], learnt: &mut Learnt) {
        let line = c_str(line);
        let tokens = &protocol.capabilities;
        if let Some(login) = tokens.login_token {
            if contains(line, login.as_bytes()) {
                self.login = !self.login;
            }
        }
        if contains(line, tokens.starttls_token.as_bytes()) {
            self.starttls = true;
        }
        if let Some(compress) = tokens.compress_token {
            if contains(line, compress.as_bytes()) {
                self.compress = true;
            }
        }
        let Some(at) = find(line, tokens.sasl_token.as_bytes(), 0) else {
            return;
        };
        let mechs = self.mechs.get_or_insert_with(MechList::default);
        match protocol.kind {
            Kind::Imap => scan_imap_auth(mechs, line, learnt),
            Kind::Http => scan_http_auth(self, line),
            _ => {
                // The rest of the line after the first occurrence, line ending included;
                // a later matching line replaces it.
                *mechs = MechList {
                    text: line[at + tokens.sasl_token.len()..].to_vec(),
                    closed: false,
                };
            }
        }
    }
}

/// IMAP: every ` AUTH=` token is appended; a token running to the end of the line keeps
/// the line ending and closes the list (docs/behaviour.md §1.4).
fn scan_imap_auth(mechs: &mut MechList, line: &[u8], learnt: &mut Learnt) {
    const TOKEN: &[u8] = b" AUTH=";
    if contains(line, b" SASL-IR") {
        learnt.imap_sasl_ir = true;
    }
    let mut from = 0;
    let mut first = true;
    while let Some(at) = find(line, TOKEN, from) {
        let start = at + TOKEN.len();
        if !first {
            mechs.append(b" ");
        }
        first = false;
        match line[start..].iter().position(|&b| b == b' ') {
            Some(space) => mechs.append(&line[start..=start + space]),
            None => {
                mechs.append(&line[start..]);
                mechs.closed = true;
            }
        }
        from = start;
    }
}

/// HTTP: the first scheme of each `WWW-Authenticate:` line (docs/behaviour.md §1.4).
fn scan_http_auth(caps: &mut Caps, line: &[u8]) {
    const TOKEN: &[u8] = b"WWW-Authenticate:";
    let Some(at) = find(line, TOKEN, 0) else {
        return;
    };
    let rest = &line[at + TOKEN.len()..];
    let rest = &rest[rest
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(rest.len())..];
    let end = rest
        .iter()
        .position(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(rest.len());
    let scheme = &rest[..end];
    let name: &[u8] = match scheme {
        b"Basic" => {
            caps.login = true;
            return;
        }
        b"Negotiate" => b"GSS-SPNEGO",
        b"Digest" => b"DIGEST-MD5",
        other => other,
    };
    let mechs = caps.mechs.get_or_insert_with(MechList::default);
    if !mechs.is_empty() {
        mechs.append(b" ");
    }
    mechs.append(name);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::lookup;

    fn scan(key: &str, lines: &[&[u8]]) -> (Caps, Learnt) {
        let protocol = lookup(key).unwrap();
        let mut caps = Caps::fresh(protocol);
        let mut learnt = Learnt::default();
        for line in lines {
            caps.scan_line(protocol, line, &mut learnt);
        }
        (caps, learnt)
    }

    #[test]
    fn imap_list_keeps_c_string_semantics() {
        let (caps, learnt) = scan(
            "imap",
            &[b"* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN\r\n"],
        );
        assert_eq!(caps.mechs.unwrap().as_bytes(), b"PLAIN  LOGIN\r\n");
        assert!(!learnt.imap_sasl_ir);
        assert!(caps.login);
    }

    #[test]
    fn imap_banner_token_keeps_bracket_and_sasl_ir_is_learnt() {
        let (caps, learnt) = scan(
            "imap",
            &[b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n"],
        );
        assert_eq!(caps.mechs.unwrap().as_bytes(), b"PLAIN ");
        assert!(learnt.imap_sasl_ir);
        let (caps, _) = scan("imap", &[b"* OK [CAPABILITY AUTH=PLAIN]\r\n"]);
        assert_eq!(caps.mechs.unwrap().as_bytes(), b"PLAIN]\r\n");
    }

    #[test]
    fn imap_list_closed_after_line_ending_token() {
        let (caps, _) = scan(
            "imap",
            &[
                b"* CAPABILITY AUTH=PLAIN\r\n",
                b"* CAPABILITY AUTH=LOGIN\r\n",
            ],
        );
        assert_eq!(caps.mechs.unwrap().as_bytes(), b"PLAIN\r\n");
        let (caps, _) = scan(
            "imap",
            &[
                b"* CAPABILITY AUTH=PLAIN X\r\n",
                b"* CAPABILITY AUTH=LOGIN X\r\n",
            ],
        );
        assert_eq!(caps.mechs.unwrap().as_bytes(), b"PLAIN LOGIN ");
    }

    #[test]
    fn login_token_toggles_and_starttls_is_substring() {
        let (caps, _) = scan("imap", &[b"* OK please use STARTTLS LOGINDISABLED\r\n"]);
        assert!(caps.starttls);
        assert!(!caps.login);
        let (caps, _) = scan("imap", &[b"* LOGINDISABLED\r\n", b"* x LOGINDISABLED\r\n"]);
        assert!(caps.login, "two matching lines cancel out");
    }

    #[test]
    fn other_protocols_take_rest_of_last_matching_line() {
        let (caps, _) = scan(
            "smtp",
            &[
                b"250-AUTH PLAIN LOGIN\r\n",
                b"250-XAUTH FOO\r\n",
                b"250 OK\r\n",
            ],
        );
        assert_eq!(caps.mechs.unwrap().as_bytes(), b"FOO\r\n");
        let (caps, _) = scan("sieve", &[b"\"SASL\" \"PLAIN SCRAM-SHA-1\"\r\n"]);
        assert_eq!(caps.mechs.unwrap().as_bytes(), b"\"PLAIN SCRAM-SHA-1\"\r\n");
    }

    #[test]
    fn http_schemes() {
        let (caps, _) = scan(
            "http",
            &[
                b"WWW-Authenticate: Basic realm=x\r\n",
                b"WWW-Authenticate: Negotiate\r\n",
                b"WWW-Authenticate:  SCRAM-SHA-256 realm=x\r\n",
            ],
        );
        assert!(caps.login);
        assert_eq!(caps.mechs.unwrap().as_bytes(), b"GSS-SPNEGO SCRAM-SHA-256");
    }
}
