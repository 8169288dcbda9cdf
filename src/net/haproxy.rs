//! The HAProxy PROXY header sent first on every connection with `-H` (docs/behaviour.md §3.3).
//! Without our `--haproxy-*` options the bytes are exactly upstream master's, quirks included; with
//! `--haproxy-version 2` an address becomes a v2 PROXY command (TCP over IPv4 or IPv6, then
//! the `--haproxy-tlv`s), and `--haproxy-dest`, `--haproxy-source-port` and
//! `--haproxy-dest-port` replace what they name in either version. Layout: the PROXY protocol
//! specification (haproxy.org, doc/proxy-protocol.txt), section 2.

use crate::options::{Extras, HaProxy};
use std::net::{IpAddr, SocketAddr};

/// PROXY protocol v2 signature.
const V2_SIGNATURE: [u8; 12] = [
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
];
/// Version 2 in the high nibble, the command (LOCAL 0, PROXY 1) in the low one.
const V2_LOCAL: u8 = 0x20;
const V2_PROXY: u8 = 0x21;
/// Address family (high nibble) and transport (low nibble).
const UNSPEC: u8 = 0x00;
const TCP_OVER_IPV4: u8 = 0x11;
const TCP_OVER_IPV6: u8 = 0x21;

/// Master's header for this connection's local and remote ends (no `--haproxy-*` option).
pub fn header(kind: &HaProxy, local: &SocketAddr, remote: &SocketAddr) -> Vec<u8> {
    match kind {
        // LOCAL says INET+STREAM although it carries no address, as master sends it.
        HaProxy::Local => v2(V2_LOCAL, TCP_OVER_IPV4, &[], &[]),
        HaProxy::Unknown => b"PROXY UNKNOWN\r\n".to_vec(),
        HaProxy::ClientIp(source) => master_v1(source, local, remote),
    }
}

/// Checks what can be checked before connecting: a v2 PROXY command needs a real address.
pub fn check(kind: &HaProxy, extras: &Extras) -> Result<(), String> {
    match kind {
        HaProxy::ClientIp(source) if extras.haproxy_version == 2 => parse_source(source).map(drop),
        _ => Ok(()),
    }
}

/// The header for this connection. `ends` are its local and remote TCP addresses (`None`
/// over a UNIX-domain socket, where the options must name every field: see `extras::check`).
pub fn build(
    kind: &HaProxy,
    ends: Option<(SocketAddr, SocketAddr)>,
    extras: &Extras,
) -> Result<Vec<u8>, String> {
    let fields = || Fields::new(ends, extras);
    if let (Some((local, remote)), 1, false, true) = (
        ends,
        extras.haproxy_version,
        overridden(extras),
        extras.haproxy_tlvs.is_empty(),
    ) {
        return Ok(header(kind, &local, &remote));
    }
    match (kind, extras.haproxy_version) {
        // TLVs (v2 only) may follow master's LOCAL.
        (HaProxy::Local, _) => Ok(v2(V2_LOCAL, TCP_OVER_IPV4, &[], &extras.haproxy_tlvs)),
        // No address to tell: a LOCAL command with family UNSPEC (the receiver keeps the
        // connection's own addresses), as HAProxy itself sends it; a PROXY command with
        // UNSPEC is refused by Dovecot and Postfix.
        (HaProxy::Unknown, 2) => Ok(v2(V2_LOCAL, UNSPEC, &[], &extras.haproxy_tlvs)),
        (HaProxy::Unknown, _) => Ok(b"PROXY UNKNOWN\r\n".to_vec()),
        (HaProxy::ClientIp(source), 2) => {
            let source = parse_source(source)?;
            let fields = fields()?;
            let (family, addresses) = v2_addresses(source, &fields)?;
            Ok(v2(V2_PROXY, family, &addresses, &extras.haproxy_tlvs))
        }
        (HaProxy::ClientIp(source), _) => Ok(v1(source, ends, extras.haproxy_dest, &fields()?)),
    }
}

/// Whether any of the fields master fills in by itself was given.
fn overridden(extras: &Extras) -> bool {
    extras.haproxy_dest.is_some()
        || extras.haproxy_source_port.is_some()
        || extras.haproxy_dest_port.is_some()
}

/// Destination and ports: the options where given, else this connection's.
struct Fields {
    destination: IpAddr,
    source_port: u16,
    destination_port: u16,
}

