//! Transcript cases: one fake-server script + one command line + the spec's expected stdout,
//! stderr, exit status and wire log. [`Case::check_oracle`] proves the case against the C tool;
//! [`Case::check_ours`] runs the C tool and our binary and compares ours with the spec *and*
//! with the C tool's run (after the case's normalisation of run-to-run values).

use super::run::{Command, Imp, Output};
use super::server::{FakeServer, Script, ServerReport};
use super::tmp::TempDir;
use super::wire::{diff, parse_wire, render_wire, show, spec_text, wire_items, WireItem};

/// What one run produced, after normalisation.
pub struct Observation {
    pub imp: Imp,
    pub out: Output,
    pub report: ServerReport,
    /// Normalisable copies (start equal to `out.stdout` / `out.stderr` / the rendered wire).
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub wire: Vec<WireItem>,
}

impl Observation {
    /// Replaces every occurrence of `from` in stdout, stderr and wire data by `to`.
    pub fn replace_all(&mut self, from: &[u8], to: &[u8]) {
        self.stdout = replace(&self.stdout, from, to);
        self.stderr = replace(&self.stderr, from, to);
        for w in &mut self.wire {
            if let WireItem::ClientToServer(b) | WireItem::ServerToClient(b) = w {
                *b = replace(b, from, to);
            }
        }
    }
}

