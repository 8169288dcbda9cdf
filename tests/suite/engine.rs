//! The one engine that runs the C tool and ours against the same scripted server and judges
//! the pair. A [`Case`] is built from a case file (`casefile.rs`) or in Rust (the cases that
//! need logic); it is judged in one of three ways:
//!
//! * **same as C** ([`Expect::Same`], [`Expect::Hang`], [`Expect::StdoutDiffers`]): both
//!   tools agree on stdout, stderr, exit status and the bytes the server received (and on the
//!   recorded `exit:`/`stderr:` when the case has them);
//! * **matches the expected text** ([`Expect::Text`]): `::oracle` proves the expected stdout,
//!   stderr, exit status and wire log against the C tool, `::ours` holds ours to the same text
//!   *and* to the C tool's run of the case;
//! * **declared deviation** ([`Case::deviation`]): in `::ours`, the text and the C tool's run
//!   are first changed as the deviation says (its reason is printed on failure);
//! * **opt-in extra** ([`Expect::Extra`]): an option the C tool does not have; ours alone
//!   must print the expected stdout, stderr, exit status and wire log;
//! * **mechanism exchange** ([`Expect::Mechanism`], against the libsasl2 fake server): the
//!   server's view of the authentication, stdout lines in order and the exit status hold for
//!   both tools, and ours prints the C tool's stdout (payloads masked) and stderr.
//!
//! A case can also run against the real servers of the lab (`scripts/lab.sh`, started once
//! per test run on first use) instead of a scripted one: [`Case::lab`]; then the lab's
//! normalisation (`crate::lab::normalise`) makes the runs comparable, and the case's
//! `::c-stable` test shows that the C tool run twice compares equal after it.
//!
//! Placeholders (`{PORT}`, `{DIR}`, `{USER}`, `{CERT:name}`, `{LAB:NAME_PORT}`, `{LABDIR}`)
//! are filled in [`fill_vars`] only.

use crate::mechanism::{self, AuthView};
use crate::support::run::{Command, Imp, Input, Output};
use crate::support::server::{FakeServer, Script, ServerReport};
use crate::support::tmp::TempDir;
use crate::support::wire::{diff, parse_wire, render_wire, show, spec_text, wire_items, WireItem};
use libtest_mimic::{Failed, Trial};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::sync::mpsc::{channel, Sender};
use std::sync::MutexGuard;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a case is judged (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Expected text (stdout, stderr, status, wire), proved on the C tool, held for ours.
    Text,
    /// Both tools end and agree.
    Same,
    /// Both tools are still waiting when the runner's timeout kills them.
    Hang,
    /// A known difference on stdout only (the case's `why:` says which); the rest agrees.
    StdoutDiffers,
    /// A SASL exchange judged by the server's view, ordered lines and the exit status.
    Mechanism,
    /// An opt-in extra the C tool lacks: ours alone matches the expected text.
    Extra,
}

impl Expect {
    /// Judged on each tool alone (`::oracle`) and on ours against both (`::ours`).
    fn two_sided(self) -> bool {
        matches!(self, Expect::Text | Expect::Mechanism)
    }
}

