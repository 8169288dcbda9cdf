//! The PROXY header for `-H value` between odd addresses: v4 and v6 of any length, any ports,
//! any value text. 38 bytes of addresses and ports first, then the value.
#![no_main]

use imtest::parsers;
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

fn address(bytes: &[u8; 19]) -> SocketAddr {
    let port = u16::from_be_bytes([bytes[17], bytes[18]]);
    let ip = if bytes[0] & 1 == 0 {
        IpAddr::V4(Ipv4Addr::new(bytes[1], bytes[2], bytes[3], bytes[4]))
    } else {
        let mut raw = [0u8; 16];
        raw.copy_from_slice(&bytes[1..17]);
        IpAddr::V6(Ipv6Addr::from(raw))
    };
    SocketAddr::new(ip, port)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 38 {
        return;
    }
    let local = address(data[..19].try_into().expect("19 bytes"));
    let remote = address(data[19..38].try_into().expect("19 bytes"));
    let value = String::from_utf8_lossy(&data[38..]);
    let header = parsers::haproxy_header(&value, local, remote);
    if value.eq_ignore_ascii_case("local") {
        assert_eq!(header.len(), 16);
    } else {
        assert!(header.starts_with(b"PROXY "));
        assert!(header.ends_with(b"\r\n"));
        if !value.eq_ignore_ascii_case("unknown") {
            let tail = format!(" {} {}\r\n", local.port(), remote.port());
            assert!(header.ends_with(tail.as_bytes()));
        }
    }
});
