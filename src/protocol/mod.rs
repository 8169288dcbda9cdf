//! The protocol table: one `Protocol` value per name the tool answers to, like the C tool's
//! `struct protocol_t`. Everything here is data; the odd cases live in small per-protocol
//! modules reached through `Protocol::kind`.

/// Which per-protocol hooks apply (capability parsing, auth dispatch, socket-mode filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Imap,
    Pop3,
    Lmtp,
    Smtp,
    Mupdate,
    Sieve,
    Csync,
    Http,
    Nntp,
}

/// How the greeting is read (spec §3.5).
#[derive(Debug, Clone, Copy)]
pub struct Banner {
    /// The greeting is read through the capability reader.
    pub is_capability_source: bool,
    /// A line starting with this (case-insensitive) ends the greeting; `None` for IMAP's
    /// "first line, then whatever is already there" and for HTTP (no greeting at all).
    pub end: Option<&'static str>,
}

/// The capability request and the tokens searched for in its reply (spec §1.2–§1.4).
#[derive(Debug, Clone, Copy)]
pub struct Capabilities {
    pub command: Option<&'static str>,
    pub end: Option<&'static str>,
    pub starttls_token: &'static str,
    pub login_token: Option<&'static str>,
    pub sasl_token: &'static str,
    pub compress_token: Option<&'static str>,
}

/// The STARTTLS exchange.
#[derive(Debug, Clone, Copy)]
pub struct StartTls {
    pub command: &'static str,
    pub ok: &'static str,
    pub fail: &'static str,
    /// The server sends its capabilities by itself after the handshake.
    pub server_resends_capabilities: bool,
}

impl StartTls {
    /// Whether `line` ends the server's answer to STARTTLS, whatever it says: any tagged
    /// line (IMAP, mupdate), any final numbered line (SMTP, LMTP, NNTP), any HTTP status
    /// line, else the OK and NO lines (and ManageSieve's BYE). The C tool waits for `ok` and
    /// `fail` only.
    pub fn is_final_reply(&self, line: &[u8]) -> bool {
        let ok = self.ok.as_bytes();
        if let Some(tag) = self.ok.strip_suffix("OK").filter(|tag| tag.ends_with(' ')) {
            return line.starts_with(tag.as_bytes());
        }
        if ok.iter().all(u8::is_ascii_digit) {
            return line.len() >= 3
                && line[..3].iter().all(u8::is_ascii_digit)
                && line.get(3) != Some(&b'-');
        }
        if ok.starts_with(b"HTTP/") {
            return line.starts_with(b"HTTP/");
        }
        [self.ok, self.fail, "BYE"]
            .iter()
            .any(|tag| line.starts_with(tag.as_bytes()))
    }
}

/// How a SASL exchange is framed (spec §6.1).
#[derive(Debug, Clone, Copy)]
pub struct SaslFraming {
    pub command: &'static str,
    /// Longest initial response allowed on the command line; 0 = never (IMAP until SASL-IR).
    pub initial_response_limit: usize,
    /// Mechanism quoted and responses sent as `{n+}` literals (mupdate, sieve).
    pub quoted: bool,
    pub ok: &'static str,
    pub fail: &'static str,
    /// Prefix of a challenge line; `None` when challenges are `{n}` literals (sieve).
    pub continuation: Option<&'static str>,
    pub cancel: &'static str,
    /// Where a success reply may carry a last SASL token (sieve, nntp).
    pub success_data: SuccessData,
}

/// How a success reply carries SASL data (spec §6.1 step 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuccessData {
    None,
    /// `OK (SASL "<base64>")`.
    Sieve,
    /// `283 <base64> ...`.
    Nntp,
}

/// A command with the prefixes that mean success and failure.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    pub command: &'static str,
    pub ok: &'static str,
    pub fail: &'static str,
}

/// The logout command and the reply prefix awaited between `-n` rounds.
#[derive(Debug, Clone, Copy)]
pub struct Logout {
    pub command: &'static str,
    pub reply: &'static str,
}

#[derive(Debug)]
pub struct Protocol {
    pub kind: Kind,
    /// The key `-P` takes and the usage text shows (`imap`, `pop3`, ...).
    pub key: &'static str,
    /// Service names handed to getaddrinfo.
    pub port: &'static str,
    pub ssl_port: Option<&'static str>,
    /// SASL service name.
    pub sasl_service: &'static str,
    /// Value of the login flag at the start of every capability read.
    pub login_default: bool,
    pub banner: Banner,
    pub capabilities: Capabilities,
    pub starttls: Option<StartTls>,
    pub sasl: Option<SaslFraming>,
    pub compress: Option<Exchange>,
    pub logout: Option<Logout>,
    /// A relayed line ending with this makes the client drop its security layers.
    pub unauthenticate: Option<&'static str>,
    /// Extra `-m` lines in the usage text.
    pub mech_hint: Option<&'static str>,
    /// The usage text lists `-H`.
    pub lists_haproxy: bool,
}