/// The client's live stdin, for a server script that types an answer (a one-time password
/// computed from its own challenge); dropped after the run.
pub type Feed = Arc<Mutex<Option<Sender<Vec<u8>>>>>;

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

    /// The bytes the server received, over every connection.
    pub fn received(&self) -> Vec<u8> {
        self.report
            .conns
            .iter()
            .flat_map(|c| c.received())
            .collect()
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

/// The `NAME`s of the `{LAB:NAME}` placeholders in `args`.
fn lab_ports(args: &[Vec<u8>]) -> Vec<String> {
    let text: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    text.iter()
        .flat_map(|a| a.split("{LAB:").skip(1))
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
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

/// The values placeholders stand for in one run.
#[derive(Default)]
pub struct Vars {
    pub port: String,
    pub dir: String,
}

/// The one placeholder substitution: `{PORT}` (the fake server's port), `{DIR}` (the run's
/// working directory) and `{USER}` (the login name running the tests).
pub fn fill(text: &str, vars: &Vars) -> String {
    String::from_utf8_lossy(&fill_vars(text.as_bytes(), vars)).into_owned()
}

/// [`fill`] on bytes (script data): only `{USER}` is known before the server starts.
pub fn fill_bytes(data: &[u8]) -> Vec<u8> {
    fill_vars(data, &Vars::default())
}

/// [`fill`] on bytes (arguments need not be UTF-8); `{CERT:name}` is the PEM file of a client
/// certificate with CN `name` (for `-t`); `{LAB:NAME}` the lab's port `NAME` (its `ports`
/// file) and `{LABDIR}` the lab's directory (either starts the lab on first use).
pub fn fill_vars(data: &[u8], vars: &Vars) -> Vec<u8> {
    let mut t = replace(data, b"{USER}", current_user().as_bytes());
    while let Some(at) = t.windows(5).position(|w| w == b"{LAB:") {
        let Some(len) = t[at..].iter().position(|&b| b == b'}') else {
            break;
        };
        let name = String::from_utf8_lossy(&t[at + 5..at + len]).into_owned();
        let port = crate::lab::lab().port(&name).to_string();
        t.splice(at..=at + len, port.bytes());
    }
    if t.windows(8).any(|w| w == b"{LABDIR}") {
        let dir = crate::lab::lab().dir.to_string_lossy().into_owned();
        t = replace(&t, b"{LABDIR}", dir.as_bytes());
    }
    while let Some(at) = t.windows(6).position(|w| w == b"{CERT:") {
        let Some(len) = t[at..].iter().position(|&b| b == b'}') else {
            break;
        };
        let name = String::from_utf8_lossy(&t[at + 6..at + len]).into_owned();
        let pem = crate::support::certs::certs().client(&name).pem;
        t.splice(at..=at + len, pem.to_string_lossy().bytes());
    }
    if !vars.port.is_empty() {
        t = replace(&t, b"{PORT}", vars.port.as_bytes());
    }
    if !vars.dir.is_empty() {
        t = replace(&t, b"{DIR}", vars.dir.as_bytes());
    }
    t
}

type ScriptsFn = Box<dyn Fn(&Feed) -> Vec<Script>>;
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
    /// Replaces the first occurrence of `from` in stdout by `to` (an empty `from` appends);
    /// panics when it is not there (a deviation that no longer applies must be noticed).
    pub fn replace_stdout(&mut self, from: &[u8], to: &[u8]) {
        replace_once(&mut self.stdout, "stdout", from, to);
    }

    /// [`Outcome::replace_stdout`] for stderr.
    pub fn replace_stderr(&mut self, from: &[u8], to: &[u8]) {
        replace_once(&mut self.stderr, "stderr", from, to);
    }
}

fn replace_once(data: &mut Vec<u8>, what: &str, from: &[u8], to: &[u8]) {
    if from.is_empty() {
        data.extend_from_slice(to);
        return;
    }
    let at = data
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| {
            panic!(
                "deviation: {:?} not found in {what} {:?}",
                show(from),
                show(data)
            )
        });
    data.splice(at..at + from.len(), to.iter().copied());
}

/// A case against the lab's real servers (see the module doc).
#[derive(Debug, Default, Clone)]
pub struct LabRun {
    /// The C tool's arguments instead of the case's (it lacks an option ours has, e.g. `-H`:
    /// it then talks to the listener where the server sees the same session).
    pub c_args: Option<Vec<Vec<u8>>>,
    /// After our run, this text must show in this lab file (a server log) within 2 s.
    pub server_log: Option<(String, String)>,
    /// Runs alone among the serial cases (the reason is the case file's).
    pub serial: bool,
}

/// Held while a serial lab case runs.
fn serial_guard(lab: Option<&LabRun>) -> Option<MutexGuard<'static, ()>> {
    static SERIAL: Mutex<()> = Mutex::new(());
    lab.filter(|l| l.serial)
        .map(|_| SERIAL.lock().unwrap_or_else(|e| e.into_inner()))
}

/// A deliberate difference from the C 3.6 tool: `apply` turns the C tool's outcome (and the
/// expected text) into what ours must produce.
struct Deviation {
    why: String,
    apply: OutcomeFn,
    /// Judges the C tool's run and ours instead of an edit (`deviations.rs`).
    judge: Option<crate::deviations::Judge>,
}

