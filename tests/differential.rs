//! Differential tests against real servers: every case runs the C tool (Debian's cyrus-clients
//! 3.6.1) and ours with the same program name, arguments and stdin against the same server of
//! the lab (`scripts/lab.sh`: Dovecot for IMAP, POP3, ManageSieve, LMTP and submission; Postfix
//! for SMTP), normalises what varies from run to run (see `lab/normalise.rs`: SASL nonces and
//! what depends on them, Dovecot's timings and time stamps — nothing else) and compares
//! stdout, stderr and the exit status.
//!
//! The matrix is data: [`PROTOCOLS`] × [`TlsMode`] × mechanisms, plus the hand-written rows of
//! [`special_cases`] (wrong passwords, master user / authzid, realms, `-q`, `-n 2`, `-i`,
//! `-k`/`-l`, client certificates with EXTERNAL, `-H` on the HAProxy listeners, prompts).
//! [`cyrus_cases`] runs nntptest, httptest, mupdatetest and synctest against the lab's Cyrus
//! 3.6.1 servers (nntpd, httpd, the mupdate master, sync_server), and imtest, pop3test,
//! lmtptest and sivtest against Cyrus where it offers what Dovecot does not (OTP, DIGEST-MD5
//! security layers, APOP, SCRAM-*-PLUS). The C oracle for mupdatetest is a link named
//! mupdatetest to the C imtest (Debian's cyrus-clients does not ship that name).
//!
//! A case can be marked as an expected difference ([`Expect::Differ`], with the reason and a
//! check of the difference) or as hanging in both tools ([`Expect::BothHang`]). All cases run
//! (bounded parallelism, see `lab::max_jobs`), every result is printed with the case name, all
//! mismatches with a unified diff, then `differential: N cases, M match, K differ`.
//! `IMTEST_DIFFERENTIAL=report` prints the same but does not fail the test;
//! `IMTEST_DIFFERENTIAL_FILTER=text[,text...]` runs only the cases whose name contains one of
//! the texts.
//!
//! The harness checks itself: `c_tool_is_stable_after_normalisation` runs the C tool twice per
//! case; both runs must compare equal, or a normalisation is missing.

mod lab;

