//! The header bytes, checked against master's and against the PROXY protocol
//! specification's layout (haproxy.org, doc/proxy-protocol.txt, section 2.2).

use super::*;

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn v1_extras() -> Extras {
    Extras {
        haproxy_version: 1,
        ..Extras::default()
    }
}

fn v2_extras() -> Extras {
    Extras {
        haproxy_version: 2,
        ..Extras::default()
    }
}

fn client(ip: &str) -> HaProxy {
    HaProxy::ClientIp(ip.into())
}

const LOCAL: &str = "127.0.0.1:54321";
const SERVER: &str = "127.0.0.1:143";

fn ends() -> Option<(SocketAddr, SocketAddr)> {
    Some((addr(LOCAL), addr(SERVER)))
}

#[test]
fn v1_with_equal_length_addresses_names_local_ip() {
    let bytes = header(&client("192.0.2.7"), &addr(LOCAL), &addr(SERVER));
    assert_eq!(bytes, b"PROXY TCP4 192.0.2.7 127.0.0.1 54321 143\r\n");
}

#[test]
fn v1_destination_is_cut_to_remote_length() {
    let bytes = header(&client("x"), &addr("10.0.0.12:5000"), &addr("10.1.2.3:143"));
    // remote "10.1.2.3" has 8 characters: "10.0.0.12;5000"[..8]
    assert_eq!(bytes, b"PROXY TCP4 x 10.0.0.1 5000 143\r\n");
}

#[test]
fn unknown_and_local() {
    let l = addr("127.0.0.1:1");
    assert_eq!(header(&HaProxy::Unknown, &l, &l), b"PROXY UNKNOWN\r\n");
    let v2 = header(&HaProxy::Local, &l, &l);
    assert_eq!(v2.len(), 16);
    assert_eq!(&v2[12..], &[0x20, 0x11, 0, 0]);
}

#[test]
fn without_options_build_gives_masters_bytes() {
    for kind in [client("192.0.2.7"), HaProxy::Unknown, HaProxy::Local] {
        let local = addr("10.0.0.12:5000");
        let remote = addr("10.1.2.3:143");
        assert_eq!(
            build(&kind, Some((local, remote)), &v1_extras()).unwrap(),
            header(&kind, &local, &remote)
        );
    }
}

#[test]
fn v1_fields_from_the_options_replace_only_what_they_name() {
    let ports = Extras {
        haproxy_source_port: Some(1111),
        haproxy_dest_port: Some(2222),
        ..Extras::default()
    };
    let local = addr("10.0.0.12:5000");
    let remote = addr("10.1.2.3:143");
    // Master's destination text stays (quirk included) without --haproxy-dest.
    let bytes = build(&client("x"), Some((local, remote)), &ports).unwrap();
    assert_eq!(bytes, b"PROXY TCP4 x 10.0.0.1 1111 2222\r\n");
    let dest = Extras {
        haproxy_dest: Some("198.51.100.1".parse().unwrap()),
        ..Extras::default()
    };
    let bytes = build(&client("x"), Some((local, remote)), &dest).unwrap();
    assert_eq!(bytes, b"PROXY TCP4 x 198.51.100.1 5000 143\r\n");
    let dest6 = Extras {
        haproxy_dest: Some("2001:db8::1".parse().unwrap()),
        ..Extras::default()
    };
    let bytes = build(&client("2001:db8::7"), Some((local, remote)), &dest6).unwrap();
    assert_eq!(bytes, b"PROXY TCP6 2001:db8::7 2001:db8::1 5000 143\r\n");
}

#[test]
fn without_tcp_ends_every_field_must_come_from_the_options() {
    let all = Extras {
        haproxy_dest: Some("192.0.2.1".parse().unwrap()),
        haproxy_source_port: Some(1),
        haproxy_dest_port: Some(24),
        ..Extras::default()
    };
    let bytes = build(&client("192.0.2.7"), None, &all).unwrap();
    assert_eq!(bytes, b"PROXY TCP4 192.0.2.7 192.0.2.1 1 24\r\n");
    let partial = Extras {
        haproxy_dest: Some("192.0.2.1".parse().unwrap()),
        ..Extras::default()
    };
    assert!(build(&client("192.0.2.7"), None, &partial).is_err());
    // UNKNOWN and LOCAL need no addresses.
    assert_eq!(
        build(&HaProxy::Unknown, None, &Extras::default()).unwrap(),
        b"PROXY UNKNOWN\r\n"
    );
}

