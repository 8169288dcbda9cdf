//! Case files: every `tests/cases/<topic>/<name>.case` is one listed test (two for a text
//! case: `::oracle` and `::ours`), parsed here into an engine [`Case`]. The grammar is in
//! `tests/README.md`. `CASE_BLESS=1` writes the C tool's exit status and stderr into the
//! same-as-C cases that are run.

use crate::engine::{trials, Case, Expect, LabRun};
use crate::mechanism::{authenticated, client_first, imap_tail, mask_sasl, refused, AuthView};
use crate::support::certs::certs;
use crate::support::run::Imp;
use crate::support::sasl_server::{
    framing, imap_login, proto_auth, ImapAuth, ProxyPolicy, SaslDb, ServerConfig,
};
use crate::support::server::*;
use libtest_mimic::{Failed, Trial};
use openssl::ssl::SslVersion;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// One server step of a case file.
#[derive(Debug, Clone)]
enum Op {
    Send(Vec<u8>),
    ReadLine(Option<Vec<u8>>),
    ReadExact(usize, Option<Vec<u8>>),
    ReadToEof,
    DiscardToEof,
    /// Wait for some bytes and drop them; they must start with the given bytes.
    DiscardSome(Vec<u8>),
    Pause(u64),
    StartTls(Tls),
    ForgetTlsSession,
    /// libsasl2 server steps: IMAP `AUTHENTICATE` / `LOGIN` (options: `proxy-all`,
    /// `max-ssf N`, `cb NAME`, `wrong-cb-data`), then the IMAP tail (CAPABILITY, NOOP until
    /// `Q01 LOGOUT`).
    SaslAuth(SaslStep),
    ImapTail(String),
    StartDeflate,
    Close,
    Reset,
    ReadTimeout(u64),
}

/// A libsasl2 server step of a mechanism exchange.
#[derive(Debug, Clone, Default)]
struct SaslStep {
    /// The protocol's framing (`imap` is IMAP `AUTHENTICATE` with its own step).
    protocol: String,
    login_command: bool,
    proxy_all: bool,
    max_ssf: Option<u32>,
    /// IMAP: the channel binding the server checks, and whether its data is spoilt.
    binding: Option<(String, bool)>,
}

/// A `starttls` step's server: certificate, client-certificate request, one protocol
/// version, a session cache (the context is then shared by every connection of the run, so a
/// later connection can resume an earlier one's session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Tls {
    identity: Identity,
    client_cert: bool,
    tls12: bool,
    session_cache: bool,
}

/// Which certificate a `starttls` step serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Identity {
    Server,
    SelfSigned,
    FullChain,
}

/// A deviation's edit of ours' expected outcome.
#[derive(Debug, Clone)]
enum Edit {
    Stdout(Vec<u8>, Vec<u8>),
    Stderr(Vec<u8>, Vec<u8>),
    Status(i32),
    /// A judgement in Rust (`deviations.rs`), by name.
    Judge(String),
}

/// A parsed case file.
#[derive(Debug, Clone, Default)]
pub struct CaseFile {
    pub name: String,
    path: PathBuf,
    title: String,
    tool: String,
    args: Vec<Vec<u8>>,
    stdin: Vec<u8>,
    files: Vec<(String, Vec<u8>)>,
    expect: Option<Expect>,
    timeout: Option<u64>,
    exit: Option<i32>,
    stdout: Option<Text>,
    stderr: Option<Text>,
    wire: Option<String>,
    deviations: Vec<(String, Vec<Edit>)>,
    /// Mechanism exchanges: the sasldb's users, the server's view, the ordered lines.
    users: Vec<(String, String)>,
    auth: Option<AuthView>,
    lines: Vec<String>,
    /// Text cases with a libsasl2 server: `mask-base64`, and who must have authenticated.
    mask_base64: bool,
    /// `normalise: scram-client-first` / `http-scram-client-first` / `digest-md5-response`
    /// (`sasl_math.rs`).
    normalisers: Vec<fn(&mut crate::engine::Observation)>,
    authenticated: Option<(String, u32)>,
    /// `client-first: "PREFIX"` and `refused: "TEXT"` (`mechanism.rs`).
    client_first: Option<Vec<u8>>,
    refused: Option<String>,
    /// One list of operations per connection.
    connections: Vec<Vec<Op>>,
    /// `server: lab`: the lab's real servers instead of a script (`c-args:`, `server-log:`,
    /// `serial:`).
    lab: Option<LabRun>,
    /// `env: NAME=VALUE` lines.
    env: Vec<(String, String)>,
}

