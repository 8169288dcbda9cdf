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

/// How the greeting is read (docs/behaviour.md §3.5).
#[derive(Debug, Clone, Copy)]
pub struct Banner {
    /// The greeting is read through the capability reader.
    pub is_capability_source: bool,
    /// A line starting with this (case-insensitive) ends the greeting; `None` for IMAP's
    /// "first line, then whatever is already there" and for HTTP (no greeting at all).
    pub end: Option<&'static str>,
}

/// The capability request and the tokens searched for in its reply (docs/behaviour.md §1.2–§1.4).
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

/// How a SASL exchange is framed (docs/behaviour.md §6.1).
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

/// How a success reply carries SASL data (docs/behaviour.md §6.1 step 6).
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
        capabilities: Capabilities {
            command: Some("C01 CAPABILITY"),
            end: Some("C01 "),
            starttls_token: " STARTTLS",
            login_token: Some(" LOGINDISABLED"),
            sasl_token: " AUTH=",
            compress_token: Some(" COMPRESS=DEFLATE"),
        },
        starttls: Some(StartTls {
            command: "S01 STARTTLS",
            ok: "S01 OK",
            fail: "S01 NO",
            server_resends_capabilities: false,
        }),
        sasl: Some(SaslFraming {
            command: "A01 AUTHENTICATE",
            initial_response_limit: 0,
            quoted: false,
            ok: "A01 OK",
            fail: "A01 NO",
            continuation: Some("+ "),
            success_data: SuccessData::None,
            cancel: "*",
        }),
        compress: Some(Exchange {
            command: "Z01 COMPRESS DEFLATE",
            ok: "Z01 OK",
            fail: "Z01 NO",
        }),
        logout: Some(Logout {
            command: "Q01 LOGOUT",
            reply: "Q01 ",
        }),
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
        capabilities: Capabilities {
            command: Some("CAPA"),
            end: Some("."),
            starttls_token: "STLS",
            login_token: Some("USER"),
            sasl_token: "SASL ",
            compress_token: None,
        },
        starttls: Some(StartTls {
            command: "STLS",
            ok: "+OK",
            fail: "-ERR",
            server_resends_capabilities: false,
        }),
        sasl: Some(SaslFraming {
            command: "AUTH",
            initial_response_limit: 255,
            quoted: false,
            ok: "+OK",
            fail: "-ERR",
            continuation: Some("+ "),
            success_data: SuccessData::None,
            cancel: "*",
        }),
        compress: None,
        logout: Some(Logout {
            command: "QUIT",
            reply: "+OK",
        }),
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
        capabilities: Capabilities {
            command: Some("LHLO lmtptest"),
            end: Some("250 "),
            starttls_token: "STARTTLS",
            login_token: None,
            sasl_token: "AUTH ",
            compress_token: None,
        },
        starttls: Some(StartTls {
            command: "STARTTLS",
            ok: "220",
            fail: "454",
            server_resends_capabilities: false,
        }),
        sasl: Some(SaslFraming {
            command: "AUTH",
            initial_response_limit: 512,
            quoted: false,
            ok: "235",
            fail: "5",
            continuation: Some("334 "),
            success_data: SuccessData::None,
            cancel: "*",
        }),
        compress: None,
        logout: Some(Logout {
            command: "QUIT",
            reply: "221",
        }),
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
        capabilities: Capabilities {
            command: Some("EHLO smtptest"),
            end: Some("250 "),
            starttls_token: "STARTTLS",
            login_token: None,
            sasl_token: "AUTH ",
            compress_token: None,
        },
        starttls: Some(StartTls {
            command: "STARTTLS",
            ok: "220",
            fail: "454",
            server_resends_capabilities: false,
        }),
        sasl: Some(SaslFraming {
            command: "AUTH",
            initial_response_limit: 512,
            quoted: false,
            ok: "235",
            fail: "5",
            continuation: Some("334 "),
            success_data: SuccessData::None,
            cancel: "*",
        }),
        compress: None,
        logout: Some(Logout {
            command: "QUIT",
            reply: "221",
        }),
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
        capabilities: Capabilities {
            command: None,
            end: Some("* OK"),
            starttls_token: "* STARTTLS",
            login_token: None,
            sasl_token: "* AUTH ",
            compress_token: Some("* COMPRESS \"DEFLATE\""),
        },
        starttls: Some(StartTls {
            command: "S01 STARTTLS",
            ok: "S01 OK",
            fail: "S01 NO",
            server_resends_capabilities: true,
        }),
        sasl: Some(SaslFraming {
            command: "A01 AUTHENTICATE",
            initial_response_limit: 65535,
            quoted: true,
            ok: "A01 OK",
            fail: "A01 NO",
            continuation: Some(""),
            success_data: SuccessData::None,
            cancel: "*",
        }),
        compress: Some(Exchange {
            command: "Z01 COMPRESS \"DEFLATE\"",
            ok: "Z01 OK",
            fail: "Z01 NO",
        }),
        logout: Some(Logout {
            command: "Q01 LOGOUT",
            reply: "Q01 ",
        }),
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
        capabilities: Capabilities {
            command: Some("CAPABILITY"),
            end: Some("OK"),
            starttls_token: "\"STARTTLS\"",
            login_token: None,
            sasl_token: "\"SASL\" ",
            compress_token: None,
        },
        starttls: Some(StartTls {
            command: "STARTTLS",
            ok: "OK",
            fail: "NO",
            server_resends_capabilities: true,
        }),
        sasl: Some(SaslFraming {
            command: "AUTHENTICATE",
            initial_response_limit: 65535,
            quoted: true,
            ok: "OK",
            fail: "NO",
            continuation: None,
            success_data: SuccessData::Sieve,
            cancel: "*",
        }),
        compress: None,
        logout: Some(Logout {
            command: "LOGOUT",
            reply: "OK",
        }),
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
        capabilities: Capabilities {
            command: None,
            end: Some("* OK"),
            starttls_token: "* STARTTLS",
            login_token: None,
            sasl_token: "* SASL ",
            compress_token: Some("* COMPRESS DEFLATE"),
        },
        starttls: Some(StartTls {
            command: "STARTTLS",
            ok: "OK",
            fail: "NO",
            server_resends_capabilities: true,
        }),
        sasl: Some(SaslFraming {
            command: "AUTHENTICATE",
            initial_response_limit: 65535,
            quoted: false,
            ok: "OK",
            fail: "NO",
            continuation: Some("+ "),
            success_data: SuccessData::None,
            cancel: "*",
        }),
        compress: Some(Exchange {
            command: "COMPRESS DEFLATE",
            ok: "OK",
            fail: "NO",
        }),
        logout: Some(Logout {
            command: "EXIT",
            reply: "OK",
        }),
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
        capabilities: Capabilities {
            command: Some(HTTP_CAPABILITY_REQUEST),
            end: None,
            starttls_token: "Upgrade: TLS/1.2",
            login_token: None,
            sasl_token: "WWW-Authenticate:",
            compress_token: None,
        },
        starttls: Some(StartTls {
            command: HTTP_STARTTLS_REQUEST,
            ok: "HTTP/1.1 101",
            fail: "HTTP/1.1 5",
            server_resends_capabilities: true,
        }),
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
        capabilities: Capabilities {
            command: Some("CAPABILITIES"),
            end: Some("."),
            starttls_token: "STARTTLS",
            login_token: Some("AUTHINFO USER"),
            sasl_token: "SASL ",
            compress_token: Some("COMPRESS DEFLATE"),
        },
        starttls: Some(StartTls {
            command: "STARTTLS",
            ok: "382",
            fail: "580",
            server_resends_capabilities: false,
        }),
        sasl: Some(SaslFraming {
            command: "AUTHINFO SASL",
            initial_response_limit: 512,
            quoted: false,
            ok: "28",
            fail: "48",
            continuation: Some("383 "),
            success_data: SuccessData::Nntp,
            cancel: "*",
        }),
        compress: Some(Exchange {
            command: "COMPRESS DEFLATE",
            ok: "206",
            fail: "403",
        }),
        logout: Some(Logout {
            command: "QUIT",
            reply: "205",
        }),
        unauthenticate: None,
        mech_hint: Some("             (\"user\" for AUTHINFO USER/PASS\n"),
        lists_haproxy: false,
    },
];

/// The protocol key for a program name (basename of argv[0]), docs/behaviour.md §1.1.
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