impl Fields {
    fn new(ends: Option<(SocketAddr, SocketAddr)>, extras: &Extras) -> Result<Fields, String> {
        let missing = |what: &str| format!("the PROXY header needs {what} (no TCP connection)");
        let local = ends.map(|(local, _)| local);
        let remote = ends.map(|(_, remote)| remote);
        Ok(Fields {
            destination: extras
                .haproxy_dest
                .or(remote.map(|r| r.ip()))
                .ok_or_else(|| missing("--haproxy-dest"))?,
            source_port: extras
                .haproxy_source_port
                .or(local.map(|l| l.port()))
                .ok_or_else(|| missing("--haproxy-source-port"))?,
            destination_port: extras
                .haproxy_dest_port
                .or(remote.map(|r| r.port()))
                .ok_or_else(|| missing("--haproxy-dest-port"))?,
        })
    }
}

fn parse_source(source: &str) -> Result<IpAddr, String> {
    source
        .parse()
        .map_err(|_| format!("-H {source}: not an IP address (a version 2 PROXY header needs one)"))
}

/// Family byte and address block: both addresses in the source's family (an IPv4
/// destination under an IPv6 source is written v4-mapped), then the two ports.
fn v2_addresses(source: IpAddr, fields: &Fields) -> Result<(u8, Vec<u8>), String> {
    let mut block = Vec::with_capacity(36);
    let family = match (source, fields.destination) {
        (IpAddr::V4(source), destination) => {
            let destination = match destination {
                IpAddr::V4(v4) => v4,
                IpAddr::V6(v6) => v6.to_ipv4_mapped().ok_or_else(|| {
                    format!(
                        "the PROXY header cannot carry IPv6 destination {v6} with IPv4 source \
                         {source} (give --haproxy-dest)"
                    )
                })?,
            };
            block.extend_from_slice(&source.octets());
            block.extend_from_slice(&destination.octets());
            TCP_OVER_IPV4
        }
        (IpAddr::V6(source), destination) => {
            let destination = match destination {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            block.extend_from_slice(&source.octets());
            block.extend_from_slice(&destination.octets());
            TCP_OVER_IPV6
        }
    };
    block.extend_from_slice(&fields.source_port.to_be_bytes());
    block.extend_from_slice(&fields.destination_port.to_be_bytes());
    Ok((family, block))
}

/// Signature, version/command, family, length, addresses, TLVs (type, 16-bit length, value).
/// The options keep every value short enough for the 16-bit length.
fn v2(command: u8, family: u8, addresses: &[u8], tlvs: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut body = addresses.to_vec();
    for (kind, value) in tlvs {
        body.push(*kind);
        body.extend_from_slice(&(value.len() as u16).to_be_bytes());
        body.extend_from_slice(value);
    }
    let mut bytes = V2_SIGNATURE.to_vec();
    bytes.extend_from_slice(&[command, family]);
    bytes.extend_from_slice(&(body.len() as u16).to_be_bytes());
    bytes.extend_from_slice(&body);
    bytes
}

/// A v1 line with at least one field from the options. The destination is master's text
/// unless `--haproxy-dest` gives one; an IPv6 `--haproxy-dest` makes it `TCP6`.
fn v1(
    source: &str,
    ends: Option<(SocketAddr, SocketAddr)>,
    destination: Option<IpAddr>,
    fields: &Fields,
) -> Vec<u8> {
    let (protocol, destination) = match (destination, ends) {
        (Some(IpAddr::V6(v6)), _) => ("TCP6", v6.to_string()),
        (Some(IpAddr::V4(v4)), _) => ("TCP4", v4.to_string()),
        (None, Some((local, remote))) => ("TCP4", master_destination(&local, &remote)),
        // `Fields::new` already refused a header without a destination.
        (None, None) => ("TCP4", fields.destination.to_string()),
    };
    format!(
        "PROXY {protocol} {source} {destination} {} {}\r\n",
        fields.source_port, fields.destination_port
    )
    .into_bytes()
}

/// Master's destination text: "<local-ip>;<local-port>" cut to the length of the remote
/// address text; with equal lengths that is the local IP.
fn master_destination(local: &SocketAddr, remote: &SocketAddr) -> String {
    let local_text = format!("{};{}", local.ip(), local.port());
    let remote_len = remote.ip().to_string().len();
    local_text[..remote_len.min(local_text.len())].to_string()
}

/// Master's v1 line: always TCP4, ports of this connection.
fn master_v1(source: &str, local: &SocketAddr, remote: &SocketAddr) -> Vec<u8> {
    format!(
        "PROXY TCP4 {source} {} {} {}\r\n",
        master_destination(local, remote),
        local.port(),
        remote.port()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests;