/// An expected output: a `|` block in the spec's notation, or one escaped string (exact).
#[derive(Debug, Clone)]
enum Text {
    Block(String),
    Exact(Vec<u8>),
}

/// `\r \n \t \0 \\ \" \xHH`; the value may be wrapped in double quotes.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    let text = match text.strip_prefix('"') {
        Some(rest) => rest
            .strip_suffix('"')
            .ok_or_else(|| format!("unterminated string: {text}"))?,
        None => text,
    };
    let mut out = Vec::new();
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'"') => out.push(b'"'),
            Some(b'x') => {
                let hex: Vec<u8> = bytes.by_ref().take(2).collect();
                let hex = std::str::from_utf8(&hex).map_err(|e| e.to_string())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|e| format!("\\x{hex}: {e}"))?);
            }
            other => return Err(format!("unknown escape \\{:?}", other.map(char::from))),
        }
    }
    Ok(out)
}

/// The inverse of [`unescape`], always quoted.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0 => out.push_str("\\0"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// Whitespace-separated words; `""` is an empty word, `"a b"` one word with escapes.
pub fn words(text: &str) -> Result<Vec<String>, String> {
    Ok(byte_words(text)?
        .into_iter()
        .map(|w| String::from_utf8_lossy(&w).into_owned())
        .collect())
}

fn byte_words(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if rest.starts_with('"') {
            let mut end = 1;
            let bytes = rest.as_bytes();
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            if end >= bytes.len() {
                return Err(format!("unterminated quote in {text}"));
            }
            out.push(unescape(&rest[..=end])?);
            rest = rest[end + 1..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            out.push(rest.as_bytes()[..end].to_vec());
            rest = rest[end..].trim_start();
        }
    }
    Ok(out)
}

