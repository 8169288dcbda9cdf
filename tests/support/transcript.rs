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
    /// The compared part of the run.
    pub fn outcome(&self) -> Outcome {
        Outcome {
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
            status: self.out.code(),
            wire: self.wire.clone(),
        }
    }

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
type OutcomeFn = Box<dyn Fn(&mut Outcome)>;

/// What is compared of a run: stdout, stderr, exit status (shell style) and the wire log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: i32,
    pub wire: Vec<WireItem>,
}

impl Outcome {
    /// Replaces the first occurrence of `from` in stdout by `to`; panics when it is not there
    /// (a deviation that no longer applies must be noticed).
    pub fn replace_stdout(&mut self, from: &[u8], to: &[u8]) {
        let at = self
            .stdout
            .windows(from.len().max(1))
            .position(|w| w == from)
            .unwrap_or_else(|| {
                panic!(
                    "deviation: {:?} not found in stdout {:?}",
                    show(from),
                    show(&self.stdout)
                )
            });
        self.stdout.splice(at..at + from.len(), to.iter().copied());
    }
}

/// A deliberate difference from the C 3.6 tool: `apply` turns the C tool's outcome (and the
/// spec's) into what ours must produce.
struct Deviation {
    why: String,
    apply: OutcomeFn,
}

/// One transcript case (see the module doc).
pub struct Case {
    pub name: String,
    prog: String,
    args: Vec<String>,
    stdin: Vec<u8>,
    files: Vec<(String, Vec<u8>)>,
    scripts: ScriptsFn,
    expected: Outcome,
    normalise: Vec<ObsFn>,
    checks: Vec<ObsFn>,
    deviations: Vec<Deviation>,
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
            expected: Outcome::default(),
            normalise: Vec::new(),
            checks: Vec::new(),
            deviations: Vec::new(),
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
        self.expected.stdout = spec_text(&block.replace("{USER}", &current_user()));
        self
    }

    /// Expected stderr in the spec's notation.
    pub fn stderr(mut self, block: &str) -> Case {
        self.expected.stderr = spec_text(block);
        self
    }

    pub fn status(mut self, code: i32) -> Case {
        self.expected.status = code;
        self
    }

    /// Expected wire log in the spec's notation ([`parse_wire`]); `{USER}` = current user.
    pub fn wire(mut self, block: &str) -> Case {
        self.expected.wire = parse_wire(&block.replace("{USER}", &current_user()));
        self
    }

    /// Adds a normalisation applied to every observation before comparing (for values that
    /// differ from run to run; it may also assert them, e.g. recompute a digest).
    pub fn normalise(mut self, f: impl Fn(&mut Observation) + 'static) -> Case {
        self.normalise.push(Box::new(f));
        self
    }

    /// Declares a deliberate difference from the C 3.6 tool (`why` says which and why):
    /// `apply` turns the C tool's outcome, and the spec's, into what ours must produce. The
    /// `oracle` test still holds the C tool to the unchanged spec.
    pub fn deviation(mut self, why: &str, apply: impl Fn(&mut Outcome) + 'static) -> Case {
        self.deviations.push(Deviation {
            why: why.to_string(),
            apply: Box::new(apply),
        });
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

    fn expected_obs_problems(&self, o: &Observation, want: &Outcome) -> Vec<String> {
        let mut p = Vec::new();
        if o.out.timed_out {
            p.push(format!(
                "{} TIMED OUT (killed after {:?})",
                o.imp.label(),
                o.out.elapsed
            ));
        }
        p.extend(outcome_problems(
            want,
            &o.outcome(),
            "exit status: expected {}, got {}",
        ));
        for e in o.report.errors() {
            p.push(format!("fake server: {e}"));
        }
        p
    }

    /// The spec's outcome after this case's deviations (what ours must produce).
    fn deviated(&self, mut outcome: Outcome) -> Outcome {
        for d in &self.deviations {
            (d.apply)(&mut outcome);
        }
        outcome
    }

    /// The C oracle must reproduce the spec exactly (proves script and expectations).
    pub fn check_oracle(&self) {
        let o = self.observe(Imp::Oracle);
        if std::env::var_os("TRANSCRIPT_DUMP").is_some() {
            // Drafting aid: `TRANSCRIPT_DUMP=1 cargo test <case>::oracle -- --nocapture`
            // prints what the C tool did, in the spec's notation.
            eprintln!(
                "=== {} (C oracle)\n--- stdout\n{}--- stderr\n{}--- exit status {}\n--- wire\n{}",
                self.name,
                show(&o.stdout),
                show(&o.stderr),
                o.out.code(),
                render_wire(&o.wire)
            );
        }
        let p = self.expected_obs_problems(&o, &self.expected);
        if !p.is_empty() {
            panic!(
                "[{}] C oracle does not match the spec:\n\n{}\n\nraw run: {}",
                self.name,
                p.join("\n\n"),
                o.out.describe()
            );
        }
    }

    /// Our binary must match the spec and the C oracle's run of the same case (both after
    /// the case's deviations, if any).
    pub fn check_ours(&self) {
        let c = self.observe(Imp::Oracle);
        let o = self.observe(Imp::Ours);
        let want = self.deviated(self.expected.clone());
        let mut p: Vec<String> = self
            .expected_obs_problems(&o, &want)
            .into_iter()
            .map(|s| format!("vs spec: {s}"))
            .collect();
        let c_outcome = self.deviated(c.outcome());
        p.extend(
            outcome_problems(&c_outcome, &o.outcome(), "exit status: C {}, ours {}")
                .into_iter()
                .map(|s| format!("vs C oracle: {s}")),
        );
        if !p.is_empty() {
            let whys: Vec<&str> = self.deviations.iter().map(|d| d.why.as_str()).collect();
            panic!(
                "[{}] our imtest differs:\n\n{}\n\n{}raw run (ours): {}",
                self.name,
                p.join("\n\n"),
                if whys.is_empty() {
                    String::new()
                } else {
                    format!("(deviations applied: {})\n\n", whys.join("; "))
                },
                o.out.describe()
            );
        }
    }
}

/// Differences between an expected and an actual outcome, as text.
pub fn outcome_problems(want: &Outcome, got: &Outcome, status_fmt: &str) -> Vec<String> {
    let mut p = Vec::new();
    if got.stdout != want.stdout {
        p.push(diff("stdout", &show(&want.stdout), &show(&got.stdout)));
    }
    if got.stderr != want.stderr {
        p.push(diff("stderr", &show(&want.stderr), &show(&got.stderr)));
    }
    if got.status != want.status {
        p.push(
            status_fmt
                .replacen("{}", &want.status.to_string(), 1)
                .replacen("{}", &got.status.to_string(), 1),
        );
    }
    if got.wire != want.wire {
        p.push(diff(
            "wire",
            &render_wire(&want.wire),
            &render_wire(&got.wire),
        ));
    }
    p
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