/// One case (see the module doc).
pub struct Case {
    pub name: String,
    prog: String,
    args: Vec<Vec<u8>>,
    stdin: Vec<u8>,
    files: Vec<(String, Vec<u8>)>,
    scripts: ScriptsFn,
    expect: Expect,
    timeout: Option<Duration>,
    expected: Outcome,
    /// Mechanism cases: the server's view and the stdout lines (in order).
    auth: Option<AuthView>,
    lines: Vec<String>,
    /// stdin is a live feed the server script writes to (instead of `stdin`).
    live_stdin: bool,
    /// Same-as-C cases: the recorded exit status / stderr must also hold (the C tool's).
    recorded_status: bool,
    recorded_stderr: bool,
    normalise: Vec<ObsFn>,
    checks: Vec<ObsFn>,
    deviations: Vec<Deviation>,
    lab: Option<LabRun>,
    /// Environment variables of both runs.
    env: Vec<(String, String)>,
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
    /// A case called `name`, run as `prog`; judged [`Expect::Text`] until told otherwise.
    pub fn new(name: &str, prog: &str) -> Case {
        Case {
            name: name.to_string(),
            prog: prog.to_string(),
            args: Vec::new(),
            stdin: Vec::new(),
            files: Vec::new(),
            scripts: Box::new(|_| Vec::new()),
            expect: Expect::Text,
            timeout: None,
            expected: Outcome::default(),
            auth: None,
            lines: Vec::new(),
            live_stdin: false,
            recorded_status: false,
            recorded_stderr: false,
            normalise: Vec::new(),
            checks: Vec::new(),
            deviations: Vec::new(),
            lab: None,
            env: Vec::new(),
        }
    }

    /// Command-line arguments, placeholders filled by [`fill`] (the child runs in `{DIR}`).
    pub fn args(self, args: &[&str]) -> Case {
        self.arg_bytes(args.iter().map(|s| s.as_bytes().to_vec()).collect())
    }

    /// Arguments as bytes (they need not be UTF-8).
    pub fn arg_bytes(mut self, args: Vec<Vec<u8>>) -> Case {
        self.args = args;
        self
    }

    /// An environment variable of both runs.
    pub fn env(mut self, key: &str, value: &str) -> Case {
        self.env.push((key.to_string(), value.to_string()));
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
        self.scripts = Box::new(move |_| f());
        self
    }

    /// The server side, given the client's live stdin (which replaces `stdin`).
    pub fn server_fed(mut self, f: impl Fn(&Feed) -> Vec<Script> + 'static) -> Case {
        self.scripts = Box::new(f);
        self.live_stdin = true;
        self
    }

    /// A mechanism exchange: the libsasl2 server's expected view.
    pub fn auth(mut self, view: AuthView) -> Case {
        self.auth = Some(view);
        self.expect = Expect::Mechanism;
        self
    }

    /// Mechanism exchange: lines stdout must contain, whole, in this order (each as printed or
    /// with its payload masked, see [`mechanism::mask`]).
    pub fn lines(mut self, lines: &[&str]) -> Case {
        self.lines = lines.iter().map(|l| l.to_string()).collect();
        self
    }

    pub fn expect(mut self, expect: Expect) -> Case {
        self.expect = expect;
        self
    }

    /// The runner's timeout (default: the runner's own).
    pub fn timeout(mut self, t: Duration) -> Case {
        self.timeout = Some(t);
        self
    }

    /// Expected stdout in the spec's notation ([`spec_text`]).
    pub fn stdout(mut self, block: &str) -> Case {
        self.expected.stdout = spec_text(&fill(block, &Vars::default()));
        self
    }

    /// Expected stderr in the spec's notation.
    pub fn stderr(self, block: &str) -> Case {
        self.stderr_bytes(&spec_text(block))
    }

    /// Expected stderr, exact bytes.
    pub fn stderr_bytes(mut self, bytes: &[u8]) -> Case {
        self.expected.stderr = bytes.to_vec();
        self.recorded_stderr = true;
        self
    }

    pub fn stdout_bytes(mut self, bytes: &[u8]) -> Case {
        self.expected.stdout = bytes.to_vec();
        self
    }