fn parse_op(line: &str) -> Result<Op, String> {
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let number = |what: &str| -> Result<u64, String> {
        rest.trim()
            .parse()
            .map_err(|e| format!("{what}: {e}: {line}"))
    };
    Ok(match word {
        "send" => Op::Send(unescape(rest)?),
        "send-repeat" => {
            let (count, text) = rest
                .trim()
                .split_once(char::is_whitespace)
                .ok_or("send-repeat COUNT TEXT")?;
            let count: usize = count.parse().map_err(|e| format!("count: {e}"))?;
            Op::Send(unescape(text)?.repeat(count))
        }
        "read-line" => Op::ReadLine(None),
        "expect-line" => Op::ReadLine(Some(unescape(rest)?)),
        "read-exact" => Op::ReadExact(number("read-exact")? as usize, None),
        "expect-bytes" => {
            let data = unescape(rest)?;
            Op::ReadExact(data.len(), Some(data))
        }
        "read-to-eof" => Op::ReadToEof,
        "discard-to-eof" | "hold" => Op::DiscardToEof,
        "discard-some" => Op::DiscardSome(unescape(rest)?),
        "forget-tls-session" => Op::ForgetTlsSession,
        "pause" => Op::Pause(number("pause")?),
        "starttls" => {
            let mut tls = Tls {
                identity: Identity::Server,
                client_cert: false,
                tls12: false,
                session_cache: false,
            };
            for w in rest.split_whitespace() {
                match w {
                    "server" => tls.identity = Identity::Server,
                    "self-signed" => tls.identity = Identity::SelfSigned,
                    "full-chain" => tls.identity = Identity::FullChain,
                    "client-cert" => tls.client_cert = true,
                    "tls1.2" => tls.tls12 = true,
                    "session-cache" => tls.session_cache = true,
                    other => return Err(format!("unknown starttls option {other:?}")),
                }
            }
            Op::StartTls(tls)
        }
        "sasl-auth" | "sasl-login" => {
            let mut step = SaslStep {
                login_command: word == "sasl-login",
                ..SaslStep::default()
            };
            let mut w = rest.split_whitespace();
            while let Some(opt) = w.next() {
                match opt {
                    "imap" | "pop3" | "smtp" | "lmtp" | "sieve" | "nntp" | "mupdate" | "csync" => {
                        step.protocol = opt.to_string()
                    }
                    "proxy-all" => step.proxy_all = true,
                    "max-ssf" => {
                        let n = w.next().ok_or("max-ssf N")?;
                        step.max_ssf = Some(n.parse().map_err(|e| format!("max-ssf: {e}"))?);
                    }
                    "cb" => step.binding = Some((w.next().ok_or("cb NAME")?.into(), false)),
                    "wrong-cb-data" => step.binding.as_mut().ok_or("cb NAME first")?.1 = true,
                    other => return Err(format!("unknown {word} option {other:?}")),
                }
            }
            let imap = matches!(step.protocol.as_str(), "" | "imap") && !step.login_command;
            if step.binding.is_some() && !imap {
                return Err("cb: IMAP AUTHENTICATE only".into());
            }
            Op::SaslAuth(step)
        }
        "imap-tail" => Op::ImapTail(String::from_utf8_lossy(&unescape(rest)?).into_owned()),
        "start-deflate" => Op::StartDeflate,
        "close" => Op::Close,
        "reset" => Op::Reset,
        "read-timeout" => Op::ReadTimeout(number("read-timeout")?),
        other => return Err(format!("unknown step {other:?}")),
    })
}

