//! The HAProxy PROXY header sent first on every connection with `-H` (spec §3.3),
//! reproducing upstream master's bytes exactly, quirks included.

use crate::options::HaProxy;
use std::net::SocketAddr;

/// PROXY protocol v2 signature.
const V2_SIGNATURE: [u8; 12] = [
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
];

/// The header bytes for this connection's local and remote ends.
pub fn header(kind: &HaProxy, local: &SocketAddr, remote: &SocketAddr) -> Vec<u8> {
    match kind {
        HaProxy::Local => {
            let mut bytes = V2_SIGNATURE.to_vec();
            // Version 2 / LOCAL, then INET+STREAM although LOCAL carries no address (as
            // master sends it), then a zero length.
            bytes.extend_from_slice(&[0x20, 0x11, 0x00, 0x00]);
            bytes
        }
        HaProxy::Unknown => b"PROXY UNKNOWN\r\n".to_vec(),
        HaProxy::ClientIp(source) => {
            // Master builds the destination from "<local-ip>;<local-port>" cut to the
            // length of the remote address text; with equal lengths that is the local IP.
            let local_text = format!("{};{}", local.ip(), local.port());
            let remote_len = remote.ip().to_string().len();
            let destination = &local_text[..remote_len.min(local_text.len())];
            format!(
                "PROXY TCP4 {source} {destination} {} {}\r\n",
                local.port(),
                remote.port()
            )
            .into_bytes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn v1_with_equal_length_addresses_names_local_ip() {
        let bytes = header(
            &HaProxy::ClientIp("192.0.2.7".into()),
            &addr("127.0.0.1:54321"),
            &addr("127.0.0.1:143"),
        );
        assert_eq!(bytes, b"PROXY TCP4 192.0.2.7 127.0.0.1 54321 143\r\n");
    }

    #[test]
    fn v1_destination_is_cut_to_remote_length() {
        let bytes = header(
            &HaProxy::ClientIp("x".into()),
            &addr("10.0.0.12:5000"),
            &addr("10.1.2.3:143"),
        );
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
}
