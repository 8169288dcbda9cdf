//! Tests of the client wrapper against the real libsasl2: a client `Conn` and a test server
//! in the same process, full exchanges per mechanism, base64 and option lookup.

use super::test_server::{self, Mode, SaslDb, SaslServer};
use super::*;

/// A prompter answering from a script and recording every request.
#[derive(Default)]
struct Script {
    user: Vec<u8>,
    authname: Vec<u8>,
    pass: Option<Vec<u8>>,
    realm: Vec<u8>,
    echo: Vec<u8>,
    noecho: Vec<u8>,
    seen: Vec<Seen>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    kind: PromptKind,
    challenge: Option<String>,
    prompt: String,
}

impl Script {
    fn tim(password: &str) -> Script {
        Script {
            authname: b"tim".to_vec(),
            pass: Some(password.as_bytes().to_vec()),
            ..Script::default()
        }
    }

    fn kinds(&self) -> Vec<PromptKind> {
        self.seen.iter().map(|s| s.kind).collect()
    }

    fn prompt_for(&self, kind: PromptKind) -> Option<&Seen> {
        self.seen.iter().find(|s| s.kind == kind)
    }
}

impl Prompter for Script {
    fn answer(&mut self, request: &PromptRequest) -> Secret {
        self.seen.push(Seen {
            kind: request.kind,
            challenge: request.challenge.map(str::to_string),
            prompt: request.prompt.to_string(),
        });
        Secret::new(match request.kind {
            PromptKind::User => self.user.clone(),
            PromptKind::AuthName => self.authname.clone(),
            PromptKind::Pass => self.pass.clone().unwrap_or_default(),
            PromptKind::GetRealm => self.realm.clone(),
            PromptKind::EchoPrompt => self.echo.clone(),
            PromptKind::NoEchoPrompt => self.noecho.clone(),
        })
    }
}

/// One message of an exchange: who produced it, and the output as the library gave it.
#[derive(Debug)]
enum Msg {
    Client(Code, Option<Vec<u8>>),
    Server(Code, Option<Vec<u8>>),
}

#[derive(Debug)]
struct Outcome {
    mechanism: String,
    client_code: Code,
    server_code: Code,
    transcript: Vec<Msg>,
}

impl Outcome {
    /// The exchange as codes and output shapes: `none` (NULL), `empty`, or a byte count.
    fn shape(&self) -> String {
        let out = |o: &Option<Vec<u8>>| match o {
            None => "none".to_string(),
            Some(v) if v.is_empty() => "empty".to_string(),
            Some(v) => format!("{}B", v.len()),
        };
        let code = |c: Code| match c {
            SASL_OK => "OK".to_string(),
            SASL_CONTINUE => "CONTINUE".to_string(),
            other => other.to_string(),
        };
        let parts: Vec<String> = self
            .transcript
            .iter()
            .map(|m| match m {
                Msg::Client(c, o) => format!("C:{}/{}", code(*c), out(o)),
                Msg::Server(c, o) => format!("S:{}/{}", code(*c), out(o)),
            })
            .collect();
        parts.join(" ")
    }
}

const REALM: &str = "example.test";

/// A server host name not used before in this process: DIGEST-MD5 keeps re-authentication
/// state per host (client and server side), which would couple tests.
fn fresh_host() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("mail{}.example.test", N.fetch_add(1, Ordering::SeqCst))
}

fn client_for(host: &str, max_ssf: u32, flags: ConnFlags) -> Conn {
    let mut conn = Conn::new(
        "imap",
        Some(host),
        Some("127.0.0.1;40000"),
        Some("127.0.0.1;143"),
        flags,
    )
    .expect("sasl_client_new");
    conn.set_security(0, max_ssf, 1024).expect("secprops");
    conn
}

fn client(max_ssf: u32) -> Conn {
    client_for(&fresh_host(), max_ssf, ConnFlags::default())
}

/// A client and a server for a fresh host name.
fn pair(
    db: &std::sync::Arc<SaslDb>,
    client_max_ssf: u32,
    server_max_ssf: u32,
) -> (Conn, SaslServer) {
    let host = fresh_host();
    let server =
        SaslServer::basic("imap", &host, db, server_max_ssf, 65536).expect("sasl_server_new");
    (
        client_for(&host, client_max_ssf, ConnFlags::default()),
        server,
    )
}