    pub fn status(mut self, code: i32) -> Case {
        self.expected.status = code;
        self.recorded_status = true;
        self
    }

    /// Expected wire log in the spec's notation ([`parse_wire`]).
    pub fn wire(mut self, block: &str) -> Case {
        self.expected.wire = parse_wire(&fill(block, &Vars::default()));
        self
    }

    /// Adds a normalisation applied to every observation before comparing (for values that
    /// differ from run to run; it may also assert them, e.g. recompute a digest).
    pub fn normalise(mut self, f: impl Fn(&mut Observation) + 'static) -> Case {
        self.normalise.push(Box::new(f));
        self
    }

    /// Declares a deliberate difference from the C 3.6 tool (`why` says which and why):
    /// `apply` turns the C tool's outcome, and the expected text, into what ours must
    /// produce. The `oracle` test still holds the C tool to the unchanged text.
    pub fn deviation(mut self, why: &str, apply: impl Fn(&mut Outcome) + 'static) -> Case {
        self.deviations.push(Deviation {
            why: why.to_string(),
            apply: Box::new(apply),
            judge: None,
        });
        self
    }

    /// Declares a deliberate difference that `judge` accepts (same-as-C cases only).
    pub fn deviation_judged(mut self, why: &str, judge: crate::deviations::Judge) -> Case {
        self.deviations.push(Deviation {
            why: why.to_string(),
            apply: Box::new(|_| {}),
            judge: Some(judge),
        });
        self
    }

    /// Runs against the lab instead of a scripted server, normalised the lab's way.
    pub fn lab(mut self, lab: LabRun) -> Case {
        self.lab = Some(lab);
        self.normalise(|o| {
            o.stdout = crate::lab::normalise::normalise(&o.stdout).into_bytes();
            o.stderr = crate::lab::normalise::normalise(&o.stderr).into_bytes();
        })
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
        let (tx, rx) = channel();
        let feed: Feed = Arc::new(Mutex::new(Some(tx)));
        let server = self
            .lab
            .is_none()
            .then(|| FakeServer::start((self.scripts)(&feed)));
        let vars = Vars {
            port: server
                .as_ref()
                .map_or(String::new(), |s| s.port().to_string()),
            dir: dir.path().to_string_lossy().into_owned(),
        };
        // A lab case's `c-args:` are the C tool's own.
        let c_args = self.lab.as_ref().and_then(|lab| lab.c_args.as_ref());
        let args = c_args.filter(|_| imp == Imp::Oracle).unwrap_or(&self.args);
        let args: Vec<OsString> = args
            .iter()
            .map(|a| OsString::from_vec(fill_vars(a, &vars)))
            .collect();
        let input = if self.live_stdin {
            Input::Feed(rx)
        } else {
            feed.lock().unwrap().take();
            Input::Bytes(self.stdin.clone())
        };
        let mut cmd = Command::new(imp, &self.prog)
            .args(&args)
            .stdin(input)
            .current_dir(dir.path());
        if let Some(t) = self.timeout {
            cmd = cmd.timeout(t);
        }
        for (k, v) in &self.env {
            cmd = cmd.env(k, v);
        }
        let out = match self.lab {
            Some(_) => cmd.run_lab(),
            None => cmd.run_raw(),
        };
        // Whatever happened, the feed must not keep stdin open.
        feed.lock().unwrap().take();
        let report = server.map_or_else(ServerReport::default, FakeServer::finish);
        let mut obs = Observation {
            imp,
            stdout: out.stdout.clone(),
            stderr: out.stderr.clone(),
            wire: wire_items(&report.conns),
            out,
            report,
        };
        // What differs between the two runs of a case by construction.
        obs.replace_all(vars.port.as_bytes(), b"PORT");
        obs.replace_all(vars.dir.as_bytes(), b"{DIR}");
        if self.lab.is_some() {
            let lab_dir = crate::lab::lab().dir.to_string_lossy().into_owned();
            obs.replace_all(lab_dir.as_bytes(), b"{LABDIR}");
            // `host:port` in messages: the lab's ports change from lab to lab.
            for name in lab_ports(&self.args) {
                let port = crate::lab::lab().port(&name);
                obs.replace_all(
                    format!(":{port}").as_bytes(),
                    format!(":{{LAB:{name}}}").as_bytes(),
                );
            }
        }
        for c in &self.checks {
            c(&mut obs);
        }
        for n in &self.normalise {
            n(&mut obs);
        }
        if std::env::var_os("CASE_SHOW").is_some() {
            // `CASE_SHOW=1 cargo test --test suite -- NAME --nocapture`: the run in the
            // notation of the case files (a drafting aid).
            eprintln!(
                "=== {} ({})\n--- stdout\n{}--- stderr\n{}--- exit status {}{}\n--- wire\n{}",
                self.name,
                imp.label(),
                show(&obs.stdout),
                show(&obs.stderr),
                obs.out.code(),
                if obs.out.timed_out {
                    " (timed out)"
                } else {
                    ""
                },
                render_wire(&obs.wire)
            );
        }
        obs
    }