/// Parses one case file; `name` is `<topic>/<file stem>`.
pub fn parse(path: &Path, name: &str) -> Result<CaseFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut case = CaseFile {
        name: name.to_string(),
        path: path.to_path_buf(),
        ..CaseFile::default()
    };
    let mut in_script = false;
    let mut no_connection = false;
    let mut block: Option<(String, Vec<String>)> = None;
    // A blank line after the last ends a block that closes the file.
    let lines: Vec<&str> = text.lines().chain(std::iter::once("")).collect();
    for (n, raw) in lines.iter().enumerate() {
        let err = |e: String| format!("{}:{}: {e}", path.display(), n + 1);
        let line = raw.trim();
        if let Some(b) = block.as_mut() {
            if let Some(content) = line.strip_prefix('|') {
                let content = raw.trim_start().strip_prefix('|').unwrap_or(content);
                b.1.push(content.strip_prefix(' ').unwrap_or(content).to_string());
                continue;
            }
            let (key, body) = block.take().unwrap();
            let body = body.join("\n") + "\n";
            match key.as_str() {
                "lines" => case.lines = body.lines().map(str::to_string).collect(),
                "stdout" => case.stdout = Some(Text::Block(body)),
                "stderr" => case.stderr = Some(Text::Block(body)),
                _ => case.wire = Some(body),
            }
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if in_script {
            if line == "connection" {
                case.connections.push(Vec::new());
                continue;
            }
            let op = parse_op(line).map_err(err)?;
            case.connections
                .last_mut()
                .ok_or_else(|| err("`script: none` takes no steps".into()))?
                .push(op);
            continue;
        }
        if line == "script: none" {
            // The client must fail before it connects.
            in_script = true;
            no_connection = true;
            continue;
        }
        if line == "script:" {
            in_script = true;
            case.connections.push(Vec::new());
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| err(format!("expected `key: value`, got {line:?}")))?;
        let value = value.trim();
        if value.is_empty() && matches!(key, "stdout" | "stderr" | "wire" | "lines") {
            block = Some((key.to_string(), Vec::new()));
            continue;
        }
        let number = |v: &str| v.parse::<i64>().map_err(|e| err(format!("{e}")));
        match key {
            "title" => case.title = value.to_string(),
            "tool" => case.tool = value.to_string(),
            "args" => case.args = byte_words(value).map_err(err)?,
            "stdin" => case.stdin = unescape(value).map_err(err)?,
            "file" => {
                let w = byte_words(value).map_err(err)?;
                let [file, data] = w.as_slice() else {
                    return Err(err("file: NAME \"DATA\"".into()));
                };
                case.files
                    .push((String::from_utf8_lossy(file).into_owned(), data.clone()));
            }
            "expect" => {
                case.expect = Some(match value {
                    "same" => Expect::Same,
                    "hang" => Expect::Hang,
                    "stdout-differs" => Expect::StdoutDiffers,
                    "text" => Expect::Text,
                    "mechanism" => Expect::Mechanism,
                    "extra" => Expect::Extra,
                    other => return Err(err(format!("unknown expectation {other:?}"))),
                })
            }
            "timeout" => case.timeout = Some(number(value)? as u64),
            "exit" => case.exit = Some(number(value)? as i32),
            "stdout" => case.stdout = Some(Text::Exact(unescape(value).map_err(err)?)),
            "stderr" => case.stderr = Some(Text::Exact(unescape(value).map_err(err)?)),
            "deviation" => case.deviations.push((value.to_string(), Vec::new())),
            "env" => {
                let (k, v) = value
                    .split_once('=')
                    .ok_or_else(|| err("env: NAME=VALUE".into()))?;
                case.env.push((k.to_string(), v.to_string()));
            }
            "server" if value == "lab" => case.lab = Some(LabRun::default()),
            "c-args" | "server-log" | "serial" if case.lab.is_none() => {
                return Err(err(format!("`{key}:` needs `server: lab` before it")));
            }
            "c-args" => case.lab.as_mut().unwrap().c_args = Some(byte_words(value).map_err(err)?),
            "server-log" => {
                let w = words(value).map_err(err)?;
                let [file, needle] = w.as_slice() else {
                    return Err(err("server-log: FILE \"TEXT\"".into()));
                };
                case.lab.as_mut().unwrap().server_log = Some((file.clone(), needle.clone()));
            }
            "serial" => case.lab.as_mut().unwrap().serial = true,
            "deviate" => {
                let edit = match value.split_once(char::is_whitespace) {
                    Some((stream @ ("stdout" | "stderr"), rest)) => {
                        let w = byte_words(rest).map_err(err)?;
                        let [from, to] = w.as_slice() else {
                            return Err(err(format!("deviate: {stream} \"FROM\" \"TO\"")));
                        };
                        let edit = if stream == "stdout" {
                            Edit::Stdout
                        } else {
                            Edit::Stderr
                        };
                        edit(from.clone(), to.clone())
                    }
                    Some(("exit", rest)) => Edit::Status(number(rest.trim())? as i32),
                    Some(("judge", name)) => {
                        crate::deviations::by_name(name.trim())
                            .ok_or_else(|| err(format!("no judgement {name:?}")))?;
                        Edit::Judge(name.trim().to_string())
                    }
                    _ => return Err(err(format!("unknown deviation edit {value:?}"))),
                };
                case.deviations
                    .last_mut()
                    .ok_or_else(|| err("`deviate:` before `deviation:`".into()))?
                    .1
                    .push(edit);
            }
            "users" => {
                let w = words(value).map_err(err)?;
                if w.len() % 2 != 0 {
                    return Err(err("users: NAME PASSWORD ...".into()));
                }
                case.users = w.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
            }
            "auth" => {
                let w = words(value).map_err(err)?;
                case.auth = Some(AuthView::parse(&w).map_err(err)?);
            }
            "normalise" => match value {
                "mask-base64" => case.mask_base64 = true,
                "scram-client-first" => case.normalisers.push(crate::sasl_math::scram_client_first),
                "http-scram-client-first" => case
                    .normalisers
                    .push(crate::sasl_math::http_scram_client_first),
                "digest-md5-response" => case
                    .normalisers
                    .push(crate::sasl_math::digest_md5_spec_response),
                "lab" if case.lab.is_some() => {}
                other => return Err(err(format!("unknown normalisation {other:?}"))),
            },
            "authenticated" => {
                let w = words(value).map_err(err)?;
                let (user, ssf) = match w.as_slice() {
                    [user, word, ssf] if word == "ssf" => (user, ssf),
                    _ => return Err(err("authenticated: USER ssf N".into())),
                };
                let ssf = ssf.parse().map_err(|e| err(format!("ssf: {e}")))?;
                case.authenticated = Some((user.clone(), ssf));
            }
            "client-first" => case.client_first = Some(unescape(value).map_err(err)?),
            "refused" => {
                case.refused = Some(String::from_utf8_lossy(&unescape(value).map_err(err)?).into())
            }
            "note" | "why" => {}
            other => return Err(err(format!("unknown key {other:?}"))),
        }
    }
    if case.tool.is_empty() {
        return Err(format!("{}: needs `tool:`", path.display()));
    }
    if no_connection && !case.connections.is_empty() {
        return Err(format!("{}: `script: none` takes no steps", path.display()));
    }
    if case.lab.is_some() && !text.lines().any(|l| l.trim() == "normalise: lab") {
        return Err(format!(
            "{}: a lab case says `normalise: lab`",
            path.display()
        ));
    }
    if case.expect.is_none() {
        let text = case.stdout.is_some() || case.wire.is_some();
        case.expect = Some(if case.auth.is_some() {
            Expect::Mechanism
        } else if text {
            Expect::Text
        } else {
            Expect::Same
        });
    }
    Ok(case)
}