/// Runs a whole exchange; the server decides when it is over.
fn exchange(
    client: &mut Conn,
    server: &mut SaslServer,
    mechlist: &str,
    want_ir: bool,
    script: &mut Script,
) -> Outcome {
    let mut transcript = Vec::new();
    let start = client.start(mechlist.as_bytes(), want_ir, script);
    transcript.push(Msg::Client(
        start.code,
        start.output.as_deref().map(<[u8]>::to_vec),
    ));
    let mechanism = start.mechanism.clone().unwrap_or_default();
    if start.code != SASL_OK && start.code != SASL_CONTINUE {
        return Outcome {
            mechanism,
            client_code: start.code,
            server_code: SASL_FAIL,
            transcript,
        };
    }
    let mut client_code = start.code;
    let (mut server_code, mut challenge) = server.start_raw(&mechanism, start.output.as_deref());
    transcript.push(Msg::Server(server_code, challenge.clone()));
    for _ in 0..10 {
        if server_code != SASL_CONTINUE {
            break;
        }
        let reply = client.step(challenge.as_deref().unwrap_or(&[]), script);
        transcript.push(Msg::Client(
            reply.code,
            reply.output.as_deref().map(<[u8]>::to_vec),
        ));
        client_code = reply.code;
        if reply.code != SASL_OK && reply.code != SASL_CONTINUE {
            break;
        }
        (server_code, challenge) = server.step_raw(reply.output.as_deref().unwrap_or(&[]));
        transcript.push(Msg::Server(server_code, challenge.clone()));
    }
    Outcome {
        mechanism,
        client_code,
        server_code,
        transcript,
    }
}

fn assert_success(outcome: &Outcome, server: &SaslServer) {
    assert_eq!(
        outcome.server_code,
        SASL_OK,
        "server: {} {:?}",
        errstring(outcome.server_code),
        outcome
    );
    assert_eq!(outcome.client_code, SASL_OK, "client: {:?}", outcome);
    eprintln!("{} exchange: {}", outcome.mechanism, outcome.shape());
    let user = server.username().unwrap_or_default();
    assert!(
        user == "tim" || user == format!("tim@{REALM}"),
        "username {user:?}"
    );
}

fn setup() -> std::sync::MutexGuard<'static, ()> {
    let guard = test_server::lock();
    test_server::init();
    guard
}

fn db() -> std::sync::Arc<SaslDb> {
    SaslDb::create(REALM, &[("tim", "tanstaaftanstaaf")])
}

// ----- mechanisms ---------------------------------------------------------------------------

#[test]
fn plain_with_initial_response() {
    let _g = setup();
    let db = db();
    let (mut c, mut s) = pair(&db, 128, 256);
    let mut script = Script::tim("tanstaaftanstaaf");
    let outcome = exchange(&mut c, &mut s, "PLAIN", true, &mut script);
    assert_eq!(outcome.mechanism, "PLAIN");
    assert_success(&outcome, &s);
    // The whole response comes from start: authzid NUL authname NUL password.
    match &outcome.transcript[0] {
        Msg::Client(code, Some(out)) => {
            assert_eq!(*code, SASL_OK);
            assert_eq!(out, b"\0tim\0tanstaaftanstaaf");
        }
        other => panic!("unexpected start {other:?}"),
    }
    assert_eq!(
        script.kinds(),
        vec![PromptKind::User, PromptKind::AuthName, PromptKind::Pass]
    );
    assert_eq!(
        script.prompt_for(PromptKind::Pass).unwrap().prompt,
        "Please enter your password"
    );
    assert_eq!(
        script.prompt_for(PromptKind::AuthName).unwrap().prompt,
        "Please enter your authentication name"
    );
    assert_eq!(
        script.prompt_for(PromptKind::User).unwrap().prompt,
        "Please enter your authorization name"
    );
    assert_eq!(c.ssf(), Ok(0));
}

#[test]
fn plain_without_initial_response_waits_for_a_challenge() {
    let _g = setup();
    let db = db();
    let (mut c, mut s) = pair(&db, 128, 256);
    let mut script = Script::tim("tanstaaftanstaaf");
    let outcome = exchange(&mut c, &mut s, "PLAIN", false, &mut script);
    assert_success(&outcome, &s);
    // No response slot was offered: CONTINUE and no output pointer, no prompts yet.
    assert!(
        matches!(outcome.transcript[0], Msg::Client(SASL_CONTINUE, None)),
        "{outcome:?}"
    );
}

#[test]
fn plain_wrong_password_is_refused_by_the_server() {
    let _g = setup();
    let db = db();
    let (mut c, mut s) = pair(&db, 128, 256);
    let mut script = Script::tim("wrong");
    let outcome = exchange(&mut c, &mut s, "PLAIN", true, &mut script);
    assert_eq!(outcome.server_code, SASL_BADAUTH);
    assert_eq!(errstring(SASL_BADAUTH), "authentication failure");
}

