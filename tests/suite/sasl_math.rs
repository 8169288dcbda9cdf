//! SASL arithmetic for the Rust cases that check run-to-run values: base64 lines on the wire,
//! MD5, and the DIGEST-MD5 directives and `response=` value (RFC 2831).

use crate::engine::Observation;
use crate::support::wire::{b64decode, WireItem};

/// Client→server lines (without CR LF) that are pure base64 and decode to something `pred`
/// accepts, as (base64 text, decoded) pairs, in order.
pub fn client_b64_lines(
    obs: &Observation,
    pred: impl Fn(&[u8]) -> bool,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v = Vec::new();
    for w in &obs.wire {
        if let WireItem::ClientToServer(b) = w {
            for line in b.split(|&c| c == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.is_empty() {
                    continue;
                }
                if let Some(d) = b64decode(line) {
                    if pred(&d) {
                        v.push((line.to_vec(), d));
                    }
                }
            }
        }
    }
    v
}

/// Hex of MD5.
pub fn md5_hex(data: &[u8]) -> String {
    hex(&md5(data))
}

pub fn md5(data: &[u8]) -> Vec<u8> {
    openssl::hash::hash(openssl::hash::MessageDigest::md5(), data)
        .expect("md5")
        .to_vec()
}

pub fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// Splits a DIGEST-MD5 directive list (`a="x",b=y`) into (name, unquoted value) pairs.
pub fn digest_fields(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let eq = rest.find('=').unwrap_or(rest.len());
        let name = rest[..eq].trim().to_string();
        rest = rest.get(eq + 1..).unwrap_or("");
        let value;
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            value = r[..end].to_string();
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].to_string();
            rest = &rest[end..];
        }
        rest = rest.strip_prefix(',').unwrap_or(rest);
        out.push((name, value));
    }
    out
}