const fn caps(
    command: Option<&'static str>,
    end: Option<&'static str>,
    starttls_token: &'static str,
    login_token: Option<&'static str>,
    sasl_token: &'static str,
    compress_token: Option<&'static str>,
) -> Capabilities {
    Capabilities {
        command,
        end,
        starttls_token,
        login_token,
        sasl_token,
        compress_token,
    }
}

#[allow(clippy::too_many_arguments)]
const fn sasl(
    command: &'static str,
    initial_response_limit: usize,
    quoted: bool,
    ok: &'static str,
    fail: &'static str,
    continuation: Option<&'static str>,
    success_data: SuccessData,
) -> Option<SaslFraming> {
    Some(SaslFraming {
        command,
        initial_response_limit,
        quoted,
        ok,
        fail,
        continuation,
        cancel: "*",
        success_data,
    })
}

const fn starttls(
    command: &'static str,
    ok: &'static str,
    fail: &'static str,
    server_resends_capabilities: bool,
) -> Option<StartTls> {
    Some(StartTls {
        command,
        ok,
        fail,
        server_resends_capabilities,
    })
}

const fn exchange(command: &'static str, ok: &'static str, fail: &'static str) -> Option<Exchange> {
    Some(Exchange { command, ok, fail })
}

const fn logout(command: &'static str, reply: &'static str) -> Option<Logout> {
    Some(Logout { command, reply })
}

pub const HTTP_CAPABILITY_REQUEST: &str =
    "OPTIONS * HTTP/1.1\r\nHost: %s\r\nUser-Agent: httptest\r\n";
pub const HTTP_STARTTLS_REQUEST: &str = "OPTIONS * HTTP/1.1\r\nHost: %s\r\nUser-Agent: httptest\r\nConnection: Upgrade\r\nUpgrade: TLS/1.2\r\n";