/// The realm of the sasldb of mechanism exchanges.
const REALM: &str = "EXAMPLE";

/// The server context of a `starttls` step; one per kind and run, so a session cache is
/// shared by the run's connections.
fn tls_config(tls: Tls, made: &mut HashMap<Tls, TlsConfig>) -> TlsConfig {
    made.entry(tls)
        .or_insert_with(|| {
            let mut b = TlsConfig::builder(match tls.identity {
                Identity::Server => &certs().server,
                Identity::SelfSigned => &certs().self_signed,
                Identity::FullChain => &certs().server_full_chain,
            });
            if tls.client_cert {
                b = b.request_client_cert();
            }
            if tls.tls12 {
                b = b.version(SslVersion::TLS1_2);
            }
            if tls.session_cache {
                b = b.session_cache();
            }
            b.build()
        })
        .clone()
}

fn steps(ops: &[Op], db: &Arc<SaslDb>, made: &mut HashMap<Tls, TlsConfig>) -> Script {
    use crate::engine::fill_bytes;
    ops.iter()
        .map(|op| match op.clone() {
            Op::Send(data) => send(fill_bytes(&data)),
            Op::ReadLine(None) => read_line(),
            Op::ReadLine(Some(line)) => expect_line(fill_bytes(&line)),
            Op::ReadExact(n, None) => read_exact(n),
            Op::ReadExact(_, Some(data)) => expect_bytes(fill_bytes(&data)),
            Op::ReadToEof => read_to_eof(),
            Op::DiscardToEof => discard_to_eof(),
            Op::DiscardSome(prefix) if prefix.is_empty() => discard_some(),
            Op::DiscardSome(prefix) => run(move |s| {
                let d = s.discard_some()?;
                if d.starts_with(&prefix) {
                    return Ok(());
                }
                let head = &d[..d.len().min(16)];
                Err(format!("expected bytes starting {prefix:?}, got {head:?}"))
            }),
            Op::ForgetTlsSession => run(|s| s.forget_tls_session()),
            Op::Pause(ms) => pause_ms(ms),
            Op::StartTls(tls) => start_tls(&tls_config(tls, made)),
            Op::SaslAuth(step) => {
                let mut cfg = ServerConfig::new(db);
                if step.proxy_all {
                    cfg = cfg.proxy(ProxyPolicy::AllowAll);
                }
                if let Some(n) = step.max_ssf {
                    cfg.max_ssf = n;
                }
                match step.protocol.as_str() {
                    _ if step.login_command => imap_login(&cfg),
                    "" | "imap" => ImapAuth {
                        binding: step.binding,
                        ..ImapAuth::new(cfg)
                    }
                    .step(),
                    other => proto_auth(&cfg, framing(other)),
                }
            }
            Op::ImapTail(caps) => imap_tail(caps),
            Op::StartDeflate => start_deflate(),
            Op::Close => close(),
            Op::Reset => run(|s| {
                s.reset();
                Ok(())
            }),
            Op::ReadTimeout(ms) => run(move |s| {
                s.set_timeout(Duration::from_millis(ms));
                Ok(())
            }),
        })
        .collect()
}

