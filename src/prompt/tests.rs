//! Tests of the interaction filler: each request kind with and without command-line values,
//! and through real libsasl2 exchanges with a scripted console.

use super::*;
use crate::ffi::sasl::test_server::{self, SaslDb, SaslServer};
use crate::ffi::sasl::{Conn, ConnFlags, SASL_CONTINUE, SASL_OK};

/// A console that records what was shown and answers from a script.
#[derive(Default)]
struct Fake {
    shown: Vec<u8>,
    hidden: Vec<Vec<u8>>,
    lines: Vec<Vec<u8>>,
    line_max: Vec<usize>,
}

impl Console for Fake {
    fn show(&mut self, text: &[u8]) {
        self.shown.extend_from_slice(text);
    }
    fn read_hidden(&mut self) -> crate::ffi::secret::Secret {
        self.shown.extend_from_slice(b"<hidden read>");
        if self.hidden.is_empty() {
            Default::default()
        } else {
            crate::ffi::secret::Secret::new(self.hidden.remove(0))
        }
    }
    fn read_line(&mut self, max: usize) -> crate::ffi::secret::Secret {
        self.line_max.push(max);
        if self.lines.is_empty() {
            Default::default()
        } else {
            crate::ffi::secret::Secret::new(self.lines.remove(0))
        }
    }
}

fn bare() -> CliPrompter {
    CliPrompter {
        authname: b"tim".to_vec(),
        authzid: None,
        password: None,
        realm: None,
    }
}

fn full() -> CliPrompter {
    CliPrompter {
        authname: b"tim".to_vec(),
        authzid: Some(b"bob".to_vec()),
        password: Some(crate::ffi::secret::Secret::new(b"s3cret".to_vec())),
        realm: Some(b"realm.test".to_vec()),
    }
}

fn req<'a>(kind: PromptKind, challenge: Option<&'a str>, prompt: &'a str) -> PromptRequest<'a> {
    PromptRequest {
        kind,
        challenge,
        prompt,
    }
}

fn run(p: &CliPrompter, request: &PromptRequest, console: &mut Fake) -> Vec<u8> {
    p.respond(request, console).to_vec()
}

#[test]
fn command_line_values_answer_silently() {
    let mut console = Fake::default();
    let p = full();
    let pass = req(
        PromptKind::Pass,
        Some("Password"),
        "Please enter your password",
    );
    assert_eq!(run(&p, &pass, &mut console), b"s3cret");
    let user = req(
        PromptKind::User,
        Some("Authorization Name"),
        "Please enter your authorization name",
    );
    assert_eq!(run(&p, &user, &mut console), b"bob");
    let authname = req(
        PromptKind::AuthName,
        None,
        "Please enter your authentication name",
    );
    assert_eq!(run(&p, &authname, &mut console), b"tim");
    let realm = req(
        PromptKind::GetRealm,
        Some("Available realms: {r1}"),
        "Please enter your realm",
    );
    assert_eq!(run(&p, &realm, &mut console), b"realm.test");
    assert_eq!(console.shown, b"");
}

#[test]
fn user_and_authname_never_prompt() {
    let mut console = Fake::default();
    let p = bare();
    assert_eq!(
        run(&p, &req(PromptKind::User, None, "x"), &mut console),
        b""
    );
    assert_eq!(
        run(&p, &req(PromptKind::AuthName, None, "x"), &mut console),
        b"tim"
    );
    assert_eq!(console.shown, b"");
}

#[test]
fn password_without_w_prompts_and_reads_hidden() {
    let mut console = Fake {
        hidden: vec![b"typed".to_vec()],
        ..Fake::default()
    };
    let p = bare();
    // Challenge text of a PASS request is never shown.
    let pass = req(
        PromptKind::Pass,
        Some("Password"),
        "Please enter your password",
    );
    assert_eq!(run(&p, &pass, &mut console), b"typed");
    assert_eq!(console.shown, b"Please enter your password: <hidden read>");
}

#[test]
fn realm_without_r_reads_a_line_and_drops_its_last_character() {
    let p = bare();
    let realm = req(
        PromptKind::GetRealm,
        Some("Available realms: {r1}, {r2}."),
        "Please enter your realm",
    );
    for (line, expected) in [
        (&b"myrealm\n"[..], &b"myrealm"[..]),
        (b"myrealm", b"myreal"),
        (b"", b""),
        (b"\n", b""),
        (b"ab\0cd\n", b"a"),
        (b"\0x\n", b""),
    ] {
        let mut console = Fake {
            lines: vec![line.to_vec()],
            ..Fake::default()
        };
        assert_eq!(run(&p, &realm, &mut console), expected, "{line:?}");
        // A GETREALM challenge is not shown.
        assert_eq!(console.shown, b"Please enter your realm: ");
        assert_eq!(console.line_max, vec![1022]);
    }
}