pub static PROTOCOLS: [Protocol; 9] = [
    Protocol {
        kind: Kind::Imap,
        key: "imap",
        port: "imap",
        ssl_port: Some("imaps"),
        sasl_service: "imap",
        login_default: true,
        banner: Banner {
            is_capability_source: true,
            end: None,
        },
        capabilities: caps(
            Some("C01 CAPABILITY"),
            Some("C01 "),
            " STARTTLS",
            Some(" LOGINDISABLED"),
            " AUTH=",
            Some(" COMPRESS=DEFLATE"),
        ),
        starttls: starttls("S01 STARTTLS", "S01 OK", "S01 NO", false),
        sasl: sasl(
            "A01 AUTHENTICATE",
            0,
            false,
            "A01 OK",
            "A01 NO",
            Some("+ "),
            SuccessData::None,
        ),
        compress: exchange("Z01 COMPRESS DEFLATE", "Z01 OK", "Z01 NO"),
        logout: logout("Q01 LOGOUT", "Q01 "),
        unauthenticate: Some(" UNAUTHENTICATE"),
        mech_hint: Some("             (\"login\" for IMAP LOGIN)\n"),
        lists_haproxy: true,
    },
    Protocol {
        kind: Kind::Pop3,
        key: "pop3",
        port: "pop3",
        ssl_port: Some("pop3s"),
        sasl_service: "pop",
        login_default: false,
        banner: Banner {
            is_capability_source: false,
            end: Some("+OK"),
        },
        capabilities: caps(Some("CAPA"), Some("."), "STLS", Some("USER"), "SASL ", None),
        starttls: starttls("STLS", "+OK", "-ERR", false),
        sasl: sasl(
            "AUTH",
            255,
            false,
            "+OK",
            "-ERR",
            Some("+ "),
            SuccessData::None,
        ),
        compress: None,
        logout: logout("QUIT", "+OK"),
        unauthenticate: None,
        mech_hint: Some("             (\"user\" for USER/PASS, \"apop\" for APOP)\n"),
        lists_haproxy: true,
    },
    Protocol {
        kind: Kind::Lmtp,
        key: "lmtp",
        port: "lmtp",
        ssl_port: None,
        sasl_service: "lmtp",
        login_default: false,
        banner: Banner {
            is_capability_source: false,
            end: Some("220 "),
        },
        capabilities: caps(
            Some("LHLO lmtptest"),
            Some("250 "),
            "STARTTLS",
            None,
            "AUTH ",
            None,
        ),
        starttls: starttls("STARTTLS", "220", "454", false),
        sasl: sasl(
            "AUTH",
            512,
            false,
            "235",
            "5",
            Some("334 "),
            SuccessData::None,
        ),
        compress: None,
        logout: logout("QUIT", "221"),
        unauthenticate: None,
        mech_hint: None,
        lists_haproxy: false,
    },
    Protocol {
        kind: Kind::Smtp,
        key: "smtp",
        port: "smtp",
        ssl_port: Some("smtps"),
        sasl_service: "smtp",
        login_default: false,
        banner: Banner {
            is_capability_source: false,
            end: Some("220 "),
        },
        capabilities: caps(
            Some("EHLO smtptest"),
            Some("250 "),
            "STARTTLS",
            None,
            "AUTH ",
            None,
        ),
        starttls: starttls("STARTTLS", "220", "454", false),
        sasl: sasl(
            "AUTH",
            512,
            false,
            "235",
            "5",
            Some("334 "),
            SuccessData::None,
        ),
        compress: None,
        logout: logout("QUIT", "221"),
        unauthenticate: None,
        mech_hint: None,
        lists_haproxy: true,
    },
    Protocol {
        kind: Kind::Mupdate,
        key: "mupdate",
        port: "mupdate",
        ssl_port: None,
        sasl_service: "mupdate",
        login_default: false,
        banner: Banner {
            is_capability_source: true,
            end: Some("* OK"),
        },
        capabilities: caps(
            None,
            Some("* OK"),
            "* STARTTLS",
            None,
            "* AUTH ",
            Some("* COMPRESS \"DEFLATE\""),
        ),
        starttls: starttls("S01 STARTTLS", "S01 OK", "S01 NO", true),
        sasl: sasl(
            "A01 AUTHENTICATE",
            65535,
            true,
            "A01 OK",
            "A01 NO",
            Some(""),
            SuccessData::None,
        ),
        compress: exchange("Z01 COMPRESS \"DEFLATE\"", "Z01 OK", "Z01 NO"),
        logout: logout("Q01 LOGOUT", "Q01 "),
        unauthenticate: None,
        mech_hint: None,
        lists_haproxy: false,
    },
    Protocol {
        kind: Kind::Sieve,
        key: "sieve",
        port: "sieve",
        ssl_port: None,
        sasl_service: "sieve",
        login_default: false,
        banner: Banner {
            is_capability_source: true,
            end: Some("OK"),
        },
        capabilities: caps(
            Some("CAPABILITY"),
            Some("OK"),
            "\"STARTTLS\"",
            None,
            "\"SASL\" ",
            None,
        ),
        starttls: starttls("STARTTLS", "OK", "NO", true),
        sasl: sasl(
            "AUTHENTICATE",
            65535,
            true,
            "OK",
            "NO",
            None,
            SuccessData::Sieve,
        ),
        compress: None,
        logout: logout("LOGOUT", "OK"),
        unauthenticate: Some("UNAUTHENTICATE"),
        mech_hint: None,
        lists_haproxy: true,
    },
    Protocol {
        kind: Kind::Csync,
        key: "csync",
        port: "csync",
        ssl_port: None,
        sasl_service: "csync",
        login_default: false,
        banner: Banner {
            is_capability_source: true,
            end: Some("* OK"),
        },
        capabilities: caps(
            None,
            Some("* OK"),
            "* STARTTLS",
            None,
            "* SASL ",
            Some("* COMPRESS DEFLATE"),
        ),
        starttls: starttls("STARTTLS", "OK", "NO", true),
        sasl: sasl(
            "AUTHENTICATE",
            65535,
            false,
            "OK",
            "NO",
            Some("+ "),
            SuccessData::None,
        ),
        compress: exchange("COMPRESS DEFLATE", "OK", "NO"),
        logout: logout("EXIT", "OK"),
        unauthenticate: None,
        mech_hint: None,
        lists_haproxy: false,
    },
    Protocol {
        kind: Kind::Http,
        key: "http",
        port: "http",
        ssl_port: Some("https"),
        sasl_service: "HTTP",
        login_default: false,
        banner: Banner {
            is_capability_source: false,
            end: None,
        },
        capabilities: caps(
            Some(HTTP_CAPABILITY_REQUEST),
            None,
            "Upgrade: TLS/1.2",
            None,
            "WWW-Authenticate:",
            None,
        ),
        starttls: starttls(HTTP_STARTTLS_REQUEST, "HTTP/1.1 101", "HTTP/1.1 5", true),
        sasl: None,
        compress: None,
        logout: None,
        unauthenticate: None,
        mech_hint: Some("             (\"basic\", \"digest\", \"negotiate\", \"ntlm\")\n"),
        lists_haproxy: true,
    },
    Protocol {
        kind: Kind::Nntp,
        key: "nntp",
        port: "nntp",
        ssl_port: Some("nntps"),
        sasl_service: "nntp",
        login_default: false,
        banner: Banner {
            is_capability_source: false,
            end: Some("20"),
        },
        capabilities: caps(
            Some("CAPABILITIES"),
            Some("."),
            "STARTTLS",
            Some("AUTHINFO USER"),
            "SASL ",
            Some("COMPRESS DEFLATE"),
        ),
        starttls: starttls("STARTTLS", "382", "580", false),
        sasl: sasl(
            "AUTHINFO SASL",
            512,
            false,
            "28",
            "48",
            Some("383 "),
            SuccessData::Nntp,
        ),
        compress: exchange("COMPRESS DEFLATE", "206", "403"),
        logout: logout("QUIT", "205"),
        unauthenticate: None,
        mech_hint: Some("             (\"user\" for AUTHINFO USER/PASS\n"),
        lists_haproxy: false,
    },
];