    /// The expected text after this case's deviations (what ours must produce).
    fn deviated(&self, mut outcome: Outcome) -> Outcome {
        for d in &self.deviations {
            (d.apply)(&mut outcome);
        }
        outcome
    }

    fn fail(&self, what: &str, p: Vec<String>, o: &Observation) -> Result<(), Failed> {
        if p.is_empty() {
            return Ok(());
        }
        let whys: Vec<&str> = self.deviations.iter().map(|d| d.why.as_str()).collect();
        Err(format!(
            "[{}] {what}:\n\n{}\n\n{}raw run ({}): {}",
            self.name,
            p.join("\n\n"),
            if whys.is_empty() {
                String::new()
            } else {
                format!("(deviations applied: {})\n\n", whys.join("; "))
            },
            o.imp.label(),
            o.out.describe()
        )
        .into())
    }

    /// The C oracle must reproduce the expected text exactly (proves script and text), or
    /// the mechanism exchange's expectations.
    pub fn check_oracle(&self) -> Result<(), Failed> {
        let o = self.observe(Imp::Oracle);
        if self.expect == Expect::Mechanism {
            let p = self.mechanism_problems(&o);
            return self.fail("C oracle does not meet the expectations", p, &o);
        }
        let p = text_problems(&o, &self.expected);
        self.fail("C oracle does not match the expected text", p, &o)
    }

    fn mechanism_problems(&self, o: &Observation) -> Vec<String> {
        let want = self
            .auth
            .as_ref()
            .expect("a mechanism case has an `auth` view");
        let mut p = mechanism::problems(
            want,
            &self.lines,
            self.expected.status,
            &o.out.stdout,
            o.out.code(),
            &o.report,
        );
        if o.out.timed_out {
            p.push(format!("{} timed out", o.imp.label()));
        }
        for e in o.report.errors() {
            p.push(format!("fake server: {e}"));
        }
        p
    }

    /// Mechanism exchange, ours: its expectations, and the C tool's masked stdout and stderr.
    fn check_ours_mechanism(&self, c: &Observation, o: &Observation) -> Result<(), Failed> {
        let mut p = self.mechanism_problems(o);
        let (cm, om) = (mechanism::mask(&c.stdout), mechanism::mask(&o.stdout));
        if cm != om {
            p.push(diff("masked stdout (vs C oracle)", &cm, &om));
        }
        if c.stderr != o.stderr {
            p.push(diff(
                "stderr (vs C oracle)",
                &show(&c.stderr),
                &show(&o.stderr),
            ));
        }
        self.fail("ours differs", p, o)
    }

    /// Ours must match the expected text and the C oracle's run of the same case (both after
    /// the case's deviations, if any).
    pub fn check_ours(&self) -> Result<(), Failed> {
        let c = self.observe(Imp::Oracle);
        let o = self.observe(Imp::Ours);
        if self.expect == Expect::Mechanism {
            return self.check_ours_mechanism(&c, &o);
        }
        let want = self.deviated(self.expected.clone());
        let mut p: Vec<String> = text_problems(&o, &want)
            .into_iter()
            .map(|s| format!("vs expected text: {s}"))
            .collect();
        let c_outcome = self.deviated(c.outcome());
        p.extend(
            outcome_problems(&c_outcome, &o.outcome(), "exit status: C {}, ours {}")
                .into_iter()
                .map(|s| format!("vs C oracle: {s}")),
        );
        self.fail("ours differs", p, &o)
    }