#[test]
fn plain_with_authzid_and_proxy_flag() {
    let _g = setup();
    let db = db();
    let mut c = Conn::new(
        "imap",
        Some("mail.example.test"),
        None,
        None,
        ConnFlags {
            need_proxy: true,
            ..ConnFlags::default()
        },
    )
    .unwrap();
    let mut s = SaslServer::basic("imap", "mail.example.test", &db, 256, 65536).unwrap();
    let mut script = Script::tim("tanstaaftanstaaf");
    script.user = b"tim".to_vec();
    let outcome = exchange(&mut c, &mut s, "CRAM-MD5 PLAIN", true, &mut script);
    // CRAM-MD5 cannot carry an authorization id, so NEED_PROXY skips it.
    assert_eq!(outcome.mechanism, "PLAIN");
    assert_success(&outcome, &s);
    match &outcome.transcript[0] {
        Msg::Client(_, Some(out)) => assert_eq!(out, b"tim\0tim\0tanstaaftanstaaf"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn login() {
    let _g = setup();
    let db = db();
    let (mut c, mut s) = pair(&db, 128, 256);
    let mut script = Script::tim("tanstaaftanstaaf");
    let outcome = exchange(&mut c, &mut s, "LOGIN", true, &mut script);
    assert_eq!(outcome.mechanism, "LOGIN");
    assert_success(&outcome, &s);
    assert_eq!(
        script.prompt_for(PromptKind::Pass).unwrap().prompt,
        "Please enter your password"
    );
    eprintln!("LOGIN transcript: {:?}", outcome.transcript);
}

#[test]
fn cram_md5() {
    let _g = setup();
    let db = db();
    let (mut c, mut s) = pair(&db, 128, 256);
    let mut script = Script::tim("tanstaaftanstaaf");
    let outcome = exchange(&mut c, &mut s, "CRAM-MD5", true, &mut script);
    assert_eq!(outcome.mechanism, "CRAM-MD5");
    assert_success(&outcome, &s);
    // Server first: start gives no output pointer even though one was asked for.
    assert!(
        matches!(outcome.transcript[0], Msg::Client(SASL_CONTINUE, None)),
        "{outcome:?}"
    );
    match &outcome.transcript[2] {
        Msg::Client(SASL_OK, Some(out)) => assert!(out.starts_with(b"tim ") && out.len() == 4 + 32),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        script.prompt_for(PromptKind::Pass).unwrap().prompt,
        "Please enter your password"
    );
}

#[test]
fn digest_md5_auth_only() {
    let _g = setup();
    let db = db();
    let (mut c, mut s) = pair(&db, 0, 256);
    let mut script = Script::tim("tanstaaftanstaaf");
    let outcome = exchange(&mut c, &mut s, "DIGEST-MD5", true, &mut script);
    assert_eq!(outcome.mechanism, "DIGEST-MD5");
    assert_success(&outcome, &s);
    assert_eq!(c.ssf(), Ok(0));
    let response = match &outcome.transcript[2] {
        Msg::Client(SASL_CONTINUE, Some(out)) => String::from_utf8_lossy(out).into_owned(),
        other => panic!("{other:?}"),
    };
    assert!(response.contains("qop=auth,maxbuf=1024,"), "{response}");
    eprintln!("DIGEST-MD5 transcript: {:?}", outcome.transcript);
    eprintln!("DIGEST-MD5 prompts: {:?}", script.seen);
}

/// DIGEST-MD5 with confidentiality: a security layer both ways.
#[test]
fn digest_md5_auth_conf_layer_round_trips() {
    let _g = setup();
    let db = db();
    let (mut c, mut s) = pair(&db, 256, 256);
    let mut script = Script::tim("tanstaaftanstaaf");
    let outcome = exchange(&mut c, &mut s, "DIGEST-MD5", true, &mut script);
    assert_success(&outcome, &s);
    let ssf = c.ssf().unwrap();
    assert!(ssf > 1, "ssf {ssf}");
    assert_eq!(s.ssf(), ssf);
    // The server's maxbuf (65536) limits what the client may encode at once.
    let max = c.max_out_buf().unwrap();
    assert!(max > 0 && max <= 65536, "maxoutbuf {max}");

    let message = b"a1 NOOP\r\n";
    let wire = c.encode(message).unwrap();
    assert_ne!(&wire[..], &message[..]);
    assert_eq!(s.decode(&wire).unwrap(), message);
    let reply = b"* OK hello\r\na1 OK done\r\n";
    let wire = s.encode(reply).unwrap();
    assert_eq!(c.decode(&wire).unwrap(), reply);
    // Split packets: nothing until the rest arrives.
    let wire = s.encode(b"second").unwrap();
    let (a, b) = wire.split_at(3);
    assert_eq!(c.decode(a).unwrap(), b"");
    assert_eq!(c.decode(b).unwrap(), b"second");
    // Garbage fails with a library code and a detail text.
    let mut bad = s.encode(b"third").unwrap();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let err = c.decode(&bad).unwrap_err();
    assert!(err < 0);
    let detail = c.errdetail_bytes().expect("detail");
    assert!(detail.starts_with(format!("SASL({err}): {}", errstring(err)).as_bytes()));
    eprintln!(
        "DIGEST-MD5 auth-conf ssf={ssf} maxoutbuf={max} bad-decode={err} ({}) detail={:?}",
        errstring(err),
        c.errdetail()
    );
}

#[test]
fn digest_md5_asks_for_realm_when_server_offers_several() {
    let _g = setup();
    // The server offers the realm we give it; a client realm answer goes into the response.
    let db = db();
    let (mut c, mut s) = pair(&db, 0, 256);
    let mut script = Script::tim("tanstaaftanstaaf");
    script.realm = REALM.as_bytes().to_vec();
    let start = c.start(b"DIGEST-MD5", true, &mut script);
    assert_eq!(start.code, SASL_CONTINUE);
    // Hand-made challenge with two realms (like docs/transcripts.md §13A.16).
    let challenge = b"realm=\"r1\",realm=\"r2\",nonce=\"OA6MG9tEQGm2hh\",qop=\"auth\",charset=utf-8,algorithm=md5-sess";
    let reply = c.step(challenge, &mut script);
    assert_eq!(reply.code, SASL_CONTINUE, "{}", errstring(reply.code));
    let seen = script
        .prompt_for(PromptKind::GetRealm)
        .expect("realm asked");
    assert_eq!(seen.prompt, "Please enter your realm");
    let out = String::from_utf8(reply.output.unwrap().to_vec()).unwrap();
    assert!(out.contains(&format!("realm=\"{REALM}\"")), "{out}");
    drop(s.start_raw("DIGEST-MD5", None));
    eprintln!("DIGEST-MD5 realm request: {seen:?}");
}

#[test]
fn scram_sha_256() {
    let _g = setup();
    let db = db();
    let (mut c, mut s) = pair(&db, 128, 256);
    let mut script = Script::tim("tanstaaftanstaaf");
    let outcome = exchange(&mut c, &mut s, "SCRAM-SHA-256", true, &mut script);
    assert_eq!(outcome.mechanism, "SCRAM-SHA-256");
    assert_success(&outcome, &s);
    match &outcome.transcript[0] {
        // gs2 header "n,," (no channel binding), then the client-first message.
        Msg::Client(SASL_CONTINUE, Some(out)) => {
            assert!(out.starts_with(b"n,,n=tim,r="), "{out:?}")
        }
        other => panic!("{other:?}"),
    }
    eprintln!("SCRAM-SHA-256 transcript: {:?}", outcome.transcript);
    eprintln!("SCRAM-SHA-256 prompts: {:?}", script.seen);
}

#[test]
fn scram_with_channel_binding_data_says_y_when_choosing() {
    let _g = setup();
    let db = db();
    let (mut c, mut s) = pair(&db, 128, 256);
    c.set_channel_binding("tls-unique", false, b"0123456789ab")
        .unwrap();
    let mut script = Script::tim("tanstaaftanstaaf");
    // Binding data, non-critical, a list to choose from without -PLUS: gs2 flag "y". The
    // server (no binding data of its own) still accepts.
    let outcome = exchange(&mut c, &mut s, "SCRAM-SHA-256 PLAIN", true, &mut script);
    assert_eq!(outcome.mechanism, "SCRAM-SHA-256");
    match &outcome.transcript[0] {
        Msg::Client(SASL_CONTINUE, Some(out)) => {
            assert!(out.starts_with(b"y,,n=tim,r="), "{out:?}")
        }
        other => panic!("{other:?}"),
    }
    assert_success(&outcome, &s);
    // A single mechanism named explicitly: non-critical binding data is not used ("n").
    let mut c = client(128);
    c.set_channel_binding("tls-unique", false, b"0123456789ab")
        .unwrap();
    let r = c.start(b"SCRAM-SHA-256", true, &mut script);
    assert!(r.output.unwrap().starts_with(b"n,,"));
}

/// After the client has checked the server's last message there is nothing to send: the
/// library then hands out a zero-length *non-NULL* output unless the connection was made with
/// SASL_SUCCESS_DATA (sieve, nntp), where it stays NULL. The C tool prints these differently.
#[test]
fn final_output_is_empty_or_null_depending_on_success_data() {
    let _g = setup();
    let db = db();
    for (mech, success_data, expected) in [
        ("SCRAM-SHA-256", false, Some(Vec::new())),
        ("SCRAM-SHA-256", true, None),
        ("DIGEST-MD5", false, Some(Vec::new())),
        ("DIGEST-MD5", true, None),
    ] {
        let host = fresh_host();
        let mut s = SaslServer::basic("imap", &host, &db, 256, 65536).unwrap();
        let flags = ConnFlags {
            success_data,
            ..ConnFlags::default()
        };
        let mut c = client_for(&host, 0, flags);
        let mut script = Script::tim("tanstaaftanstaaf");
        let outcome = exchange(&mut c, &mut s, mech, true, &mut script);
        assert_success(&outcome, &s);
        let last_client = outcome.transcript.iter().rev().find_map(|m| match m {
            Msg::Client(code, out) => Some((*code, out.clone())),
            Msg::Server(..) => None,
        });
        assert_eq!(
            last_client,
            Some((SASL_OK, expected)),
            "{mech} success_data={success_data}: {}",
            outcome.shape()
        );
    }
}

/// DIGEST-MD5 remembers a successful login per host: the next one on the same host starts
/// with a response at once (nonce count 2), as `-n` rounds would.
#[test]
fn digest_md5_second_login_on_the_same_host_reauthenticates() {
    let _g = setup();
    let db = db();
    let host = fresh_host();
    let mut script = Script::tim("tanstaaftanstaaf");
    for round in 1..=2 {
        let mut s = SaslServer::basic("imap", &host, &db, 256, 65536).unwrap();
        let mut c = client_for(&host, 0, ConnFlags::default());
        let outcome = exchange(&mut c, &mut s, "DIGEST-MD5", true, &mut script);
        assert_success(&outcome, &s);
        match (&outcome.transcript[0], round) {
            (Msg::Client(SASL_CONTINUE, None), 1) => {}
            (Msg::Client(SASL_CONTINUE, Some(out)), 2) => {
                assert!(
                    String::from_utf8_lossy(out).contains(",nc=00000002,"),
                    "{out:?}"
                )
            }
            (other, _) => panic!("round {round}: {other:?}"),
        }
        // Round 1: prompts in the first step (server first); round 2: already in start.
        assert_eq!(script.seen.len(), 3 * round);
    }
    let kinds = script.kinds();
    assert_eq!(kinds[..3], kinds[3..]);
}

/// RFC 2289 one-time password (MD5): hash(seed + pass-phrase) folded to 64 bits, then
/// `count` more folded hashes.
fn otp_md5(seed: &str, passphrase: &str, count: u32) -> String {
    use openssl::hash::{hash, MessageDigest};
    let fold = |data: &[u8]| {
        let digest = hash(MessageDigest::md5(), data).unwrap();
        let mut out = [0u8; 8];
        for (i, b) in digest.iter().enumerate() {
            out[i % 8] ^= b;
        }
        out
    };
    let mut otp = fold(format!("{}{passphrase}", seed.to_lowercase()).as_bytes());
    for _ in 0..count {
        otp = fold(&otp);
    }
    otp.iter().map(|b| format!("{b:02x}")).collect()
}

/// The OTP echo path: with challenge prompts the plugin asks for the one-time password,
/// showing the server's challenge.
#[test]
fn otp_with_challenge_prompts_asks_for_the_one_time_password() {
    let _g = setup();
    let db = SaslDb::create(REALM, &[("tim", "a secret pass-phrase")]);
    let (mut c, mut s) = pair(&db, 128, 256);
    let mut script = Script::tim("unused");
    let start = c.start(b"OTP", true, &mut script);
    assert_eq!(start.code, SASL_CONTINUE);
    // authzid (falls back to the authid when empty) NUL authid
    assert_eq!(start.output.as_deref(), Some(&b"tim\0tim"[..]));
    let (code, challenge) = s.start_raw("OTP", start.output.as_deref());
    assert_eq!(code, SASL_CONTINUE);
    let challenge = String::from_utf8(challenge.unwrap()).unwrap();
    // "otp-md5 <seq> <seed> ext"
    let words: Vec<&str> = challenge.split(' ').collect();
    assert_eq!((words[0], words[3]), ("otp-md5", "ext"), "{challenge}");
    let seq: u32 = words[1].parse().unwrap();
    script.echo = otp_md5(words[2], "a secret pass-phrase", seq).into_bytes();
    let reply = c.step(challenge.as_bytes(), &mut script);
    assert_eq!(reply.code, SASL_OK);
    let seen = script
        .prompt_for(PromptKind::EchoPrompt)
        .expect("echo prompt")
        .clone();
    assert_eq!(seen.prompt, "Please enter your one-time password");
    assert_eq!(seen.challenge.as_deref(), Some(challenge.as_str()));
    assert!(script.prompt_for(PromptKind::Pass).is_none());
    let (code, _) = s.step_raw(&reply.output.unwrap());
    assert_eq!(code, SASL_OK, "{}", errstring(code));
    assert_eq!(
        script.kinds(),
        vec![
            PromptKind::User,
            PromptKind::AuthName,
            PromptKind::EchoPrompt
        ]
    );
    eprintln!("OTP echo prompt request: {seen:?}");
}

/// The OTP pass-phrase path: without challenge prompts (no `-c`) the plugin asks for the
/// secret pass-phrase and computes the response itself. Client set-up is once per process,
/// so this runs in a child test process set up that way.
#[test]
fn otp_without_challenge_prompts_asks_for_the_pass_phrase() {
    let test = "ffi::sasl::tests::otp_without_challenge_prompts_asks_for_the_pass_phrase";
    if !test_server::in_child(test, Mode::NoChallengePrompts) {
        return;
    }
    let _g = setup();
    let db = SaslDb::create(REALM, &[("tim", "a secret pass-phrase")]);
    let (mut c, mut s) = pair(&db, 128, 256);
    let mut script = Script::tim("a secret pass-phrase");
    let outcome = exchange(&mut c, &mut s, "OTP", true, &mut script);
    assert_eq!(outcome.mechanism, "OTP");
    assert_success(&outcome, &s);
    let seen = script
        .prompt_for(PromptKind::Pass)
        .expect("pass-phrase asked");
    assert_eq!(seen.prompt, "Please enter your secret pass-phrase");
    assert!(script.prompt_for(PromptKind::EchoPrompt).is_none());
    eprintln!(
        "OTP pass-phrase request: {seen:?}; transcript {:?}",
        outcome.transcript
    );
    // A second login against the same sasldb uses the next sequence number.
    let (mut c, mut s) = pair(&db, 128, 256);
    let outcome = exchange(&mut c, &mut s, "OTP", true, &mut script);
    assert_success(&outcome, &s);
}

// ----- other client calls ---------------------------------------------------------------------

#[test]
fn start_failure_returns_code_and_nothing_else() {
    let _g = setup();
    let mut c = client(128);
    let mut script = Script::tim("x");
    let r = c.start(b"FOOBAR", true, &mut script);
    assert_eq!(r.code, SASL_NOMECH);
    assert!(r.mechanism.is_none() && r.output.is_none());
    assert_eq!(errstring(r.code), "no mechanism available");
    assert!(script.seen.is_empty());
}

/// The `-o` table reaches the library through GETOPT: `client_mech_list` (the later of two
/// entries wins) restricts the client's mechanisms — and also sets their order of preference.
#[test]
fn getopt_serves_the_option_table_to_the_library() {
    let test = "ffi::sasl::tests::getopt_serves_the_option_table_to_the_library";
    if !test_server::in_child(test, Mode::MechList) {
        return;
    }
    let _g = setup();
    let mut script = Script::tim("x");
    let choose = |list: &str, script: &mut Script| {
        let mut c = client(128);
        let r = c.start(list.as_bytes(), true, script);
        (r.code, r.mechanism)
    };
    // NTLM's plugin is installed, but not in the list.
    assert_eq!(choose("NTLM", &mut script).0, SASL_NOMECH);
    assert_eq!(choose("CRAM-MD5", &mut script).0, SASL_NOMECH);
    assert_eq!(
        choose("NTLM PLAIN", &mut script).1.as_deref(),
        Some("PLAIN")
    );
    // The list's order decides: PLAIN comes before SCRAM-SHA-256 there.
    assert_eq!(
        choose("SCRAM-SHA-256 PLAIN", &mut script).1.as_deref(),
        Some("PLAIN")
    );
    assert_eq!(
        choose("SCRAM-SHA-256 DIGEST-MD5", &mut script).1.as_deref(),
        Some("DIGEST-MD5")
    );
}

/// Without `client_mech_list` the library's own ranking decides, whatever the server's order.
#[test]
fn library_ranking_decides_the_mechanism() {
    let _g = setup();
    let mut script = Script::tim("x");
    for (list, expected) in [
        ("PLAIN SCRAM-SHA-256", "SCRAM-SHA-256"),
        ("SCRAM-SHA-256 PLAIN", "SCRAM-SHA-256"),
        ("LOGIN PLAIN", "PLAIN"),
        ("PLAIN LOGIN", "PLAIN"),
        ("PLAIN CRAM-MD5 LOGIN", "CRAM-MD5"),
        ("SCRAM-SHA-1 SCRAM-SHA-256", "SCRAM-SHA-256"),
        ("AUTH=PLAIN AUTH=LOGIN SASL-IR]\r\n", "PLAIN"),
    ] {
        let mut c = client(128);
        let r = c.start(list.as_bytes(), true, &mut script);
        assert_eq!(r.mechanism.as_deref(), Some(expected), "{list}");
    }
}

#[test]
fn min_ssf_rules_out_weak_mechanisms() {
    let _g = setup();
    let mut c = client(256);
    c.set_security(56, 256, 1024).unwrap();
    let mut script = Script::tim("x");
    let r = c.start(b"PLAIN CRAM-MD5 DIGEST-MD5", true, &mut script);
    assert_eq!(r.mechanism.as_deref(), Some("DIGEST-MD5"));
    // An external layer counts towards min_ssf and makes plaintext mechanisms eligible again.
    let mut c = client(256);
    c.set_security(56, 256, 1024).unwrap();
    c.set_external_ssf(256).unwrap();
    let r = c.start(b"PLAIN", true, &mut script);
    assert_eq!(r.code, SASL_OK);
}

#[test]
fn external_needs_an_external_id() {
    let _g = setup();
    let mut c = client(128);
    let mut script = Script::tim("x");
    assert_eq!(c.start(b"EXTERNAL", true, &mut script).code, SASL_NOMECH);
    let mut c = client(128);
    c.set_external_ssf(256).unwrap();
    c.set_external_auth_id(Some("server.example.test")).unwrap();
    let r = c.start(b"EXTERNAL", true, &mut script);
    assert_eq!(r.mechanism.as_deref(), Some("EXTERNAL"));
    assert_eq!(r.code, SASL_OK);
    // Sends the authorization id (USER), empty here: zero-length, non-NULL output.
    assert_eq!(r.output.as_deref(), Some(&b""[..]));
    let mut c = client(128);
    c.set_external_auth_id(Some("x")).unwrap();
    c.set_external_auth_id(None).unwrap();
    assert_eq!(c.start(b"EXTERNAL", true, &mut script).code, SASL_NOMECH);
}

#[test]
fn http_flag_and_request() {
    let _g = setup();
    let mut c = Conn::new(
        "HTTP",
        Some("www.example.test"),
        None,
        None,
        ConnFlags {
            need_http: true,
            ..ConnFlags::default()
        },
    )
    .unwrap();
    c.set_http_request("OPTIONS", "*", b"", false).unwrap();
    let mut script = Script::tim("x");
    // PLAIN does not support HTTP; SCRAM does.
    let r = c.start(b"PLAIN SCRAM-SHA-256", true, &mut script);
    assert_eq!(
        r.mechanism.as_deref(),
        Some("SCRAM-SHA-256"),
        "{}",
        errstring(r.code)
    );
}

#[test]
fn bad_names_are_bad_parameters() {
    let _g = setup();
    assert!(matches!(
        Conn::new("im\0ap", None, None, None, ConnFlags::default()),
        Err(SASL_BADPARAM)
    ));
}

#[test]
fn errdetail_after_failure() {
    let _g = setup();
    let mut c = client(128);
    let mut script = Script::tim("x");
    let _ = c.start(b"FOOBAR", true, &mut script);
    let detail = c.errdetail().unwrap();
    assert!(detail.contains("no mechanism available"), "{detail}");
}

// ----- base64 and option lookup (no connection needed) ---------------------------------------

#[test]
fn base64_like_the_library() {
    assert_eq!(encode64(b"").unwrap(), b"");
    assert_eq!(encode64(b"\0tim\0x").unwrap(), b"AHRpbQB4");
    assert_eq!(encode64(b"ab").unwrap(), b"YWI=");
    assert_eq!(decode64(b"AHRpbQB4").unwrap(), b"\0tim\0x");
    assert_eq!(decode64(b"").unwrap(), b"");
    // A trailing partial group is ignored (SASL_CONTINUE counts as success in the C tool).
    assert_eq!(decode64(b"YWI=Y").unwrap_err(), SASL_BADPROT);
    assert_eq!(decode64(b"YWJj").unwrap(), b"abc");
    assert_eq!(decode64(b"YWJjZA").unwrap(), b"abc");
    // Rejections are the library's own.
    assert_eq!(decode64(b"\rabc").unwrap_err(), SASL_FAIL);
    assert_eq!(decode64(b"1 BAD no").unwrap_err(), SASL_BADPROT);
    assert_eq!(decode64(b"YQ=a").unwrap_err(), SASL_BADPROT);
    // Text after a NUL is not seen (the C tool passes strlen).
    assert_eq!(decode64(b"YWJj\0!!!!").unwrap(), b"abc");
}

#[test]
fn base64_large_buffers() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + 3) as u8).collect();
    let text = encode64(&data).unwrap();
    assert_eq!(text.len(), data.len().div_ceil(3) * 4);
    assert_eq!(decode64(&text).unwrap(), data);
    // The C tool's 4096-byte buffer: 3069 bytes -> 4092 chars fit, 3072 -> 4096 do not.
    assert_eq!(encode64_within(&data[..3069], 4096).unwrap().len(), 4092);
    assert_eq!(
        encode64_within(&data[..3072], 4096).unwrap_err(),
        SASL_BUFOVER
    );
    assert_eq!(decode64_within(b"YWJjZGVm", 4).unwrap_err(), SASL_BUFOVER);
}