/// `data` with every `from` replaced by `to`.
pub fn replace(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    if from.is_empty() {
        return data.to_vec();
    }
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

type ScriptsFn = Box<dyn Fn() -> Vec<Script>>;
type ObsFn = Box<dyn Fn(&mut Observation)>;

/// One transcript case (see the module doc).
pub struct Case {
    pub name: String,
    prog: String,
    args: Vec<String>,
    stdin: Vec<u8>,
    files: Vec<(String, Vec<u8>)>,
    scripts: ScriptsFn,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    status: i32,
    wire: Vec<WireItem>,
    normalise: Vec<ObsFn>,
    checks: Vec<ObsFn>,
}

/// The login name of the user running the tests (the C tool's default `-a`).
pub fn current_user() -> String {
    // SAFETY: getpwuid returns NULL (checked) or a pointer to libc's static passwd record
    // whose pw_name is a NUL-terminated string; it is copied out at once. (The record is
    // shared between threads, but every caller stores the same user's entry in it.)
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        assert!(!pw.is_null(), "getpwuid failed");
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

impl Case {
    /// A case named after its spec section, run as `prog`.
    pub fn new(name: &str, prog: &str) -> Case {
        Case {
            name: name.to_string(),
            prog: prog.to_string(),
            args: Vec::new(),
            stdin: Vec::new(),
            files: Vec::new(),
            scripts: Box::new(Vec::new),
            stdout: Vec::new(),
            stderr: Vec::new(),
            status: 0,
            wire: Vec::new(),
            normalise: Vec::new(),
            checks: Vec::new(),
        }
    }

    /// Command-line arguments; `{PORT}` becomes the fake server's port, `{DIR}` the case's
    /// working directory (the child runs there).
    pub fn args(mut self, args: &[&str]) -> Case {
        self.args = args.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn stdin(mut self, data: &[u8]) -> Case {
        self.stdin = data.to_vec();
        self
    }

    /// A file created in the working directory before the run.
    pub fn file(mut self, name: &str, data: &[u8]) -> Case {
        self.files.push((name.to_string(), data.to_vec()));
        self
    }

    /// The server side: one script per expected connection (called once per run).
    pub fn server(mut self, f: impl Fn() -> Vec<Script> + 'static) -> Case {
        self.scripts = Box::new(f);
        self
    }

    /// Expected stdout in the spec's notation ([`spec_text`]); `{USER}` = current user.
    pub fn stdout(mut self, block: &str) -> Case {
        self.stdout = spec_text(&block.replace("{USER}", &current_user()));
        self
    }

    /// Expected stderr in the spec's notation.
    pub fn stderr(mut self, block: &str) -> Case {
        self.stderr = spec_text(block);
        self
    }

    pub fn status(mut self, code: i32) -> Case {
        self.status = code;
        self
    }

    /// Expected wire log in the spec's notation ([`parse_wire`]); `{USER}` = current user.
    pub fn wire(mut self, block: &str) -> Case {
        self.wire = parse_wire(&block.replace("{USER}", &current_user()));
        self
    }

    /// Adds a normalisation applied to every observation before comparing (for values that
    /// differ from run to run; it may also assert them, e.g. recompute a digest).
    pub fn normalise(mut self, f: impl Fn(&mut Observation) + 'static) -> Case {
        self.normalise.push(Box::new(f));
        self
    }

    /// Adds an extra assertion on each raw observation (e.g. about discarded bytes).
    pub fn check(mut self, f: impl Fn(&mut Observation) + 'static) -> Case {
        self.checks.push(Box::new(f));
        self
    }

    /// Runs the case once against `imp` and normalises the result.
    pub fn observe(&self, imp: Imp) -> Observation {
        let dir = TempDir::new("case");
        for (n, d) in &self.files {
            dir.write(n, d);
        }
        let server = FakeServer::start((self.scripts)());
        let port = server.port().to_string();
        let dir_s = dir.path().to_string_lossy().into_owned();
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| a.replace("{PORT}", &port).replace("{DIR}", &dir_s))
            .collect();
        let out = Command::new(imp, &self.prog)
            .args(&args)
            .stdin_bytes(&self.stdin)
            .current_dir(dir.path())
            .run_raw();
        let report = server.finish();
        let mut obs = Observation {
            imp,
            stdout: out.stdout.clone(),
            stderr: out.stderr.clone(),
            wire: wire_items(&report.conns),
            out,
            report,
        };
        let port_b = port.as_bytes();
        // The port is the only thing every case has in common that varies.
        obs.replace_all(port_b, b"PORT");
        for c in &self.checks {
            c(&mut obs);
        }
        for n in &self.normalise {
            n(&mut obs);
        }
        obs
    }

    fn expected_obs_problems(&self, o: &Observation) -> Vec<String> {
        let mut p = Vec::new();
        if o.out.timed_out {
            p.push(format!(
                "{} TIMED OUT (killed after {:?})",
                o.imp.label(),
                o.out.elapsed
            ));
        }
        if o.stdout != self.stdout {
            p.push(diff("stdout", &show(&self.stdout), &show(&o.stdout)));
        }
        if o.stderr != self.stderr {
            p.push(diff("stderr", &show(&self.stderr), &show(&o.stderr)));
        }
        if o.out.code() != self.status {
            p.push(format!(
                "exit status: expected {}, got {}",
                self.status,
                o.out.code()
            ));
        }
        if o.wire != self.wire {
            p.push(diff(
                "wire",
                &render_wire(&self.wire),
                &render_wire(&o.wire),
            ));
        }
        for e in o.report.errors() {
            p.push(format!("fake server: {e}"));
        }
        p
    }

    /// The C oracle must reproduce the spec exactly (proves script and expectations).
    pub fn check_oracle(&self) {
        let o = self.observe(Imp::Oracle);
        let p = self.expected_obs_problems(&o);
        if !p.is_empty() {
            panic!(
                "[{}] C oracle does not match the spec:\n\n{}\n\nraw run: {}",
                self.name,
                p.join("\n\n"),
                o.out.describe()
            );
        }
    }

    /// Our binary must match the spec and the C oracle's run of the same case.
    pub fn check_ours(&self) {
        let c = self.observe(Imp::Oracle);
        let o = self.observe(Imp::Ours);
        let mut p: Vec<String> = self
            .expected_obs_problems(&o)
            .into_iter()
            .map(|s| format!("vs spec: {s}"))
            .collect();
        if o.stdout != c.stdout {
            p.push(format!(
                "vs C oracle: {}",
                diff("stdout", &show(&c.stdout), &show(&o.stdout))
            ));
        }
        if o.stderr != c.stderr {
            p.push(format!(
                "vs C oracle: {}",
                diff("stderr", &show(&c.stderr), &show(&o.stderr))
            ));
        }
        if o.out.code() != c.out.code() {
            p.push(format!(
                "vs C oracle: exit status: C {}, ours {}",
                c.out.code(),
                o.out.code()
            ));
        }
        if o.wire != c.wire {
            p.push(format!(
                "vs C oracle: {}",
                diff("wire", &render_wire(&c.wire), &render_wire(&o.wire))
            ));
        }
        if !p.is_empty() {
            panic!(
                "[{}] our imtest differs:\n\n{}\n\nraw run (ours): {}",
                self.name,
                p.join("\n\n"),
                o.out.describe()
            );
        }
    }
}

/// Declares a module `$m` with two tests, `oracle` and `ours`, for the case built by `$case`.
#[macro_export]
macro_rules! transcript_case {
    ($m:ident, $case:expr) => {
        mod $m {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn oracle() {
                let case: $crate::support::transcript::Case = $case;
                case.check_oracle();
            }
            #[test]
            fn ours() {
                let case: $crate::support::transcript::Case = $case;
                case.check_ours();
            }
        }
    };
}

/// Standard base64 decoding (None if invalid).
pub fn b64decode(text: &[u8]) -> Option<Vec<u8>> {
    let t = std::str::from_utf8(text).ok()?;
    if t.is_empty() {
        return Some(Vec::new());
    }
    openssl::base64::decode_block(t).ok()
}

pub fn b64encode(data: &[u8]) -> String {
    openssl::base64::encode_block(data)
}

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