#[test]
fn challenge_prompts_show_the_challenge_first() {
    let p = full();
    let mut console = Fake {
        lines: vec![b"hex:0123\n".to_vec()],
        ..Fake::default()
    };
    let echo = req(
        PromptKind::EchoPrompt,
        Some("otp-md5 498 vm1234 ext"),
        "Please enter your one-time password",
    );
    assert_eq!(run(&p, &echo, &mut console), b"hex:0123");
    assert_eq!(
        console.shown,
        b"Server challenge: otp-md5 498 vm1234 ext\nPlease enter your one-time password: "
    );

    let mut console = Fake {
        hidden: vec![b"x y z".to_vec()],
        ..Fake::default()
    };
    let noecho = req(PromptKind::NoEchoPrompt, Some("chal"), "Enter it");
    assert_eq!(run(&p, &noecho, &mut console), b"x y z");
    assert_eq!(
        console.shown,
        b"Server challenge: chal\nEnter it: <hidden read>"
    );

    let mut console = Fake {
        lines: vec![b"abc\n".to_vec()],
        ..Fake::default()
    };
    let no_challenge = req(PromptKind::EchoPrompt, None, "Say");
    assert_eq!(run(&p, &no_challenge, &mut console), b"abc");
    assert_eq!(console.shown, b"Say: ");
}

#[test]
fn login_name_is_the_real_users() {
    let expected = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap()
        .stdout;
    assert_eq!([current_login_name().as_slice(), b"\n"].concat(), expected);
}

// ----- through the real library ---------------------------------------------------------------

/// Runs `CliPrompter::respond` with a scripted console as the exchange's prompter.
struct Scripted<'a> {
    prompter: CliPrompter,
    console: &'a mut Fake,
}

impl Prompter for Scripted<'_> {
    fn answer(&mut self, request: &PromptRequest) -> crate::ffi::secret::Secret {
        self.prompter.respond(request, self.console)
    }
}

fn host(n: &str) -> String {
    format!("prompt-{n}-{}.example.test", std::process::id())
}

#[test]
fn plain_without_w_prompts_with_the_plugins_text() {
    let _g = test_server::lock();
    test_server::init();
    let db = SaslDb::create("example.test", &[("tim", "typed secret")]);
    let host = host("plain");
    let mut server = SaslServer::basic("imap", &host, &db, 256, 65536).unwrap();
    let mut client = Conn::new("imap", Some(&host), None, None, ConnFlags::default()).unwrap();
    let mut console = Fake {
        hidden: vec![b"typed secret".to_vec()],
        ..Fake::default()
    };
    let mut prompter = Scripted {
        prompter: bare(),
        console: &mut console,
    };
    let start = client.start(b"PLAIN", true, &mut prompter);
    assert_eq!(start.code, SASL_OK);
    assert_eq!(start.output.as_deref(), Some(&b"\0tim\0typed secret"[..]));
    assert_eq!(
        server.start_raw("PLAIN", start.output.as_deref()).0,
        SASL_OK
    );
    assert_eq!(console.shown, b"Please enter your password: <hidden read>");
}

#[test]
fn digest_md5_realm_prompt_reads_a_line() {
    let _g = test_server::lock();
    test_server::init();
    let host = host("digest");
    let mut client = Conn::new("imap", Some(&host), None, None, ConnFlags::default()).unwrap();
    let mut console = Fake {
        lines: vec![b"myrealm\n".to_vec()],
        ..Fake::default()
    };
    let mut prompter = Scripted {
        prompter: CliPrompter {
            authname: b"tim".to_vec(),
            authzid: None,
            password: Some(crate::ffi::secret::Secret::new(b"x".to_vec())),
            realm: None,
        },
        console: &mut console,
    };
    assert_eq!(
        client.start(b"DIGEST-MD5", true, &mut prompter).code,
        SASL_CONTINUE
    );
    let challenge = b"realm=\"r1\",realm=\"r2\",nonce=\"OA6MG9tEQGm2hh\",qop=\"auth\",charset=utf-8,algorithm=md5-sess";
    let reply = client.step(challenge, &mut prompter);
    assert_eq!(reply.code, SASL_CONTINUE);
    assert!(String::from_utf8_lossy(&reply.output.unwrap())
        .starts_with("username=\"tim\",realm=\"myrealm\","));
    // docs/transcripts.md §13A.16: the only thing shown is the realm prompt.
    assert_eq!(console.shown, b"Please enter your realm: ");
}