/// The example of the specification, section 2.2: TCP over IPv4, addresses then ports,
/// all in network byte order.
#[test]
fn v2_proxy_over_ipv4() {
    let bytes = build(&client("192.0.2.7"), ends(), &v2_extras()).unwrap();
    let mut expected = V2_SIGNATURE.to_vec();
    expected.extend_from_slice(&[0x21, 0x11, 0x00, 12]);
    expected.extend_from_slice(&[192, 0, 2, 7, 127, 0, 0, 1]);
    expected.extend_from_slice(&[0xd4, 0x31, 0x00, 0x8f]); // 54321, 143
    assert_eq!(bytes, expected);
}

#[test]
fn v2_proxy_over_ipv6_maps_an_ipv4_destination() {
    let bytes = build(&client("2001:db8::7"), ends(), &v2_extras()).unwrap();
    assert_eq!(&bytes[12..16], &[0x21, 0x21, 0x00, 36]);
    let source: std::net::Ipv6Addr = "2001:db8::7".parse().unwrap();
    assert_eq!(&bytes[16..32], &source.octets());
    let mapped: std::net::Ipv6Addr = "::ffff:127.0.0.1".parse().unwrap();
    assert_eq!(&bytes[32..48], &mapped.octets());
    assert_eq!(&bytes[48..52], &[0xd4, 0x31, 0x00, 0x8f]);
    assert_eq!(bytes.len(), 52);
}

#[test]
fn v2_fields_and_tlvs_from_the_options() {
    let extras = Extras {
        haproxy_version: 2,
        haproxy_dest: Some("198.51.100.9".parse().unwrap()),
        haproxy_source_port: Some(0x1234),
        haproxy_dest_port: Some(993),
        haproxy_tlvs: vec![
            (0x20, vec![0x01, 0, 0, 0, 0]),
            (0x02, b"mail.example".to_vec()),
        ],
        ..Extras::default()
    };
    let bytes = build(&client("192.0.2.7"), ends(), &extras).unwrap();
    let mut expected = V2_SIGNATURE.to_vec();
    // 12 address bytes + (3 + 5) + (3 + 12) TLV bytes = 35.
    expected.extend_from_slice(&[0x21, 0x11, 0x00, 35]);
    expected.extend_from_slice(&[192, 0, 2, 7, 198, 51, 100, 9, 0x12, 0x34, 0x03, 0xe1]);
    expected.extend_from_slice(&[0x20, 0x00, 0x05, 0x01, 0, 0, 0, 0]);
    expected.extend_from_slice(&[0x02, 0x00, 12]);
    expected.extend_from_slice(b"mail.example");
    assert_eq!(bytes, expected);
}

#[test]
fn v2_unknown_is_a_local_command_without_addresses() {
    let mut extras = v2_extras();
    assert_eq!(
        build(&HaProxy::Unknown, ends(), &extras).unwrap(),
        [&V2_SIGNATURE[..], &[0x20, 0x00, 0x00, 0x00]].concat()
    );
    extras.haproxy_tlvs = vec![(0x04, vec![])];
    assert_eq!(
        build(&HaProxy::Unknown, None, &extras).unwrap(),
        [
            &V2_SIGNATURE[..],
            &[0x20, 0x00, 0x00, 0x03, 0x04, 0x00, 0x00]
        ]
        .concat()
    );
}

#[test]
fn v2_local_stays_masters_unless_tlvs_follow() {
    let plain = build(&HaProxy::Local, ends(), &v2_extras()).unwrap();
    assert_eq!(plain, header(&HaProxy::Local, &addr(LOCAL), &addr(SERVER)));
    let extras = Extras {
        haproxy_tlvs: vec![(0x04, vec![7])],
        ..v2_extras()
    };
    let with_tlv = build(&HaProxy::Local, ends(), &extras).unwrap();
    assert_eq!(
        &with_tlv[12..],
        &[0x20, 0x11, 0x00, 0x04, 0x04, 0x00, 0x01, 7]
    );
}

#[test]
fn v2_needs_an_address_and_matching_families() {
    let extras = v2_extras();
    assert!(check(&client("not-an-ip"), &extras).is_err());
    assert!(check(&client("not-an-ip"), &Extras::default()).is_ok());
    assert!(check(&client("192.0.2.7"), &extras).is_ok());
    // An IPv6 server cannot be named under an IPv4 source.
    let six = Some((addr("[::1]:5000"), addr("[::1]:143")));
    let err = build(&client("192.0.2.7"), six, &extras).unwrap_err();
    assert!(err.contains("--haproxy-dest"), "{err}");
    let mapped = Some((addr("[::1]:5000"), addr("[::ffff:10.0.0.1]:143")));
    let bytes = build(&client("192.0.2.7"), mapped, &extras).unwrap();
    assert_eq!(&bytes[20..24], &[10, 0, 0, 1]);
}
