//! The argv walk that takes our options out before getopt, and the value checks.

use super::*;
use crate::cli::{LONG_OPTIONS, SHORT_OPTIONS};

fn argv(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn run_split(list: &[&str]) -> (Vec<String>, Vec<(String, Option<String>)>) {
    let split = split(&argv(list), SHORT_OPTIONS, &LONG_OPTIONS);
    let left = split
        .remaining
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let found = split
        .found
        .iter()
        .map(|(n, v)| {
            let v = v.as_ref().map(|v| String::from_utf8_lossy(v).into_owned());
            (n.to_string(), v)
        })
        .collect();
    (left, found)
}

fn found(name: &str, value: Option<&str>) -> (String, Option<String>) {
    (name.to_string(), value.map(str::to_string))
}

#[test]
fn full_names_are_taken_out_with_their_values() {
    let (left, got) = run_split(&[
        "imtest",
        "--cafile",
        "ca.pem",
        "-t",
        "",
        "--tls-min=1.3",
        "--verify",
        "host",
    ]);
    assert_eq!(left, ["imtest", "-t", "", "host"]);
    assert_eq!(
        got,
        [
            found("cafile", Some("ca.pem")),
            found("tls-min", Some("1.3")),
            found("verify", None)
        ]
    );
}

#[test]
fn option_arguments_and_the_end_marker_are_left_alone() {
    for list in [
        &["imtest", "-w", "--verify", "host"][..],
        &["imtest", "-vw", "--verify", "host"],
        &["imtest", "--password", "--verify", "host"],
        // glibc takes --passw for --password (a unique abbreviation of master's table).
        &["imtest", "--passw", "--verify", "host"],
        &["imtest", "--", "--verify"],
    ] {
        let (left, got) = run_split(list);
        assert!(got.is_empty(), "{list:?} took {got:?}");
        assert_eq!(left.len(), list.len(), "{list:?}");
    }
}

#[test]
fn a_glued_argument_or_an_ambiguous_name_takes_no_next_word() {
    for list in [
        &["imtest", "-wsecret", "--verify"][..],
        &["imtest", "--password=x", "--verify"],
        // ambiguous (pidfile, protocol, port, password): getopt complains, takes nothing.
        &["imtest", "--p", "--verify"],
        &["imtest", "-v", "--verify"],
    ] {
        let (_, got) = run_split(list);
        assert_eq!(got, [found("verify", None)], "{list:?}");
    }
}

#[test]
fn original_positions_are_kept_for_password_masking() {
    let split = split(
        &argv(&["imtest", "--verify", "-w", "pw", "--unix", "/s", "h"]),
        SHORT_OPTIONS,
        &LONG_OPTIONS,
    );
    assert_eq!(split.original_index, [0, 2, 3, 6]);
}

#[test]
fn a_missing_or_unwanted_argument_is_a_complaint() {
    assert!(split(&argv(&["imtest", "--cafile"]), SHORT_OPTIONS, &LONG_OPTIONS).complained);
    assert!(
        split(
            &argv(&["imtest", "--verify=yes"]),
            SHORT_OPTIONS,
            &LONG_OPTIONS
        )
        .complained
    );
    assert!(!split(&argv(&["imtest", "--verify"]), SHORT_OPTIONS, &LONG_OPTIONS).complained);
}

fn build_from(list: &[(&'static str, Option<&str>)]) -> Result<(Extras, Option<Secret>), String> {
    let found = list
        .iter()
        .map(|(n, v)| (*n, v.map(|v| v.as_bytes().to_vec())))
        .collect();
    let mut password = None;
    let extras = build(
        found,
        Extras {
            haproxy_version: 1,
            ..Extras::default()
        },
        &mut password,
    )?;
    Ok((extras, password))
}

#[test]
fn values_are_checked() {
    let (e, _) = build_from(&[("tls-min", Some("TLSv1.2")), ("tls-max", Some("1.3"))]).unwrap();
    assert_eq!(
        (e.tls_min, e.tls_max),
        (Some(TlsVersion::Tls1_2), Some(TlsVersion::Tls1_3))
    );
    assert!(build_from(&[("tls-min", Some("1.4"))]).is_err());
    let (e, _) = build_from(&[("cafile", Some("x"))]).unwrap();
    assert!(e.verify, "--cafile implies --verify");
    let (e, _) = build_from(&[("connect-timeout", Some("2.5"))]).unwrap();
    assert_eq!(e.connect_timeout, Some(Duration::from_millis(2500)));
    for bad in ["0", "-1", "x", "nan", "1e9"] {
        assert!(build_from(&[("read-timeout", Some(bad))]).is_err(), "{bad}");
    }
    assert!(build_from(&[("cb", Some("tls-exporter"))]).is_ok());
    assert!(build_from(&[("cb", Some("tls-other"))]).is_err());
    assert!(build_from(&[("ipv4", None), ("ipv6", None)]).is_err());
    assert!(build_from(&[("haproxy-version", Some("3"))]).is_err());
    assert!(build_from(&[("haproxy-dest", Some("nowhere"))]).is_err());
    assert!(build_from(&[("haproxy-source-port", Some("65536"))]).is_err());
}

#[test]
fn tlvs_by_name_number_and_hex() {
    let (e, _) = build_from(&[
        ("haproxy-tlv", Some("authority=mail.example")),
        ("haproxy-tlv", Some("0xE0=0x0102ff")),
        ("haproxy-tlv", Some("ssl")),
    ])
    .unwrap();
    assert_eq!(
        e.haproxy_tlvs,
        [
            (0x02, b"mail.example".to_vec()),
            (0xe0, vec![1, 2, 0xff]),
            (0x20, vec![1, 0, 0, 0, 0])
        ]
    );
    for bad in ["alpn", "300=x", "x=y", "1=0xabc"] {
        assert!(build_from(&[("haproxy-tlv", Some(bad))]).is_err(), "{bad}");
    }
}

#[test]
fn secrets_come_from_one_source_first_line_only() {
    let dir = std::env::temp_dir().join(format!("imtest-extras-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pw");
    std::fs::write(&file, "s3cret\r\nsecond line\n").unwrap();
    let name = file.to_str().unwrap();
    let (_, pw) = build_from(&[("password-file", Some(name))]).unwrap();
    assert_eq!(pw.unwrap().as_slice(), b"s3cret");
    let (e, _) = build_from(&[("oauth-token-file", Some(name))]).unwrap();
    assert_eq!(e.oauth_token.unwrap().as_slice(), b"s3cret");
    assert!(build_from(&[("password-file", Some(name)), ("password-fd", Some("0"))]).is_err());
    let missing = dir.join("missing");
    let err = build_from(&[("password-file", Some(missing.to_str().unwrap()))]).unwrap_err();
    assert!(err.ends_with("No such file or directory"), "{err}");
    std::fs::write(&file, "\n").unwrap();
    assert!(build_from(&[("oauth-token-file", Some(name))]).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