    /// Opt-in extra: ours alone must match the expected text.
    pub fn check_extra(&self) -> Result<(), Failed> {
        let o = self.observe(Imp::Ours);
        let mut p = text_problems(&o, &self.expected);
        p.extend(self.server_log_problem());
        self.fail("ours does not match the expected text", p, &o)
    }

    /// A lab case's `server-log:` text missing from its log 2 s after our run.
    fn server_log_problem(&self) -> Option<String> {
        let (file, needle) = self.lab.as_ref()?.server_log.as_ref()?;
        let found = crate::lab::lab().wait_for_log(file, needle, Duration::from_secs(2));
        (!found).then(|| format!("{file} does not show {needle:?} after our run"))
    }

    /// Same-as-C: runs both tools and compares them (and the recorded status/stderr).
    pub fn check_same(&self) -> Result<(), Failed> {
        let guard = serial_guard(self.lab.as_ref());
        let c = self.observe(Imp::Oracle);
        let o = self.observe(Imp::Ours);
        drop(guard);
        let mut p = self.same_problems(&c, &o);
        p.extend(self.server_log_problem());
        self.fail("ours differs from the C tool", p, &o)
    }

    /// The harness itself: the C tool run twice compares equal (after the normalisation), so
    /// every difference between C and ours is real.
    pub fn check_c_stable(&self) -> Result<(), Failed> {
        let guard = serial_guard(self.lab.as_ref());
        let first = self.observe(Imp::Oracle);
        let second = self.observe(Imp::Oracle);
        drop(guard);
        let p = outcome_problems(
            &first.outcome(),
            &second.outcome(),
            "exit status: first {}, second {}",
        );
        self.fail("the C tool differs from itself", p, &second)
    }

    fn same_problems(&self, c: &Observation, o: &Observation) -> Vec<String> {
        if !self.deviations.is_empty() {
            return self.deviation_problems(c, o);
        }
        let mut p = Vec::new();
        let mut differ = |what: &str, a: &[u8], b: &[u8]| {
            if a != b {
                p.push(format!(
                    "{what} differs\n  C:    {}\n  ours: {}",
                    shorten(a),
                    shorten(b)
                ));
            }
        };
        if self.expect != Expect::StdoutDiffers {
            differ("stdout", &c.stdout, &o.stdout);
        }
        differ("stderr", &c.stderr, &o.stderr);
        differ("bytes received by the server", &c.received(), &o.received());
        if self.expect == Expect::StdoutDiffers && c.stdout == o.stdout {
            p.push("stdout is now the C tool's: change the case to `expect: same`".into());
        }
        // The script's `expect-line`/`expect-bytes` hold for both tools (the server's other
        // complaints, such as a read after the client left, are part of hostile scripts).
        for (who, run) in [("C run", c), ("ours", o)] {
            for e in run.report.errors() {
                if e.contains(": expected ") {
                    p.push(format!("fake server ({who}): {e}"));
                }
            }
        }
        let (cc, oc) = (c.out.code(), o.out.code());
        if self.expect == Expect::Hang {
            if !c.out.timed_out {
                p.push(format!("expected the C tool to hang, it exited {cc}"));
            }
            if !o.out.timed_out {
                p.push(format!(
                    "expected ours to keep waiting like the C tool, it exited {oc}"
                ));
            }
            return p;
        }
        if c.out.timed_out {
            p.push("the C tool timed out: the case is wrong".into());
        }
        if o.out.timed_out {
            p.push("ours hung (killed at the timeout)".into());
        }
        if cc != oc {
            p.push(format!("exit status differs: C {cc} ours {oc}"));
        }
        p.extend(self.recorded_problems(c));
        p
    }