impl CaseFile {
    fn expect(&self) -> Expect {
        self.expect.unwrap_or(Expect::Same)
    }

    /// The engine's case for this file.
    pub fn case(&self) -> Case {
        let title = if self.title.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.title)
        };
        let connections = self.connections.clone();
        let users = if self.users.is_empty() {
            vec![("tim".to_string(), "secret".to_string())]
        } else {
            self.users.clone()
        };
        let mut case = Case::new(&title, &self.tool)
            .expect(self.expect())
            .arg_bytes(self.args.clone())
            .stdin(&self.stdin)
            .server(move || {
                // A fresh sasldb per run (OTP sequences and locks must not leak between runs).
                let users: Vec<(&str, &str)> = users
                    .iter()
                    .map(|(u, p)| (u.as_str(), p.as_str()))
                    .collect();
                let db = SaslDb::create(REALM, &users);
                let mut made = HashMap::new();
                connections
                    .iter()
                    .map(|ops| steps(ops, &db, &mut made))
                    .collect()
            });
        for (k, v) in &self.env {
            case = case.env(k, v);
        }
        if let Some(lab) = &self.lab {
            case = case.lab(lab.clone());
        }
        for n in &self.normalisers {
            case = case.normalise(*n);
        }
        if self.mask_base64 {
            case = case.normalise(mask_sasl);
        }
        if let Some((user, ssf)) = &self.authenticated {
            case = case.check(authenticated(user.clone(), *ssf));
        }
        if let Some(prefix) = &self.client_first {
            case = case.check(client_first(prefix.clone()));
        }
        if let Some(text) = &self.refused {
            case = case.check(refused(text.clone()));
        }
        if let Some(view) = &self.auth {
            let lines: Vec<&str> = self.lines.iter().map(String::as_str).collect();
            case = case.auth(view.clone()).lines(&lines);
        }
        for (name, data) in &self.files {
            case = case.file(name, data);
        }
        if let Some(t) = self.timeout {
            case = case.timeout(Duration::from_secs(t));
        }
        if let Some(code) = self.exit {
            case = case.status(code);
        }
        match &self.stdout {
            Some(Text::Block(b)) => case = case.stdout(b),
            Some(Text::Exact(b)) => case = case.stdout_bytes(b),
            None => {}
        }
        match &self.stderr {
            Some(Text::Block(b)) => case = case.stderr(b),
            Some(Text::Exact(b)) => case = case.stderr_bytes(b),
            None => {}
        }
        if let Some(w) = &self.wire {
            case = case.wire(w);
        }
        for (why, edits) in &self.deviations {
            if let [Edit::Judge(name)] = edits.as_slice() {
                let judge = crate::deviations::by_name(name).expect("checked when parsed");
                case = case.deviation_judged(why, judge);
                continue;
            }
            let edits = edits.clone();
            case = case.deviation(why, move |o| {
                for e in &edits {
                    match e {
                        Edit::Stdout(from, to) => o.replace_stdout(from, to),
                        Edit::Stderr(from, to) => o.replace_stderr(from, to),
                        Edit::Status(code) => o.status = *code,
                        Edit::Judge(_) => panic!("`deviate: judge` stands alone"),
                    }
                }
            });
        }
        case
    }

    /// A same-as-C case that finishes must say what the C tool's exit status and stderr are.
    fn check_recorded(&self) -> Result<(), Failed> {
        if !matches!(self.expect(), Expect::Hang | Expect::Text | Expect::Extra)
            && (self.exit.is_none() || self.stderr.is_none())
        {
            return Err(format!(
                "{}: no recorded `exit:`/`stderr:` (run with CASE_BLESS=1)",
                self.name
            )
            .into());
        }
        Ok(())
    }

    /// Writes the C tool's exit status and stderr into the file (`CASE_BLESS=1`).
    fn bless(&self) -> Result<(), Failed> {
        let c = self.case().observe(Imp::Oracle);
        let text = std::fs::read_to_string(&self.path).map_err(|e| e.to_string())?;
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with("exit:") && !l.starts_with("stderr:"))
            .map(str::to_string)
            .collect();
        if self.expect() != Expect::Hang && !c.out.timed_out {
            let at = lines
                .iter()
                .position(|l| l.trim() == "script:")
                .unwrap_or(lines.len());
            lines.insert(at, format!("stderr: {}", escape(&c.out.stderr)));
            lines.insert(at, format!("exit: {}", c.out.code()));
        }
        std::fs::write(&self.path, lines.join("\n") + "\n").map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// Every `*.case` file under `dir`, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "case") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The tests of every case file under `tests/cases`.