#[test]
fn errstrings() {
    assert_eq!(errstring(SASL_OK), "successful result");
    assert_eq!(errstring(SASL_FAIL), "generic failure");
    assert_eq!(errstring(SASL_NOMECH), "no mechanism available");
    assert_eq!(errstring(SASL_BADPROT), "bad protocol / cancel");
    assert_eq!(errstring(SASL_BUFOVER), "overflowed buffer");
}

#[test]
fn option_lookup_rules() {
    let table: Vec<(CString, CString)> =
        [("a", "1"), ("DIGEST-MD5_a", "2"), ("a", "3"), ("b", "4")]
            .iter()
            .map(|(k, v)| (CString::new(*k).unwrap(), CString::new(*v).unwrap()))
            .collect();
    let get = |plugin: Option<&str>, opt: &str| {
        lookup_option(&table, plugin.map(str::as_bytes), opt.as_bytes())
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(get(None, "a").as_deref(), Some("3"));
    assert_eq!(get(Some("DIGEST-MD5"), "a").as_deref(), Some("2"));
    assert_eq!(get(Some("PLAIN"), "a").as_deref(), Some("3"));
    assert_eq!(get(Some("PLAIN"), "b").as_deref(), Some("4"));
    assert_eq!(get(None, "c"), None);
    assert_eq!(get(Some("DIGEST-MD5"), "c"), None);
}

#[test]
fn sasl_ok_mapping() {
    assert_eq!(sasl_ok(0), Ok(Flow::Done));
    assert_eq!(sasl_ok(1), Ok(Flow::Continue));
    assert_eq!(sasl_ok(2), Ok(Flow::Interact));
    assert_eq!(sasl_ok(-13), Err(-13));
    assert_eq!(sasl_done(1), Err(1));
}

#[test]
fn base64_buffers_larger_than_needed_are_fine() {
    assert_eq!(decode64_within(b"YWJj", usize::MAX).unwrap(), b"abc");
    assert_eq!(encode64_within(b"abc", usize::MAX).unwrap(), b"YWJj");
    assert_eq!(encode64_within(b"abc", 5).unwrap(), b"YWJj");
    assert_eq!(encode64_within(b"abc", 4).unwrap_err(), SASL_BUFOVER);
}

#[test]
fn empty_challenge_as_null_or_as_empty_buffer() {
    let _g = setup();
    for as_null in [true, false] {
        let mut c = client(128);
        let mut script = Script::tim("pw");
        assert_eq!(c.start(b"PLAIN", false, &mut script).code, SASL_CONTINUE);
        let r = if as_null {
            c.step(b"", &mut script)
        } else {
            c.step_with(Some(b""), &mut script)
        };
        assert_eq!(r.code, SASL_OK);
        assert_eq!(r.output.as_deref(), Some(&b"\0tim\0pw"[..]));
    }
}

#[test]
fn answers_end_at_their_first_nul() {
    let _g = setup();
    let mut c = client(128);
    let mut script = Script::tim("pw\0ignored");
    let r = c.start(b"PLAIN", true, &mut script);
    assert_eq!(r.output.as_deref(), Some(&b"\0tim\0pw"[..]));
}

#[test]
fn callback_panics_are_caught_and_raised_after_the_call() {
    let value = guard(-1, || -> i32 { panic!("in a callback") });
    assert_eq!(value, -1);
    let raised = std::panic::catch_unwind(resume_panic);
    assert!(raised.is_err());
    // Raised once only.
    resume_panic();
}