    /// The C tool's run against the recorded `exit:` and `stderr:` (ours is held to the C
    /// tool's run).
    fn recorded_problems(&self, c: &Observation) -> Vec<String> {
        let mut p = Vec::new();
        if self.recorded_status && c.out.code() != self.expected.status {
            p.push(format!(
                "the C tool's exit status {} is not the recorded {}",
                c.out.code(),
                self.expected.status
            ));
        }
        if self.recorded_stderr && c.stderr != self.expected.stderr {
            p.push(format!(
                "the C tool's stderr {} is not the recorded {}",
                shorten(&c.stderr),
                shorten(&self.expected.stderr)
            ));
        }
        p
    }

    /// A declared deviation from the C tool: ours must be the C tool's run as the deviation
    /// edits it (so the difference is the declared one and nothing else).
    fn deviation_problems(&self, c: &Observation, o: &Observation) -> Vec<String> {
        let mut p = self.recorded_problems(c);
        if c.out.timed_out || o.out.timed_out {
            p.push("a tool timed out".into());
        }
        if c.outcome() == o.outcome() {
            p.push("a deviation is declared, but ours is the C tool's run".into());
        }
        if c.received() != o.received() {
            p.push("the server received other bytes from ours than from the C tool".into());
        }
        for judge in self.deviations.iter().filter_map(|d| d.judge) {
            if let Err(e) = judge(&c.outcome(), &o.outcome()) {
                p.push(format!("not the declared difference: {e}"));
            }
        }
        if self.deviations.iter().any(|d| d.judge.is_some()) {
            return p;
        }
        let want = self.deviated(c.outcome());
        p.extend(
            outcome_problems(&want, &o.outcome(), "exit status: C deviated {}, ours {}")
                .into_iter()
                .map(|s| format!("vs the C tool's run, deviated: {s}")),
        );
        p
    }

    /// How this case is judged.
    pub fn judged(&self) -> Expect {
        self.expect
    }
}

/// A run against the expected text: timeouts, differences and the fake server's complaints.
fn text_problems(o: &Observation, want: &Outcome) -> Vec<String> {
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

fn shorten(bytes: &[u8]) -> String {
    let text = show(bytes);
    if text.len() > 600 {
        format!("{}... ({} bytes)", &text[..600], bytes.len())
    } else {
        text
    }
}

/// The directory a tool's cases live in (`imtest` → `imap`, `-P mupdate` → `mupdate`, ...).
pub fn topic(tool: &str, args: &[Vec<u8>]) -> String {
    if let Some(at) = args.iter().position(|a| a == b"-P") {
        if let Some(p) = args.get(at + 1) {
            return String::from_utf8_lossy(p).into_owned();
        }
    }
    match tool {
        "imtest" => "imap",
        "pop3test" => "pop3",
        "smtptest" => "smtp",
        "lmtptest" => "lmtp",
        "sivtest" => "sieve",
        "nntptest" => "nntp",
        "mupdatetest" => "mupdate",
        "httptest" => "http",
        "synctest" => "csync",
        other => other,
    }
    .to_string()
}

/// The listed tests of one case: `NAME::oracle` and `NAME::ours` for a text case, `NAME`
/// otherwise. `build` makes the case afresh in the test's thread.
pub fn trials(
    name: &str,
    expect: Expect,
    build: impl Fn() -> Case + Send + Sync + 'static,
) -> Vec<Trial> {
    let build = Arc::new(build);
    if expect == Expect::Extra {
        return vec![Trial::test(name, move || build().check_extra())];
    }
    if !expect.two_sided() {
        return vec![Trial::test(name, move || build().check_same())];
    }
    let b2 = build.clone();
    vec![
        Trial::test(format!("{name}::oracle"), move || build().check_oracle()),
        Trial::test(format!("{name}::ours"), move || b2().check_ours()),
    ]
}

/// A Rust case in a topic: `<topic of its tool>/<name>`.
pub fn rust_case(name: &str, build: fn() -> Case) -> Vec<Trial> {
    let case = build();
    trials(
        &format!("{}/{name}", topic(&case.prog, &case.args)),
        case.judged(),
        build,
    )
}

/// A Rust test with a plain body (it fails by panicking).
pub fn rust_test(name: &str, f: fn()) -> Trial {
    rust_test_with(name, f)
}

/// [`rust_test`] for a closure.
pub fn rust_test_with(name: &str, f: impl FnOnce() + Send + 'static) -> Trial {
    Trial::test(name, move || {
        f();
        Ok(())
    })
}