pub fn all_trials() -> Vec<Trial> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let blessing = std::env::var_os("CASE_BLESS").is_some();
    let mut out = Vec::new();
    for path in files(&root) {
        let rel = path.strip_prefix(&root).unwrap().with_extension("");
        let name = rel.to_string_lossy().into_owned();
        let file = match parse(&path, &name) {
            Ok(f) => f,
            Err(e) => {
                out.push(Trial::test(name, move || Err(e.into())));
                continue;
            }
        };
        if blessing && !matches!(file.expect(), Expect::Text | Expect::Extra) {
            out.push(Trial::test(name, move || file.bless()));
            continue;
        }
        let expect = file.expect();
        if matches!(expect, Expect::Text | Expect::Mechanism | Expect::Extra) {
            out.extend(trials(&name, expect, move || file.case()));
        } else {
            let file = Arc::new(file);
            if file.lab.is_some() {
                let f = file.clone();
                out.push(Trial::test(format!("{name}::c-stable"), move || {
                    f.case().check_c_stable()
                }));
            }
            out.push(Trial::test(name, move || {
                file.check_recorded()?;
                file.case().check_same()
            }));
        }
    }
    out
}

/// The grammar's own tests: escapes round-trip, words split, the corpus is there.
pub fn self_tests() -> Vec<Trial> {
    vec![
        Trial::test("casefile::format_round_trips", || {
            let bytes = b"a\r\n\0\"\\\x01\xff z".to_vec();
            assert_eq!(unescape(&escape(&bytes)).unwrap(), bytes);
            assert_eq!(
                words(r#"-t "" -p {PORT} "a b\x41" x"#).unwrap(),
                ["-t", "", "-p", "{PORT}", "a bA", "x"]
            );
            assert_eq!(
                byte_words(r#""x\"y" "\xff""#).unwrap(),
                [b"x\"y".to_vec(), vec![0xff]]
            );
            Ok(())
        }),
        Trial::test("casefile::corpus_has_enough_cases", || {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
            let malformed = files(&root.join("malformed")).len();
            let all = files(&root).len();
            if malformed < 250 || all < 340 {
                return Err(format!("only {malformed} malformed cases, {all} in all").into());
            }
            Ok(())
        }),
    ]
}