/// The protocol key for a program name (basename of argv[0]), spec §1.1.
pub fn key_for_program(basename: &str) -> Option<&'static str> {
    const NAMES: [(&str, &str); 9] = [
        ("imtest", "imap"),
        ("pop3test", "pop3"),
        ("lmtptest", "lmtp"),
        ("smtptest", "smtp"),
        ("mupdatetest", "mupdate"),
        ("sivtest", "sieve"),
        ("synctest", "csync"),
        ("httptest", "http"),
        ("nntptest", "nntp"),
    ];
    NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(basename))
        .map(|(_, key)| *key)
}

/// Looks a protocol key up case-insensitively (`-P` value or from the program name).
pub fn lookup(key: &str) -> Option<&'static Protocol> {
    PROTOCOLS.iter().find(|p| p.key.eq_ignore_ascii_case(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_final_reply_ends_the_starttls_wait() {
        let ends = |key: &str, line: &[u8]| {
            let exchange = lookup(key).and_then(|p| p.starttls).expect("STARTTLS");
            exchange.is_final_reply(line)
        };
        for (key, line, last) in [
            ("imap", &b"S01 BAD unknown command\r\n"[..], true),
            ("imap", b"S01 NO later\r\n", true),
            ("imap", b"* OK still here\r\n", false),
            ("pop3", b"-ERR not now\r\n", true),
            ("pop3", b"+OK go\r\n", true),
            ("pop3", b"junk\r\n", false),
            ("smtp", b"502 5.5.1 unknown\r\n", true),
            ("smtp", b"454\r\n", true),
            ("smtp", b"250-PIPELINING\r\n", false),
            ("nntp", b"580 no\r\n", true),
            ("sieve", b"BYE \"bye\"\r\n", true),
            ("sieve", b"\"IMPLEMENTATION\" \"x\"\r\n", false),
            ("http", b"HTTP/1.1 400 Bad Request\r\n", true),
            ("mupdate", b"S01 BAD what\r\n", true),
        ] {
            let shown = String::from_utf8_lossy(line);
            assert_eq!(ends(key, line), last, "{key}: {shown}");
        }
    }

    #[test]
    fn program_names_map_to_protocols() {
        assert_eq!(key_for_program("imtest"), Some("imap"));
        assert_eq!(key_for_program("SIVTEST"), Some("sieve"));
        assert_eq!(key_for_program("synctest"), Some("csync"));
        assert_eq!(key_for_program("cyrus-imtest"), None);
        assert_eq!(key_for_program(""), None);
    }

    #[test]
    fn lookup_is_case_insensitive_and_rejects_unknown() {
        assert_eq!(lookup("IMAP").map(|p| p.kind), Some(Kind::Imap));
        assert_eq!(lookup("csync").map(|p| p.kind), Some(Kind::Csync));
        assert!(lookup("bogus").is_none());
        assert!(lookup("").is_none());
    }

    #[test]
    fn only_four_plus_nntp_can_be_ssl_wrapped() {
        let wrapped: Vec<_> = PROTOCOLS
            .iter()
            .filter(|p| p.ssl_port.is_some())
            .map(|p| p.key)
            .collect();
        assert_eq!(wrapped, ["imap", "pop3", "smtp", "http", "nntp"]);
    }
}

pub mod http;
pub mod imap;
pub mod nntp;
pub mod pop3;
