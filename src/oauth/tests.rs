//! Unit tests of the bearer-token mechanisms: selection, option checks, the encoders and
//! the answers to challenges.

use super::*;
use crate::ffi::sasl;

fn credentials<'a>(authzid: Option<&'a [u8]>) -> Credentials<'a> {
    Credentials {
        authname: b"tim",
        authzid,
        host: "mail.example",
        port: 143,
        token: b"tok.en",
    }
}

#[test]
fn xoauth2_initial_response() {
    let ir = initial_response(Kind::XOAuth2, &credentials(Some(b"bob")));
    assert_eq!(ir.as_slice(), b"user=tim\x01auth=Bearer tok.en\x01\x01");
}

#[test]
fn oauthbearer_initial_response_uses_the_authzid_when_given() {
    let ir = initial_response(Kind::OAuthBearer, &credentials(None));
    assert_eq!(
        ir.as_slice(),
        b"n,a=tim,\x01host=mail.example\x01port=143\x01auth=Bearer tok.en\x01\x01"
    );
    let ir = initial_response(Kind::OAuthBearer, &credentials(Some(b"b,o=b")));
    assert_eq!(
        ir.as_slice(),
        b"n,a=b=2Co=3Db,\x01host=mail.example\x01port=143\x01auth=Bearer tok.en\x01\x01"
    );
    // An empty -u is no authorization identity.
    let ir = initial_response(Kind::OAuthBearer, &credentials(Some(b"")));
    assert!(ir.starts_with(b"n,a=tim,\x01"));
}

#[test]
fn names_are_case_insensitive() {
    assert_eq!(Kind::from_name(b"xoauth2"), Some(Kind::XOAuth2));
    assert_eq!(Kind::from_name(b"OAuthBearer"), Some(Kind::OAuthBearer));
    assert_eq!(Kind::from_name(b"PLAIN"), None);
    assert_eq!(Kind::from_name(b"XOAUTH2 PLAIN"), None);
}

#[test]
fn selection() {
    let both = Some(&b" AUTH=PLAIN AUTH=XOAUTH2 AUTH=OAUTHBEARER]\r\n"[..]);
    let xoauth2_only = Some(&b"\"PLAIN XOAUTH2\"\r\n"[..]);
    let lookalike = Some(&b"PLAIN XOAUTH2-NOT OAUTHBEARERX\r\n"[..]);
    // With a token -m decides; without one nothing is ours (the C tool's behaviour).
    assert_eq!(select(Some(b"xoauth2"), both, true), Some(Kind::XOAuth2));
    assert_eq!(select(Some(b"xoauth2"), both, false), None);
    assert_eq!(select(Some(b"plain"), both, true), None);
    // A token without -m: OAUTHBEARER first, then XOAUTH2, whole names only.
    assert_eq!(select(None, both, true), Some(Kind::OAuthBearer));
    assert_eq!(select(None, xoauth2_only, true), Some(Kind::XOAuth2));
    assert_eq!(select(None, lookalike, true), None);
    assert_eq!(select(None, None, true), None);
    // No token, no -m: libsasl2 as before.
    assert_eq!(select(None, both, false), None);
}

#[test]
fn option_checks() {
    let imap = crate::protocol::lookup("imap").unwrap();
    let http = crate::protocol::lookup("http").unwrap();
    assert_eq!(check_options(imap, false), Ok(()));
    assert_eq!(check_options(imap, true), Ok(()));
    assert_eq!(check_options(http, false), Ok(()));
    assert_eq!(
        check_options(http, true),
        Err("httptest does not support XOAUTH2/OAUTHBEARER bearer tokens".to_string())
    );
}

#[test]
fn initial_response_now_or_on_the_first_challenge() {
    let mut now = Mechanism::new(Kind::XOAuth2, &credentials(None));
    let started = now.start(true);
    assert_eq!(started.code, sasl::SASL_CONTINUE);
    assert_eq!(started.mechanism.as_deref(), Some("XOAUTH2"));
    assert_eq!(
        started.output.as_deref(),
        Some(&b"user=tim\x01auth=Bearer tok.en\x01\x01"[..])
    );

    let mut later = Mechanism::new(Kind::OAuthBearer, &credentials(None));
    let started = later.start(false);
    assert_eq!(started.mechanism.as_deref(), Some("OAUTHBEARER"));
    assert_eq!(started.output, None);
    let step = later.step(None);
    assert_eq!(step.code, sasl::SASL_CONTINUE);
    assert!(step.output.unwrap().starts_with(b"n,a=tim,"));
}

#[test]
fn error_challenge_is_answered_once_then_the_exchange_fails() {
    let error = br#"{"status":"invalid_token"}"#;
    for (kind, dummy) in [(Kind::OAuthBearer, &b"\x01"[..]), (Kind::XOAuth2, &b""[..])] {
        let mut mech = Mechanism::new(kind, &credentials(None));
        mech.start(true);
        let answer = mech.step(Some(error));
        assert_eq!(answer.code, sasl::SASL_CONTINUE);
        assert_eq!(answer.output.as_deref(), Some(dummy));
        let again = mech.step(Some(error));
        assert_eq!(again.code, sasl::SASL_BADPROT);
        assert_eq!(again.output, None);
    }
}

#[test]
fn a_malformed_error_challenge_gets_the_same_answer() {
    for challenge in [None, Some(&b""[..]), Some(&b"not json \x00\xff"[..])] {
        let mut fresh = Mechanism::new(Kind::OAuthBearer, &credentials(None));
        fresh.start(true);
        let answer = fresh.step(challenge);
        assert_eq!(answer.output.as_deref(), Some(&b"\x01"[..]));
    }
}

#[test]
fn oauthbearer_without_a_port_leaves_port_out() {
    let mut unix = credentials(None);
    unix.port = 0;
    assert_eq!(
        initial_response(Kind::OAuthBearer, &unix).as_slice(),
        b"n,a=tim,\x01host=mail.example\x01auth=Bearer tok.en\x01\x01"
    );
}