use lab::diff::unified;
use lab::normalise::normalise;
use lab::{Exit, Lab, Outcome, Tool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Hard limit for a run that should finish (the C tool needs well under a second).
const RUN_TIMEOUT: Duration = Duration::from_secs(8);
/// How long a case expected to hang is given before both tools are killed.
const HANG_TIMEOUT: Duration = Duration::from_secs(3);

const TIM: &str = "-a tim -w tanstaaftanstaaf";
const BOB: &str = "-a bob -w secret";

// --- the matrix --------------------------------------------------------------------------------

/// A protocol as the lab serves it.
struct Protocol {
    /// Program name (argv[0]).
    tool: &'static str,
    /// Case-name prefix (which server).
    label: &'static str,
    /// Listener for plain text and STARTTLS (a `DIR/ports` name).
    port: &'static str,
    /// Implicit-TLS listener, where the protocol allows `-s`.
    implicit: Option<&'static str>,
    /// What the user "types" after authentication.
    stdin: &'static str,
    /// `-m` values (`""`: no `-m`) and whether that case hangs in both tools.
    mechanisms: &'static [(&'static str, Hang)],
    /// TLS modes to cross with the mechanisms.
    modes: &'static [TlsMode],
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hang {
    No,
    /// Dovecot's ManageSieve sends SASL challenges as quoted strings; the C sivtest only
    /// understands `{n}` literals and waits for a line that never comes (spec §6.1, §10.16).
    SieveQuotedChallenge,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TlsMode {
    None,
    /// `-t ""`
    StartTls,
    /// `-s` on the implicit-TLS port
    Implicit,
}

const ALL_MODES: &[TlsMode] = &[TlsMode::None, TlsMode::StartTls, TlsMode::Implicit];
const SASL_MECHS: &[(&str, Hang)] = &[
    ("", Hang::No),
    ("plain", Hang::No),
    ("login", Hang::No),
    ("cram-md5", Hang::No),
    ("digest-md5", Hang::No),
    ("scram-sha-1", Hang::No),
    ("scram-sha-256", Hang::No),
];

const PROTOCOLS: &[Protocol] = &[
    Protocol {
        tool: "imtest",
        label: "imap",
        port: "IMAP_PORT",
        implicit: Some("IMAPS_PORT"),
        stdin: "a1 NOOP\n",
        // `-m login` is the IMAP LOGIN command here, not SASL LOGIN (spec §6.3).
        mechanisms: SASL_MECHS,
        modes: ALL_MODES,
    },
    Protocol {
        tool: "pop3test",
        label: "pop3",
        port: "POP3_PORT",
        implicit: Some("POP3S_PORT"),
        stdin: "STAT\n",
        mechanisms: &[
            ("", Hang::No),
            ("plain", Hang::No),
            ("user", Hang::No),
            ("login", Hang::No),
            ("cram-md5", Hang::No),
            ("digest-md5", Hang::No),
            ("scram-sha-1", Hang::No),
            ("scram-sha-256", Hang::No),
        ],
        modes: ALL_MODES,
    },
    Protocol {
        tool: "smtptest",
        label: "smtp-postfix",
        port: "SMTP_PORT",
        implicit: Some("SMTPS_PORT"),
        stdin: "NOOP\n",
        mechanisms: SASL_MECHS,
        modes: ALL_MODES,
    },
    Protocol {
        tool: "smtptest",
        label: "submission-dovecot",
        port: "SUBMISSION_PORT",
        implicit: Some("SUBMISSIONS_PORT"),
        stdin: "NOOP\n",
        mechanisms: &[
            ("", Hang::No),
            ("plain", Hang::No),
            ("scram-sha-256", Hang::No),
        ],
        modes: ALL_MODES,
    },
    Protocol {
        tool: "lmtptest",
        label: "lmtp",
        port: "LMTP_PORT",
        implicit: None,
        stdin: "NOOP\n",
        // Dovecot's LMTP has no AUTH: no -m → "no mechanism available", -m plain → 5xx.
        mechanisms: &[("", Hang::No), ("plain", Hang::No)],
        modes: &[TlsMode::None, TlsMode::StartTls],
    },
    Protocol {
        tool: "sivtest",
        label: "sieve",
        port: "SIEVE_PORT",
        implicit: None,
        stdin: "LISTSCRIPTS\n",
        // Without -m the library picks SCRAM-SHA-256: a server-challenge mechanism.
        mechanisms: &[
            ("", Hang::SieveQuotedChallenge),
            ("plain", Hang::No),
            ("login", Hang::SieveQuotedChallenge),
            ("cram-md5", Hang::SieveQuotedChallenge),
        ],
        modes: &[TlsMode::None, TlsMode::StartTls],
    },
];

/// What a case must show.
enum Expect {
    /// Same stdout, stderr and exit status after normalisation.
    Same,
    /// Both tools block; they are killed after [`HANG_TIMEOUT`] and what they printed until
    /// then must be the same. The string says why they hang.
    BothHang(&'static str),
    /// A deliberate difference: the outputs must differ, and `check(c, ours)` must accept the
    /// difference (it checks the stated one, so any other change still fails).
    Differ {
        reason: &'static str,
        check: fn(&Norm, &Norm) -> Result<(), String>,
    },
}

/// One row: `tool args -p <port> 127.0.0.1 < stdin`.
struct Case {
    name: String,
    tool: &'static str,
    port: &'static str,
    /// Whitespace-separated; `''` is an empty argument, `{dir}` the lab directory.
    args: String,
    stdin: String,
    expect: Expect,
    /// The C tool runs with this port and these args instead (3.6.1 has no `-H`: it is
    /// compared on the plain listener, where the server sees the same session).
    c_instead: Option<(&'static str, String)>,
    /// After our run, this text must appear in this lab log file (e.g. the client address
    /// Dovecot took from our HAProxy header).
    server_log: Option<(&'static str, String)>,
    /// Runs alone among the cases that set this (OTP: a user with an exchange under way is
    /// locked, so two OTP logins at once would fail one of them).
    serial: bool,
}

impl Case {
    fn new(name: impl Into<String>, tool: &'static str, port: &'static str, args: &str) -> Case {
        let stdin = match tool {
            "imtest" => "a1 NOOP\n",
            "pop3test" => "STAT\n",
            "sivtest" => "LISTSCRIPTS\n",
            _ => "NOOP\n",
        };
        Case {
            name: name.into(),
            tool,
            port,
            args: args.to_owned(),
            stdin: stdin.to_owned(),
            expect: Expect::Same,
            c_instead: None,
            server_log: None,
            serial: false,
        }
    }

    fn serial(mut self) -> Case {
        self.serial = true;
        self
    }

    fn stdin(mut self, stdin: &str) -> Case {
        self.stdin = stdin.to_owned();
        self
    }

    fn hangs(mut self, why: &'static str) -> Case {
        self.expect = Expect::BothHang(why);
        self
    }

    fn differs(
        mut self,
        reason: &'static str,
        check: fn(&Norm, &Norm) -> Result<(), String>,
    ) -> Case {
        self.expect = Expect::Differ { reason, check };
        self
    }

    fn c_instead(mut self, port: &'static str, args: &str) -> Case {
        self.c_instead = Some((port, args.to_owned()));
        self
    }

    fn server_log(mut self, file: &'static str, needle: &str) -> Case {
        self.server_log = Some((file, needle.to_owned()));
        self
    }

    fn timeout(&self) -> Duration {
        match self.expect {
            Expect::BothHang(_) => HANG_TIMEOUT,
            _ => RUN_TIMEOUT,
        }
    }
}

/// The cross product of [`PROTOCOLS`], their TLS modes and mechanisms.
fn matrix_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for p in PROTOCOLS {
        for &mode in p.modes {
            for &(mech, hang) in p.mechanisms {
                let (port, tls) = match mode {
                    TlsMode::None => (p.port, ""),
                    TlsMode::StartTls => (p.port, "-t '' "),
                    TlsMode::Implicit => (p.implicit.expect("implicit port"), "-s "),
                };
                let m = match mech {
                    "" => String::new(),
                    // Two realms are offered: without -r the realm would be prompted for.
                    "digest-md5" => " -m digest-md5 -r lab.example".to_owned(),
                    m => format!(" -m {m}"),
                };
                let mode_name = match mode {
                    TlsMode::None => "plaintext",
                    TlsMode::StartTls => "starttls",
                    TlsMode::Implicit => "implicit-tls",
                };
                let mech_name = if mech.is_empty() {
                    "default-mech"
                } else {
                    mech
                };
                let name = format!("{}/{mode_name}/{mech_name}", p.label);
                let mut case =
                    Case::new(name, p.tool, port, &format!("{tls}{TIM}{m}")).stdin(p.stdin);
                if hang == Hang::SieveQuotedChallenge {
                    case = case.hangs(
                        "Dovecot's quoted SASL challenge, which sivtest cannot parse (spec §10.16)",
                    );
                }
                cases.push(case);
            }
        }
    }
    cases
}

/// Everything beyond the cross product.
fn special_cases() -> Vec<Case> {
    const IMAP: &str = "IMAP_PORT";
    const POP3: &str = "POP3_PORT";
    const SMTP: &str = "SMTP_PORT";
    const SIEVE: &str = "SIEVE_PORT";
    let sieve_hang = "Dovecot's quoted SASL challenge, which sivtest cannot parse (spec §10.16)";
    vec![
        // Wrong passwords and unknown users.
        Case::new(
            "imap/wrong-password/default-mech",
            "imtest",
            IMAP,
            "-a tim -w wrong",
        ),
        Case::new(
            "imap/wrong-password/plain",
            "imtest",
            IMAP,
            "-a tim -w wrong -m plain",
        ),
        Case::new(
            "imap/wrong-password/login",
            "imtest",
            IMAP,
            "-a tim -w wrong -m login",
        ),
        Case::new(
            "imap/wrong-password/cram-md5",
            "imtest",
            IMAP,
            "-a tim -w wrong -m cram-md5",
        ),
        Case::new(
            "imap/unknown-user/plain",
            "imtest",
            IMAP,
            "-a nobody -w x -m plain",
        ),
        Case::new("imap/no-authname/plain", "imtest", IMAP, "-w x -m plain"),
        Case::new(
            "pop3/wrong-password/user",
            "pop3test",
            POP3,
            "-a tim -w wrong -m user",
        ),
        Case::new(
            "pop3/wrong-password/plain",
            "pop3test",
            POP3,
            "-a tim -w wrong -m plain",
        ),
        Case::new(
            "pop3/apop-not-enabled",
            "pop3test",
            POP3,
            &format!("{TIM} -m apop"),
        ),
        Case::new(
            "smtp-postfix/wrong-password/default-mech",
            "smtptest",
            SMTP,
            "-a tim -w wrong",
        ),
        Case::new(
            "smtp-postfix/wrong-password/login",
            "smtptest",
            SMTP,
            "-a tim -w wrong -m login",
        ),
        Case::new(
            "sieve/wrong-password/plain",
            "sivtest",
            SIEVE,
            "-a tim -w wrong -m plain",
        ),
        // Master user: SASL authzid (-u), or IMAP LOGIN as user*master.
        Case::new(
            "imap/master-authzid/plain",
            "imtest",
            IMAP,
            "-a master -w masterpass -u tim -m plain",
        ),
        Case::new(
            "imap/master-authzid/default-mech",
            "imtest",
            IMAP,
            "-a master -w masterpass -u tim",
        ),
        Case::new(
            "imap/master-authzid/digest-md5",
            "imtest",
            IMAP,
            "-a master -w masterpass -u tim -m digest-md5 -r lab.example",
        ),
        Case::new(
            "imap/master-separator/login",
            "imtest",
            IMAP,
            "-a tim*master -w masterpass -m login",
        ),
        Case::new(
            "imap/authzid-not-master/plain",
            "imtest",
            IMAP,
            "-a bob -w secret -u tim -m plain",
        ),
        Case::new(
            "pop3/master-authzid/plain",
            "pop3test",
            POP3,
            "-a master -w masterpass -u tim -m plain",
        ),
        Case::new(
            "smtp-postfix/master-authzid/plain",
            "smtptest",
            SMTP,
            "-a master -w masterpass -u tim -m plain",
        ),
        Case::new(
            "sieve/master-authzid/plain",
            "sivtest",
            SIEVE,
            "-a master -w masterpass -u tim -m plain",
        ),
        // Realms (DIGEST-MD5 offers both; without -r the realm is read from stdin, spec §5.5).
        Case::new(
            "imap/realm-other/digest-md5",
            "imtest",
            IMAP,
            &format!("{BOB} -m digest-md5 -r other.example"),
        ),
        Case::new(
            "imap/realm-prompt/digest-md5",
            "imtest",
            IMAP,
            &format!("{BOB} -m digest-md5"),
        )
        .stdin("other.example\na1 NOOP\n"),
        Case::new(
            "imap/realm-unknown/digest-md5",
            "imtest",
            IMAP,
            &format!("{BOB} -m digest-md5 -r nowhere.example"),
        ),
        Case::new(
            "pop3/realm-other/digest-md5",
            "pop3test",
            POP3,
            &format!("{BOB} -m digest-md5 -r other.example"),
        ),
        // Password prompt without a terminal: read from stdin (spec §9.3).
        Case::new(
            "imap/password-prompt/plain",
            "imtest",
            IMAP,
            "-a tim -m plain",
        )
        .stdin("tanstaaftanstaaf\na1 NOOP\n"),
        Case::new(
            "pop3/password-prompt/user",
            "pop3test",
            POP3,
            "-a tim -m user",
        )
        .stdin("tanstaaftanstaaf\nSTAT\n"),
        // COMPRESS (-q): advertised before login by the lab's Dovecot.
        Case::new(
            "imap/compress/plaintext",
            "imtest",
            IMAP,
            &format!("-q {TIM} -m plain"),
        ),
        Case::new(
            "imap/compress/starttls",
            "imtest",
            IMAP,
            &format!("-q -t '' {TIM}"),
        ),
        Case::new(
            "imap/compress/implicit-tls",
            "imtest",
            "IMAPS_PORT",
            &format!("-q -s {TIM} -m login"),
        ),
        Case::new(
            "imap/compress/failed-auth",
            "imtest",
            IMAP,
            "-q -a tim -w wrong -m plain",
        )
        .hangs(
            "COMPRESS is sent even after a failed login; Dovecot answers BAD, which is neither \
             Z01 OK nor Z01 NO, so the reader waits for ever (spec §7.5)",
        ),
        Case::new(
            "pop3/compress-not-in-pop3",
            "pop3test",
            POP3,
            &format!("-q {TIM} -m user"),
        ),
        Case::new(
            "imap/compress/select",
            "imtest",
            IMAP,
            &format!("-q {TIM} -m plain"),
        )
        .stdin("a1 SELECT INBOX\na2 LIST \"\" *\n"),
        // Several rounds (-n 2).
        Case::new(
            "imap/rounds-2/plaintext",
            "imtest",
            IMAP,
            &format!("-n 2 {TIM} -m plain"),
        ),
        Case::new(
            "imap/rounds-2/starttls",
            "imtest",
            IMAP,
            &format!("-n 2 -t '' {TIM}"),
        ),
        Case::new(
            "imap/rounds-2/implicit-tls",
            "imtest",
            "IMAPS_PORT",
            &format!("-n 2 -s {TIM} -m login"),
        ),
        Case::new(
            "imap/rounds-2/wrong-password",
            "imtest",
            IMAP,
            "-n 2 -a tim -w wrong -m plain",
        ),
        Case::new(
            "pop3/rounds-2/user",
            "pop3test",
            POP3,
            &format!("-n 2 {TIM} -m user"),
        ),
        Case::new(
            "pop3/rounds-2/implicit-tls",
            "pop3test",
            "POP3S_PORT",
            &format!("-n 2 -s {TIM}"),
        ),
        Case::new(
            "smtp-postfix/rounds-2/starttls",
            "smtptest",
            SMTP,
            &format!("-n 2 -t '' {TIM} -m plain"),
        ),
        Case::new(
            "sieve/rounds-2/plain",
            "sivtest",
            SIEVE,
            &format!("-n 2 {TIM} -m plain"),
        ),
        // No initial response (-i), unknown or unusable mechanisms.
        Case::new(
            "imap/no-initial-response/plain",
            "imtest",
            IMAP,
            &format!("-i {TIM} -m plain"),
        ),
        Case::new(
            "pop3/no-initial-response/plain",
            "pop3test",
            POP3,
            &format!("-i {TIM} -m plain"),
        ),
        Case::new(
            "smtp-postfix/no-initial-response/plain",
            "smtptest",
            SMTP,
            &format!("-i {TIM} -m plain"),
        ),
        Case::new(
            "sieve/no-initial-response/plain",
            "sivtest",
            SIEVE,
            &format!("-i {TIM} -m plain"),
        )
        .hangs(sieve_hang),
        Case::new(
            "imap/not-advertised/bogus",
            "imtest",
            IMAP,
            &format!("{TIM} -m bogus"),
        ),
        Case::new(
            "pop3/not-advertised/bogus",
            "pop3test",
            POP3,
            &format!("{TIM} -m bogus"),
        ),
        Case::new(
            "smtp-postfix/unknown-mech/bogus",
            "smtptest",
            SMTP,
            &format!("{TIM} -m bogus"),
        ),
        Case::new(
            "imap/external-without-tls",
            "imtest",
            IMAP,
            &format!("{TIM} -m external"),
        ),
        // SSF limits.
        Case::new(
            "imap/min-ssf-1/plaintext",
            "imtest",
            IMAP,
            &format!("-k 1 {TIM}"),
        ),
        Case::new(
            "imap/min-ssf-1/starttls",
            "imtest",
            IMAP,
            &format!("-k 1 -t '' {TIM}"),
        ),
        Case::new(
            "imap/min-ssf-300/starttls",
            "imtest",
            IMAP,
            &format!("-k 300 -t '' {TIM}"),
        ),
        Case::new(
            "imap/max-ssf-0/digest-md5",
            "imtest",
            IMAP,
            &format!("-l 0 {TIM} -m digest-md5 -r lab.example"),
        ),
        Case::new(
            "imap/max-ssf-0/starttls",
            "imtest",
            IMAP,
            &format!("-l 0 -t '' {TIM}"),
        ),
        Case::new(
            "smtp-postfix/min-ssf-1/plaintext",
            "smtptest",
            SMTP,
            &format!("-k 1 {TIM}"),
        ),
        // Client certificates (STARTTLS only: -s ignores the key file, spec §3.4).
        Case::new(
            "imap/client-cert-tim/external",
            "imtest",
            IMAP,
            "-t {dir}/tim.pem -m external",
        ),
        Case::new(
            "imap/client-cert-tim/default-mech",
            "imtest",
            IMAP,
            &format!("-t {{dir}}/tim.pem {TIM}"),
        ),
        Case::new(
            "imap/client-cert-bob/external",
            "imtest",
            IMAP,
            "-t {dir}/bob.pem -m external",
        ),
        Case::new(
            "imap/client-cert-bob/external-authzid-tim",
            "imtest",
            IMAP,
            "-t {dir}/bob.pem -m external -u tim",
        ),
        Case::new(
            "imap/client-cert-bob/password-of-tim",
            "imtest",
            IMAP,
            &format!("-t {{dir}}/bob.pem {TIM} -m plain"),
        ),
        Case::new(
            "pop3/client-cert-tim/external",
            "pop3test",
            POP3,
            "-t {dir}/tim.pem -m external",
        ),
        Case::new(
            "submission-dovecot/client-cert-tim/external",
            "smtptest",
            "SUBMISSION_PORT",
            "-t {dir}/tim.pem -m external",
        ),
        Case::new(
            "sieve/client-cert-tim/external",
            "sivtest",
            SIEVE,
            "-t {dir}/tim.pem -m external",
        )
        .differs(
            "empty initial response as a literal: we print master's `C: {0+}`, 3.6.1 prints \
             `{0+}` + CR LF + `C: ` (spec §10.6, §12)",
            empty_literal_rendering,
        ),
        Case::new(
            "lmtp/client-cert-tim/starttls",
            "lmtptest",
            "LMTP_PORT",
            "-t {dir}/tim.pem",
        ),
        // STARTTLS where it is not offered, or not before STARTTLS.
        Case::new(
            "imap/implicit-tls-plus-starttls",
            "imtest",
            "IMAPS_PORT",
            &format!("-s -t '' {TIM}"),
        ),
        Case::new(
            "smtp-postfix/submission-port/no-starttls",
            "smtptest",
            "SMTP_SUBMISSION_PORT",
            TIM,
        ),
        Case::new(
            "smtp-postfix/submission-port/starttls",
            "smtptest",
            "SMTP_SUBMISSION_PORT",
            &format!("-t '' {TIM}"),
        ),
        Case::new(
            "smtp-postfix/submission-port/starttls-plain",
            "smtptest",
            "SMTP_SUBMISSION_PORT",
            &format!("-t '' {TIM} -m plain"),
        ),
        Case::new(
            "lmtp/implicit-tls-refused",
            "lmtptest",
            "LMTP_PORT",
            &format!("-s {TIM}"),
        ),
        Case::new(
            "sieve/implicit-tls-refused",
            "sivtest",
            SIEVE,
            &format!("-s {TIM}"),
        ),
        Case::new(
            "imap/connection-refused",
            "imtest",
            IMAP,
            &format!("{TIM} -p 1"),
        ),
        // HAProxy listeners (-H is master-only, so the C tool runs on the plain listener).
        Case::new(
            "imap/haproxy/plain",
            "imtest",
            "IMAP_HAPROXY_PORT",
            &format!("-H 192.0.2.7 {TIM} -m plain"),
        )
        .c_instead(IMAP, &format!("{TIM} -m plain"))
        .server_log("dovecot.log", "rip=192.0.2.7,"),
        Case::new(
            "imap/haproxy/starttls",
            "imtest",
            "IMAP_HAPROXY_PORT",
            &format!("-H 192.0.2.8 -t '' {TIM}"),
        )
        .c_instead(IMAP, &format!("-t '' {TIM}"))
        .server_log("dovecot.log", "rip=192.0.2.8,"),
        Case::new(
            "imap/haproxy/implicit-tls",
            "imtest",
            "IMAPS_HAPROXY_PORT",
            &format!("-H 192.0.2.9 -s {TIM}"),
        )
        .c_instead("IMAPS_PORT", &format!("-s {TIM}"))
        .server_log("dovecot.log", "rip=192.0.2.9,"),
        Case::new(
            "imap/haproxy/unknown",
            "imtest",
            "IMAP_HAPROXY_PORT",
            &format!("-H unknown {TIM} -m plain"),
        )
        .c_instead(IMAP, &format!("{TIM} -m plain")),
        Case::new(
            "imap/haproxy/v2-local",
            "imtest",
            "IMAP_HAPROXY_PORT",
            &format!("-H local {TIM} -m plain"),
        )
        .c_instead(IMAP, &format!("{TIM} -m plain")),
        Case::new(
            "pop3/haproxy/user",
            "pop3test",
            "POP3_HAPROXY_PORT",
            &format!("-H 192.0.2.10 {TIM} -m user"),
        )
        .c_instead(POP3, &format!("{TIM} -m user"))
        .server_log("dovecot.log", "rip=192.0.2.10,"),
        Case::new(
            "sieve/haproxy/plain",
            "sivtest",
            "SIEVE_HAPROXY_PORT",
            &format!("-H 192.0.2.11 {TIM} -m plain"),
        )
        .c_instead(SIEVE, &format!("{TIM} -m plain"))
        .server_log("dovecot.log", "rip=192.0.2.11,"),
        Case::new(
            "smtp-postfix/haproxy/default-mech",
            "smtptest",
            "SMTP_HAPROXY_PORT",
            &format!("-H 192.0.2.12 {TIM}"),
        )
        .c_instead(SMTP, TIM)
        .server_log("postfix/maillog", "[192.0.2.12]"),
        Case::new(
            "imap/haproxy/c-tool-has-no-H",
            "imtest",
            "IMAP_HAPROXY_PORT",
            &format!("-H 192.0.2.13 {TIM} -m plain"),
        )
        .differs(
            "-H exists only in upstream master (spec §12); we follow master",
            c_rejects_h_we_log_in,
        ),
    ]
}

/// The Cyrus 3.6.1 servers of the lab: the four names only Cyrus serves, and what Dovecot
/// cannot offer the other names.
fn cyrus_cases() -> Vec<Case> {
    const NNTP: &str = "NNTP_PORT";
    const HTTP: &str = "HTTP_PORT";
    const MUPDATE: &str = "MUPDATE_PORT";
    const SYNC: &str = "SYNC_PORT";
    const IMAP: &str = "CYRUS_IMAP_PORT";
    const POP3: &str = "CYRUS_POP3_PORT";
    const ADMIN: &str = "-a cyrus -w cyruspass";
    // One OTP user per case (scripts/lab.sh).
    let otp = |user: &str| format!("-a {user} -w otppass -m otp");
    // httpd keeps the connection open between requests: the last one asks it to close.
    const GET: &str = "GET / HTTP/1.1\nHost: lab.example\nConnection: close\n\n";
    const GET_TWO: &str = "GET / HTTP/1.1\nHost: lab.example\n\n\
                           GET / HTTP/1.1\nHost: lab.example\nConnection: close\n\n";
    let scram_sha1_fix = "3.6.1 keeps the line end in httptest's SCRAM `data` parameter and \
                          fails with `base64 decoding error: -5`; we read it as master does";
    let modes = [
        ("plaintext", "", None),
        ("starttls", "-t '' ", None),
        ("implicit-tls", "-s ", Some(())),
    ];
    let mut cases = Vec::new();
    // nntptest: every mechanism nntpd offers, AUTHINFO USER, in the three TLS modes.
    for (mode, tls, implicit) in modes {
        let port = if implicit.is_some() {
            "NNTPS_PORT"
        } else {
            NNTP
        };
        for mech in [
            "",
            "user",
            "plain",
            "login",
            "cram-md5",
            "digest-md5",
            "scram-sha-1",
            "scram-sha-256",
        ] {
            let prefix = format!("nntp/{mode}");
            cases.push(
                mech_case(&prefix, "nntptest", port, &format!("{tls}{TIM}"), mech).stdin("LIST\n"),
            );
        }
    }
    cases.extend([
        Case::new(
            "nntp/wrong-password/user",
            "nntptest",
            NNTP,
            "-a tim -w wrong -m user",
        )
        .stdin("LIST\n"),
        Case::new(
            "nntp/wrong-password/plain",
            "nntptest",
            NNTP,
            "-a tim -w wrong -m plain",
        )
        .stdin("LIST\n"),
        Case::new(
            "nntp/wrong-password/scram-sha-256",
            "nntptest",
            NNTP,
            "-a tim -w wrong -m scram-sha-256",
        )
        .stdin("LIST\n"),
        Case::new(
            "nntp/capabilities",
            "nntptest",
            NNTP,
            &format!("{TIM} -m plain"),
        )
        .stdin("CAPABILITIES\n"),
        Case::new(
            "nntp/mode-reader",
            "nntptest",
            NNTP,
            &format!("{TIM} -m user"),
        )
        .stdin("MODE READER\nLIST\n"),
        Case::new(
            "nntp/verbose",
            "nntptest",
            NNTP,
            &format!("-v {TIM} -m plain"),
        )
        .stdin("LIST\n"),
        Case::new("nntp/otp", "nntptest", NNTP, &otp("otpnntp"))
            .stdin("LIST\n")
            .serial(),
        Case::new(
            "nntp/compress",
            "nntptest",
            NNTP,
            &format!("-q {TIM} -m plain"),
        )
        .stdin("LIST\n"),
    ]);
    // httptest: plain and https, each scheme httpd offers, one and two requests.
    for (mode, tls, port) in [
        ("plaintext", "", HTTP),
        ("implicit-tls", "-s ", "HTTPS_PORT"),
    ] {
        for mech in ["", "basic", "digest", "scram-sha-256", "scram-sha-1"] {
            let prefix = format!("http/{mode}");
            let case =
                mech_case(&prefix, "httptest", port, &format!("{tls}{TIM}"), mech).stdin(GET);
            cases.push(if mech == "scram-sha-1" {
                case.differs(scram_sha1_fix, http_scram_sha1_logs_in)
            } else {
                case
            });
        }
    }
    cases.extend([
        Case::new(
            "http/wrong-password/basic",
            "httptest",
            HTTP,
            "-a tim -w wrong -m basic",
        )
        .stdin(GET),
        Case::new(
            "http/wrong-password/digest",
            "httptest",
            HTTP,
            "-a tim -w wrong -m digest",
        )
        .stdin(GET),
        Case::new(
            "http/wrong-password/scram-sha-256",
            "httptest",
            HTTP,
            "-a tim -w wrong -m scram-sha-256",
        )
        .stdin(GET),
        Case::new(
            "http/wrong-password/default-mech",
            "httptest",
            HTTP,
            "-a tim -w wrong",
        )
        .stdin(GET),
        Case::new(
            "http/wrong-password/scram-sha-1",
            "httptest",
            HTTP,
            "-a tim -w wrong -m scram-sha-1",
        )
        .stdin(GET)
        .differs(scram_sha1_fix, http_scram_sha1_refused),
        Case::new(
            "http/two-requests/basic",
            "httptest",
            HTTP,
            &format!("{TIM} -m basic"),
        )
        .stdin(GET_TWO),
        Case::new(
            "http/two-requests/digest",
            "httptest",
            HTTP,
            &format!("{TIM} -m digest"),
        )
        .stdin(GET_TWO),
        Case::new(
            "http/starttls/basic",
            "httptest",
            HTTP,
            &format!("-t '' {TIM} -m basic"),
        )
        .stdin(GET),
        Case::new(
            "http/verbose/basic",
            "httptest",
            HTTP,
            &format!("-v {TIM} -m basic"),
        )
        .stdin(GET),
        Case::new(
            "http/authzid/basic",
            "httptest",
            HTTP,
            &format!("{TIM} -u bob -m basic"),
        )
        .stdin(GET),
    ]);
    // mupdatetest and synctest: only the admin may use them.
    for (label, tool, port, stdin) in [
        ("mupdate", "mupdatetest", MUPDATE, "N01 NOOP\n"),
        ("csync", "synctest", SYNC, "NOOP\n"),
    ] {
        for mech in [
            "",
            "plain",
            "login",
            "cram-md5",
            "digest-md5",
            "scram-sha-1",
            "scram-sha-256",
        ] {
            let prefix = format!("{label}/plaintext");
            cases.push(mech_case(&prefix, tool, port, ADMIN, mech).stdin(stdin));
        }
        // STARTTLS for synctest only: the 3.6.1 mupdate master exits at the end of about
        // every other session that used STARTTLS (the Cyrus master restarts it), taking the
        // other mupdate sessions of the moment with it.
        if tool == "synctest" {
            cases.extend([
                Case::new(
                    format!("{label}/starttls/default-mech"),
                    tool,
                    port,
                    &format!("-t '' {ADMIN}"),
                )
                .stdin(stdin),
                Case::new(
                    format!("{label}/starttls/plain"),
                    tool,
                    port,
                    &format!("-t '' {ADMIN} -m plain"),
                )
                .stdin(stdin),
            ]);
        }
        cases.extend([
            not_admin(label, tool, port, stdin),
            Case::new(
                format!("{label}/wrong-password/plain"),
                tool,
                port,
                "-a cyrus -w wrong -m plain",
            )
            .stdin(stdin),
            Case::new(
                format!("{label}/verbose"),
                tool,
                port,
                &format!("-v {ADMIN} -m plain"),
            )
            .stdin(stdin),
            Case::new(
                format!("{label}/compress"),
                tool,
                port,
                &format!("-q {ADMIN} -m plain"),
            )
            .stdin(stdin),
        ]);
    }
    cases.extend([
        // OTP for synctest only: the mupdate master exits after an OTP login (the Cyrus
        // master restarts it), taking every other mupdate session of the moment with it.
        Case::new("csync/otp", "synctest", SYNC, &otp("otpsync"))
            .stdin("NOOP\n")
            .serial(),
        // Every mupdatetest and synctest case ends with the tool's own `Q01 LOGOUT` / `EXIT`;
        // one typed before it races the server's close (a reset or not, run to run).
    ]);
    // What Dovecot cannot give: OTP, DIGEST-MD5 layers, APOP, SCRAM-*-PLUS.
    cases.extend([
        Case::new("cyrus-imap/otp", "imtest", IMAP, &otp("otpimap")).serial(),
        Case::new("cyrus-pop3/otp", "pop3test", POP3, &otp("otppop3")).serial(),
        Case::new(
            "cyrus-sieve/otp",
            "sivtest",
            "CYRUS_SIEVE_PORT",
            &otp("otpsieve"),
        )
        .serial(),
        Case::new(
            "cyrus-lmtp/otp",
            "lmtptest",
            "CYRUS_LMTP_PORT",
            &otp("otplmtp"),
        )
        .serial(),
        Case::new(
            "cyrus-imap/otp-wrong-password",
            "imtest",
            IMAP,
            "-a otpimap -w wrong -m otp",
        )
        .serial(),
        Case::new(
            "cyrus-imap/digest-md5/auth-conf",
            "imtest",
            IMAP,
            &format!("{TIM} -m digest-md5"),
        )
        .stdin("a1 NOOP\na2 LIST \"\" *\n"),
        Case::new(
            "cyrus-imap/digest-md5/auth-int",
            "imtest",
            IMAP,
            &format!("-l 1 {TIM} -m digest-md5"),
        )
        .stdin("a1 NOOP\na2 LIST \"\" *\n"),
        Case::new(
            "cyrus-imap/digest-md5/auth",
            "imtest",
            IMAP,
            &format!("-l 0 {TIM} -m digest-md5"),
        ),
        Case::new(
            "cyrus-imap/digest-md5/min-ssf-56",
            "imtest",
            IMAP,
            &format!("-k 56 {TIM} -m digest-md5"),
        ),
        Case::new(
            "cyrus-pop3/digest-md5/auth-conf",
            "pop3test",
            POP3,
            &format!("{TIM} -m digest-md5"),
        ),
        Case::new(
            "cyrus-pop3/digest-md5/auth-int",
            "pop3test",
            POP3,
            &format!("-l 1 {TIM} -m digest-md5"),
        ),
        Case::new(
            "cyrus-sieve/digest-md5/auth-conf",
            "sivtest",
            "CYRUS_SIEVE_PORT",
            &format!("{TIM} -m digest-md5"),
        ),
        Case::new(
            "cyrus-sieve/digest-md5/auth-int",
            "sivtest",
            "CYRUS_SIEVE_PORT",
            &format!("-l 1 {TIM} -m digest-md5"),
        ),
        Case::new(
            "cyrus-lmtp/digest-md5",
            "lmtptest",
            "CYRUS_LMTP_PORT",
            &format!("{TIM} -m digest-md5"),
        ),
        Case::new(
            "cyrus-pop3/apop",
            "pop3test",
            POP3,
            &format!("{TIM} -m apop"),
        ),
        Case::new("cyrus-pop3/apop-default", "pop3test", POP3, TIM).stdin("STAT\n"),
        Case::new(
            "cyrus-pop3/apop-wrong-password",
            "pop3test",
            POP3,
            "-a tim -w wrong -m apop",
        ),
        Case::new(
            "cyrus-pop3/user",
            "pop3test",
            POP3,
            &format!("{TIM} -m user"),
        ),
        Case::new(
            "cyrus-imap/starttls/default-mech",
            "imtest",
            IMAP,
            &format!("-t '' {TIM}"),
        ),
        Case::new(
            "cyrus-imap/starttls/scram-sha-1-plus",
            "imtest",
            IMAP,
            &format!("-t '' {TIM} -m scram-sha-1-plus"),
        ),
        Case::new(
            "cyrus-imap/starttls/scram-sha-256-plus",
            "imtest",
            IMAP,
            &format!("-t '' {TIM} -m scram-sha-256-plus"),
        ),
        Case::new(
            "cyrus-imap/implicit-tls/scram-sha-256-plus",
            "imtest",
            "CYRUS_IMAPS_PORT",
            &format!("-s {TIM} -m scram-sha-256-plus"),
        ),
        Case::new(
            "cyrus-imap/plaintext/scram-sha-256-plus-not-offered",
            "imtest",
            IMAP,
            &format!("{TIM} -m scram-sha-256-plus"),
        ),
        Case::new(
            "cyrus-pop3/starttls/scram-sha-1-plus",
            "pop3test",
            POP3,
            &format!("-t '' {TIM} -m scram-sha-1-plus"),
        ),
        Case::new(
            "cyrus-pop3/implicit-tls/default-mech",
            "pop3test",
            "CYRUS_POP3S_PORT",
            &format!("-s {TIM}"),
        ),
        Case::new(
            "cyrus-sieve/starttls/scram-sha-256-plus",
            "sivtest",
            "CYRUS_SIEVE_PORT",
            &format!("-t '' {TIM} -m scram-sha-256-plus"),
        ),
        Case::new(
            "cyrus-lmtp/starttls/scram-sha-256-plus",
            "lmtptest",
            "CYRUS_LMTP_PORT",
            &format!("-t '' {TIM} -m scram-sha-256-plus"),
        ),
    ]);
    cases
}

/// `<prefix>/<mech>` (`default-mech` for none): `args`, then `-m <mech>` if there is one.
fn mech_case(prefix: &str, tool: &'static str, port: &'static str, args: &str, mech: &str) -> Case {
    let (name, m) = match mech {
        "" => ("default-mech", String::new()),
        mech => (mech, format!(" -m {mech}")),
    };
    Case::new(
        format!("{prefix}/{name}"),
        tool,
        port,
        &format!("{args}{m}"),
    )
}

/// A user who is not an admin of the mupdate master or sync_server.
fn not_admin(label: &str, tool: &'static str, port: &'static str, stdin: &str) -> Case {
    let case = Case::new(
        format!("{label}/not-admin/plain"),
        tool,
        port,
        &format!("{TIM} -m plain"),
    )
    .stdin(stdin);
    if tool == "synctest" {
        case.hangs(
            "sync_server answers every command of a non-admin with `NO Permission denied`, \
             EXIT included, so the session never ends",
        )
    } else {
        case
    }
}

/// httptest SCRAM-SHA-1 with the right password: 3.6.1 fails on its own base64 handling,
/// ours logs in (master's parsing); the rest of the output is the same up to that point.
fn http_scram_sha1_logs_in(c: &Norm, ours: &Norm) -> Result<(), String> {
    scram_sha1_c_failure(c)?;
    if ours.exit != Exit::Code(0) || !ours.stdout.contains("\nAuthenticated.\n") {
        return Err("ours did not log in".to_owned());
    }
    same_until_decoding_error(c, ours)
}

/// httptest SCRAM-SHA-1 with a wrong password: 3.6.1 fails on its own base64 handling, ours
/// sends the proof and the server refuses it.
fn http_scram_sha1_refused(c: &Norm, ours: &Norm) -> Result<(), String> {
    scram_sha1_c_failure(c)?;
    if ours.stdout.contains("base64 decoding error") || ours.stdout.contains("\nAuthenticated.\n") {
        return Err("ours did not end with the server's refusal".to_owned());
    }
    same_until_decoding_error(c, ours)
}

fn scram_sha1_c_failure(c: &Norm) -> Result<(), String> {
    if !c
        .stdout
        .contains("base64 decoding error: -5\nAuthentication failed. generic failure\n")
    {
        return Err("the C tool did not fail with its base64 decoding error".to_owned());
    }
    Ok(())
}

/// Both outputs agree up to where the C tool printed its decoding error.
fn same_until_decoding_error(c: &Norm, ours: &Norm) -> Result<(), String> {
    let at = c.stdout.find("base64 decoding error").unwrap_or(0);
    if !ours.stdout.starts_with(&c.stdout[..at]) {
        return Err("ours differs before the C tool's decoding error".to_owned());
    }
    Ok(())
}

/// The C 3.6.1 tool rejects `-H` (usage, exit 1); ours sends the header and logs in.
fn c_rejects_h_we_log_in(c: &Norm, ours: &Norm) -> Result<(), String> {
    if c.exit != Exit::Code(1)
        || !c.stderr.contains("invalid option -- 'H'")
        || !c.stdout.starts_with("Usage: imtest")
    {
        return Err("the C tool did not reject -H with its usage text".to_owned());
    }
    if ours.exit != Exit::Code(0) || !ours.stdout.contains("\nAuthenticated.\n") {
        return Err("ours did not log in through the HAProxy listener".to_owned());
    }
    Ok(())
}

/// Sieve EXTERNAL without `-u`: the same session, only the empty literal printed the master
/// way (`=C: {0+}` + CR LF instead of `={0+}` + CR LF + `C: ` + CR LF).
fn empty_literal_rendering(c: &Norm, ours: &Norm) -> Result<(), String> {
    const C_36: &str = "C: AUTHENTICATE \"EXTERNAL\" ={0+}\r\nC: \r\n";
    const MASTER: &str = "C: AUTHENTICATE \"EXTERNAL\" =C: {0+}\r\n";
    if !c.stdout.contains(C_36) {
        return Err(format!("the C tool did not print {C_36:?}"));
    }
    let expected = Norm {
        stdout: c.stdout.replacen(C_36, MASTER, 1),
        ..c.clone()
    };
    if *ours != expected {
        return Err(format!(
            "ours is not the C output with that one change:\n{}",
            describe_difference("expected", "ours", &expected, ours)
        ));
    }
    Ok(())
}

fn all_cases() -> Vec<Case> {
    let mut cases = matrix_cases();
    cases.extend(special_cases());
    cases.extend(cyrus_cases());
    let mut seen = std::collections::HashSet::new();
    for case in &cases {
        assert!(
            seen.insert(case.name.clone()),
            "duplicate case name {}",
            case.name
        );
    }
    match std::env::var("IMTEST_DIFFERENTIAL_FILTER") {
        Ok(filter) if !filter.is_empty() => {
            cases.retain(|c| filter.split(',').any(|f| c.name.contains(f)))
        }
        _ => {}
    }
    cases
}

// --- running and comparing ----------------------------------------------------------------------

/// An outcome after normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Norm {
    stdout: String,
    stderr: String,
    exit: Exit,
}

impl Norm {
    fn of(outcome: &Outcome) -> Norm {
        Norm {
            stdout: normalise(&outcome.stdout),
            stderr: normalise(&outcome.stderr),
            exit: outcome.exit,
        }
    }
}

fn expand(lab: &Lab, spec: &str, port: &str) -> Vec<String> {
    let dir = lab.dir.to_string_lossy();
    let mut args: Vec<String> = spec
        .split_whitespace()
        .map(|a| {
            if a == "''" {
                String::new()
            } else {
                a.replace("{dir}", &dir)
            }
        })
        .collect();
    // An explicit -p in the spec wins (getopt: the last one counts).
    args.splice(0..0, ["-p".to_owned(), lab.port(port).to_string()]);
    args.push("127.0.0.1".to_owned());
    args
}

fn run_side(lab: &Lab, case: &Case, tool: Tool) -> Outcome {
    let (port, spec) = match (&case.c_instead, tool) {
        (Some((port, spec)), Tool::C) => (*port, spec.as_str()),
        _ => (case.port, case.args.as_str()),
    };
    let args = expand(lab, spec, port);
    lab::run(
        tool,
        case.tool,
        &args,
        case.stdin.as_bytes(),
        case.timeout(),
    )
}

/// The command line a case runs, for the report.
fn command_line(lab: &Lab, case: &Case, tool: Tool) -> String {
    let (port, spec) = match (&case.c_instead, tool) {
        (Some((port, spec)), Tool::C) => (*port, spec.as_str()),
        _ => (case.port, case.args.as_str()),
    };
    let args = expand(lab, spec, port);
    let shown: Vec<String> = args
        .iter()
        .map(|a| {
            if a.is_empty() || a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect();
    format!("{} {} < {:?}", case.tool, shown.join(" "), case.stdin)
}

/// Unified diffs of the parts that differ (`old` = C, `new` = ours).
fn describe_difference(old_label: &str, new_label: &str, old: &Norm, new: &Norm) -> String {
    let mut text = String::new();
    if old.exit != new.exit {
        text.push_str(&format!(
            "    exit: {old_label}: {}, {new_label}: {}\n",
            old.exit, new.exit
        ));
    }
    for (part, a, b) in [
        ("stdout", &old.stdout, &new.stdout),
        ("stderr", &old.stderr, &new.stderr),
    ] {
        let d = unified(
            &format!("{old_label} {part}"),
            &format!("{new_label} {part}"),
            a,
            b,
            3,
        );
        for line in d.lines() {
            text.push_str("    ");
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Match,
    ExpectedDifference,
    Differ,
}

struct Report {
    verdict: Verdict,
    text: String,
}

/// Held while a [`Case::serial`] case runs.
fn serial_guard(case: &Case) -> Option<std::sync::MutexGuard<'static, ()>> {
    static SERIAL: Mutex<()> = Mutex::new(());
    case.serial
        .then(|| SERIAL.lock().unwrap_or_else(|e| e.into_inner()))
}

fn judge(lab: &Lab, case: &Case) -> Report {
    let guard = serial_guard(case);
    let c_raw = run_side(lab, case, Tool::C);
    let ours_raw = run_side(lab, case, Tool::Ours);
    drop(guard);
    let (c, ours) = (Norm::of(&c_raw), Norm::of(&ours_raw));
    let timing = format!(
        "C {:.2}s, ours {:.2}s",
        c_raw.elapsed.as_secs_f64(),
        ours_raw.elapsed.as_secs_f64()
    );
    let mut problems = Vec::new();
    let verdict_ok = match &case.expect {
        Expect::Same => {
            if c.exit == Exit::TimedOut {
                problems.push("the C tool timed out: the case or the lab is broken".to_owned());
            }
            c == ours
        }
        Expect::BothHang(_) => {
            if c.exit != Exit::TimedOut {
                problems.push(format!(
                    "the C tool was expected to hang but ended: {}",
                    c.exit
                ));
            }
            c == ours
        }
        Expect::Differ { check, .. } => {
            if c == ours {
                problems.push("expected a difference, but the outputs are equal".to_owned());
                false
            } else {
                match check(&c, &ours) {
                    Ok(()) => true,
                    Err(e) => {
                        problems.push(format!("not the expected difference: {e}"));
                        false
                    }
                }
            }
        }
    };
    if let Some((file, needle)) = &case.server_log {
        if !lab.wait_for_log(file, needle, Duration::from_secs(2)) {
            problems.push(format!("{file} does not show {needle:?} after our run"));
        }
    }
    let verdict = match (&case.expect, verdict_ok && problems.is_empty()) {
        (_, false) => Verdict::Differ,
        (Expect::Differ { .. }, true) => Verdict::ExpectedDifference,
        (_, true) => Verdict::Match,
    };
    let mut text = match verdict {
        Verdict::Match => match &case.expect {
            Expect::BothHang(why) => format!(
                "differential: [match]  {} ({timing}; both hang as expected: {why})\n",
                case.name
            ),
            _ => format!("differential: [match]  {} ({timing})\n", case.name),
        },
        Verdict::ExpectedDifference => {
            let Expect::Differ { reason, .. } = &case.expect else {
                unreachable!()
            };
            format!(
                "differential: [expected difference] {} ({timing}): {reason}\n",
                case.name
            )
        }
        Verdict::Differ => format!("differential: [DIFFER] {} ({timing})\n", case.name),
    };
    if verdict == Verdict::Differ {
        text.push_str(&format!("    C:    {}\n", command_line(lab, case, Tool::C)));
        text.push_str(&format!(
            "    ours: {}\n",
            command_line(lab, case, Tool::Ours)
        ));
        for p in &problems {
            text.push_str(&format!("    {p}\n"));
        }
        text.push_str(&describe_difference("C", "ours", &c, &ours));
    }
    Report { verdict, text }
}

/// Runs `work` on every case with `lab::max_jobs()` worker threads; results in case order.
fn run_all<T: Send>(cases: &[Case], work: impl Fn(&Case) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..cases.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..lab::max_jobs().min(cases.len()).max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let result = work(case);
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every case ran"))
        .collect()
}

/// The C tools against ours, on every case of the matrix.
#[test]
fn c_and_ours_agree_on_real_servers() {
    let lab = lab::lab();
    let cases = all_cases();
    let started = Instant::now();
    let reports = run_all(&cases, |case| judge(lab, case));
    let mut counts = [0usize; 3];
    let mut failed = Vec::new();
    for (case, report) in cases.iter().zip(&reports) {
        print!("{}", report.text);
        counts[report.verdict as usize] += 1;
        if report.verdict == Verdict::Differ {
            failed.push(case.name.as_str());
        }
    }
    let [matched, expected, differ] = counts;
    let summary = format!(
        "differential: {} cases, {} match, {} differ ({} expected differences held) in {:.1} s",
        cases.len(),
        matched + expected,
        differ,
        expected,
        started.elapsed().as_secs_f64()
    );
    println!("{summary}");
    eprintln!("{summary}");
    if differ > 0 && std::env::var("IMTEST_DIFFERENTIAL").as_deref() != Ok("report") {
        panic!(
            "{summary}; differing cases (diffs above):\n  {}",
            failed.join("\n  ")
        );
    }
}

/// The harness itself: the C tool run twice on every case must compare equal after
/// normalisation, so every remaining difference between C and ours is real.
#[test]
fn c_tool_is_stable_after_normalisation() {
    let lab = lab::lab();
    let cases = all_cases();
    let results = run_all(&cases, |case| {
        let guard = serial_guard(case);
        let first = Norm::of(&run_side(lab, case, Tool::C));
        let second = Norm::of(&run_side(lab, case, Tool::C));
        drop(guard);
        if first == second {
            None
        } else {
            Some(format!(
                "harness: the C tool differs from itself on {}:\n{}",
                case.name,
                describe_difference("C run 1", "C run 2", &first, &second)
            ))
        }
    });
    let unstable: Vec<String> = results.into_iter().flatten().collect();
    for text in &unstable {
        println!("{text}");
    }
    assert!(
        unstable.is_empty(),
        "{} of {} cases are not reproducible with the C tool (diffs above)",
        unstable.len(),
        cases.len()
    );
}

/// The matrix must keep covering what the issue asks for.
#[test]
fn matrix_covers_the_required_dimensions() {
    let cases = {
        let mut c = matrix_cases();
        c.extend(special_cases());
        c.extend(cyrus_cases());
        c
    };
    assert!(cases.len() >= 80, "only {} cases", cases.len());
    for tool in ["imtest", "pop3test", "smtptest", "lmtptest", "sivtest"] {
        assert!(cases.iter().any(|c| c.tool == tool), "no case for {tool}");
    }
    // The four names only Cyrus serves: at least 40 cases together, each with its own.
    let cyrus_only = ["nntptest", "httptest", "mupdatetest", "synctest"];
    let count = |tool: &str| cases.iter().filter(|c| c.tool == tool).count();
    assert!(cyrus_only.iter().map(|t| count(t)).sum::<usize>() >= 40);
    for tool in cyrus_only {
        assert!(count(tool) >= 8, "only {} cases for {tool}", count(tool));
    }
    for needle in ["-m otp", "-m apop", "-l 1", "-plus", "-v", "-m user"] {
        assert!(
            cyrus_cases().iter().any(|c| c.args.contains(needle)),
            "no Cyrus case uses {needle:?}"
        );
    }
    for needle in [
        "-t ''",
        "-s ",
        "-m plain",
        "-m login",
        "-m cram-md5",
        "-m digest-md5",
        "-m scram-sha-1",
        "-m scram-sha-256",
        "-m user",
        "-m external",
        "-u tim",
        "-r ",
        "-q ",
        "-n 2",
        "-H ",
        "-k ",
        "-l ",
        "-i ",
        "tim.pem",
        "-w wrong",
    ] {
        assert!(
            cases.iter().any(|c| c.args.contains(needle)),
            "no case uses {needle:?}"
        );
    }
}