/// The RFC 2831 `response=` value for a DIGEST-MD5 client response with qop=auth.
pub fn digest_md5_response(
    user: &str,
    realm: &str,
    pass: &str,
    authzid: Option<&str>,
    fields: &[(String, String)],
    qop: &str,
) -> String {
    let f = |n: &str| {
        fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut a1 = md5(format!("{user}:{realm}:{pass}").as_bytes());
    a1.extend_from_slice(format!(":{}:{}", f("nonce"), f("cnonce")).as_bytes());
    if let Some(z) = authzid {
        a1.extend_from_slice(format!(":{z}").as_bytes());
    }
    let mut a2 = format!("AUTHENTICATE:{}", f("digest-uri"));
    if qop != "auth" {
        a2.push_str(":00000000000000000000000000000000");
    }
    md5_hex(
        format!(
            "{}:{}:{}:{}:{}:{}",
            md5_hex(&a1),
            f("nonce"),
            f("nc"),
            f("cnonce"),
            qop,
            md5_hex(a2.as_bytes())
        )
        .as_bytes(),
    )
}

/// docs/transcripts.md §13A.5's client-first message (its nonce is random in every run).
const SPEC_SCRAM_FIRST: &str = "biwsbj10aW0scj05ZjgzOXNhMFc0bVBVd0QwNTlYcmdnRDYxaWxuSFIyRA==";

/// `normalise: scram-client-first`: only a client-first message of the form
/// `n,,n=tim,r=<32 printable nonce characters>` (gs2 "n,," without TLS, nonce as libsasl2
/// makes it) has its base64 replaced by the spec's run's; anything else stays and shows up in
/// the diff.
pub fn scram_client_first(o: &mut Observation) {
    let firsts = client_b64_lines(o, |d| d.starts_with(b"n,,n=tim,r="));
    if let [(b64, dec)] = firsts.as_slice() {
        let nonce = &dec[b"n,,n=tim,r=".len()..];
        if nonce.len() == 32 && nonce.iter().all(|c| c.is_ascii_graphic() && *c != b',') {
            o.replace_all(b64, SPEC_SCRAM_FIRST.as_bytes());
        }
    }
}

/// docs/transcripts.md §13A.16's DIGEST-MD5 response (cnonce and so response differ per run).
const SPEC_DIGEST_RESPONSE: &str = "dXNlcm5hbWU9InRpbSIscmVhbG09Im15cmVhbG0iLG5vbmNlPSJPQTZNRzl0RVFHbTJoaCIsY25vbmNlPSJIc2ZKaWhDTXhQQlUxVXloOStiNFhjaEZXbktsWHhxTDhhR2dScHY5TUowPSIsbmM9MDAwMDAwMDEscW9wPWF1dGgsbWF4YnVmPTEwMjQsZGlnZXN0LXVyaT0iaW1hcC8xMjcuMC4wLjEiLHJlc3BvbnNlPTY5ZGIzOThkNWVjMDJkZGMzY2RhMjc2ZTA4ZTY3ZWY0";

/// `normalise: digest-md5-response`: only a response whose `response=` digest verifies
/// (RFC 2831, user tim, realm myrealm, password x, the run's cnonce) gets cnonce and digest
/// swapped for the spec's values; every other directive must then be exactly the spec's.
/// Anything else stays and shows up in the diff.
pub fn digest_md5_spec_response(o: &mut Observation) {
    use crate::support::wire::b64encode;
    let resp = client_b64_lines(o, |d| d.starts_with(b"username="));
    let [(b64, dec)] = resp.as_slice() else {
        return;
    };
    let Ok(text) = String::from_utf8(dec.clone()) else {
        return;
    };
    let fields = digest_fields(&text);
    let get = |f: &[(String, String)], n: &str| {
        f.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let want = digest_md5_response("tim", "myrealm", "x", None, &fields, "auth");
    if get(&fields, "response") != want || get(&fields, "cnonce").is_empty() {
        return;
    }
    let spec = String::from_utf8(b64decode(SPEC_DIGEST_RESPONSE.as_bytes()).unwrap()).unwrap();
    let spec_fields = digest_fields(&spec);
    let norm = text
        .replace(&get(&fields, "cnonce"), &get(&spec_fields, "cnonce"))
        .replace(&get(&fields, "response"), &get(&spec_fields, "response"));
    o.replace_all(b64, b64encode(norm.as_bytes()).as_bytes());
}

/// docs/transcripts.md §13A.30's client-first message (`n,a=bob,n=tim,r=<nonce>`).
const SPEC_HTTP_SCRAM_FIRST: &str =
    "bixhPWJvYixuPXRpbSxyPTlCMjVzODFLTFdCZWR4YW5TUGw3dlpKRmJLb3BVUVFq";

/// `normalise: http-scram-client-first`: the base64 of a SCRAM client-first message in
/// `Authorization: ... data=` becomes the spec's, but only when it decodes to
/// `n,a=bob,n=tim,r=` and a 32-character printable nonce (libsasl2's form); anything else
/// stays and shows up in the diff.
pub fn http_scram_client_first(o: &mut Observation) {
    const MARK: &[u8] = b" data=";
    const PREFIX: &[u8] = b"n,a=bob,n=tim,r=";
    let mut found = Vec::new();
    for w in &o.wire {
        let WireItem::ClientToServer(b) = w else {
            continue;
        };
        for line in b.split(|&c| c == b'\n') {
            let Some(at) = line.windows(MARK.len()).position(|x| x == MARK) else {
                continue;
            };
            let b64 = line[at + MARK.len()..].strip_suffix(b"\r").unwrap_or(line);
            let nonce = b64decode(b64).and_then(|d| d.strip_prefix(PREFIX).map(<[u8]>::to_vec));
            if nonce.is_some_and(|n| {
                n.len() == 32 && n.iter().all(|c| c.is_ascii_graphic() && *c != b',')
            }) {
                found.push(b64.to_vec());
            }
        }
    }
    if let [b64] = found.as_slice() {
        o.replace_all(b64, SPEC_HTTP_SCRAM_FIRST.as_bytes());
    }
}
