//! The malformed-server corpus: every `tests/malformed/*.case` file is one hostile server
//! (truncated replies, NUL bytes, 1 MB lines, lines without CR LF, invalid base64, replies out
//! of order, plain text where TLS is expected, silence, resets and closes at each step) played
//! by a replay server to the C tool and to ours. Both must agree on stdout, stderr, exit
//! status and the bytes the server received; exit status and stderr must also be the ones
//! recorded in the file (the C tool's, written by `MALFORMED_BLESS=1`). A case with
//! `expect: hang` asserts that both tools are still waiting when the runner's short timeout
//! kills them (the C tool waits forever there, and so do we on purpose; see README.md).
//!
//! The format is described in `tests/malformed/README.md`. `MALFORMED_FILTER=text` runs the
//! cases whose file name contains `text`; `MALFORMED_SHOW=1` prints every run.

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::certs::certs;
use support::run::{Command, Imp, Output};
use support::server::*;
use support::wire::show;

/// The runner's timeout for a case that should finish.
const FINISH_TIMEOUT: Duration = Duration::from_secs(10);
/// Parallel runs (each case runs both tools; most of the time is spent waiting).
const WORKERS: usize = 6;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// Both tools end and agree.
    Same,
    /// Both tools are still waiting after `timeout` seconds.
    Hang,
    /// A known, reported difference on stdout only (the `why:` line says which): everything
    /// else must agree, and stdout must still differ — once it is fixed, the case says so.
    StdoutDiffers,
}

#[derive(Debug, Clone)]
enum Op {
    Send(Vec<u8>),
    ReadLine,
    ReadToEof,
    DiscardToEof,
    DiscardSome,
    Pause(u64),
    StartTls,
    Close,
    Reset,
    ReadTimeout(u64),
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    path: PathBuf,
    tool: String,
    args: Vec<String>,
    stdin: Vec<u8>,
    expect: Expect,
    timeout: Duration,
    exit: Option<i32>,
    stderr: Option<Vec<u8>>,
    /// One list of operations per connection.
    connections: Vec<Vec<Op>>,
}

/// `\r \n \t \0 \\ \" \xHH`; the value may be wrapped in double quotes.
fn unescape(text: &str) -> Result<Vec<u8>, String> {
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
fn escape(bytes: &[u8]) -> String {
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
fn words(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if rest.starts_with('"') {
            let end = rest[1..]
                .find('"')
                .map(|i| i + 1)
                .ok_or_else(|| format!("unterminated quote in {text}"))?;
            let word = unescape(&rest[..=end])?;
            out.push(String::from_utf8(word).map_err(|e| e.to_string())?);
            rest = rest[end + 1..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            out.push(rest[..end].to_string());
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
        "read-line" => Op::ReadLine,
        "read-to-eof" => Op::ReadToEof,
        "discard-to-eof" | "hold" => Op::DiscardToEof,
        "discard-some" => Op::DiscardSome,
        "pause" => Op::Pause(number("pause")?),
        "starttls" => Op::StartTls,
        "close" => Op::Close,
        "reset" => Op::Reset,
        "read-timeout" => Op::ReadTimeout(number("read-timeout")?),
        other => return Err(format!("unknown step {other:?}")),
    })
}

fn parse_case(path: &Path) -> Result<Case, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut case = Case {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        path: path.to_path_buf(),
        tool: String::new(),
        args: Vec::new(),
        stdin: Vec::new(),
        expect: Expect::Same,
        timeout: FINISH_TIMEOUT,
        exit: None,
        stderr: None,
        connections: Vec::new(),
    };
    let mut in_script = false;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |e: String| format!("{}:{}: {e}", path.display(), n + 1);
        if in_script {
            if line == "connection" {
                case.connections.push(Vec::new());
                continue;
            }
            let op = parse_op(line).map_err(err)?;
            case.connections.last_mut().unwrap().push(op);
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
        match key {
            "tool" => case.tool = value.to_string(),
            "args" => case.args = words(value).map_err(err)?,
            "stdin" => case.stdin = unescape(value).map_err(err)?,
            "expect" => {
                case.expect = match value {
                    "same" => Expect::Same,
                    "hang" => Expect::Hang,
                    "stdout-differs" => Expect::StdoutDiffers,
                    other => return Err(err(format!("unknown expectation {other:?}"))),
                }
            }
            "timeout" => {
                case.timeout = Duration::from_secs(value.parse().map_err(|e| err(format!("{e}")))?)
            }
            "exit" => case.exit = Some(value.parse().map_err(|e| err(format!("{e}")))?),
            "stderr" => case.stderr = Some(unescape(value).map_err(err)?),
            "note" | "why" => {}
            other => return Err(err(format!("unknown key {other:?}"))),
        }
    }
    if case.tool.is_empty() || case.connections.is_empty() {
        return Err(format!("{}: needs `tool:` and `script:`", path.display()));
    }
    Ok(case)
}

fn steps(ops: &[Op]) -> Script {
    ops.iter()
        .map(|op| match op.clone() {
            Op::Send(data) => send(data),
            Op::ReadLine => read_line(),
            Op::ReadToEof => read_to_eof(),
            Op::DiscardToEof => discard_to_eof(),
            Op::DiscardSome => discard_some(),
            Op::Pause(ms) => pause_ms(ms),
            Op::StartTls => start_tls(&TlsConfig::simple(&certs().server)),
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

struct Run {
    output: Output,
    received: Vec<u8>,
}

fn run_case(case: &Case, imp: Imp) -> Run {
    let scripts = case.connections.iter().map(|ops| steps(ops)).collect();
    let server = FakeServer::start(scripts);
    let port = server.port().to_string();
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| a.replace("{PORT}", &port))
        .collect();
    let output = Command::new(imp, &case.tool)
        .args(&args)
        .stdin_bytes(&case.stdin)
        .timeout(case.timeout)
        .run_raw();
    let report = server.finish();
    let received = report.conns.iter().flat_map(|c| c.received()).collect();
    Run { output, received }
}

/// Compares one case's two runs; the problems found, if any.
fn judge(case: &Case, c: &Run, ours: &Run) -> Vec<String> {
    let mut problems = Vec::new();
    let mut differ = |what: &str, a: &[u8], b: &[u8]| {
        if a != b {
            problems.push(format!(
                "{what} differs\n  C:    {}\n  ours: {}",
                shorten(a),
                shorten(b)
            ));
        }
    };
    if case.expect != Expect::StdoutDiffers {
        differ("stdout", &c.output.stdout, &ours.output.stdout);
    }
    differ("stderr", &c.output.stderr, &ours.output.stderr);
    differ("bytes received by the server", &c.received, &ours.received);
    if case.expect == Expect::StdoutDiffers && c.output.stdout == ours.output.stdout {
        problems.push("stdout is now the C tool's: change the case to `expect: same`".into());
    }
    match case.expect {
        Expect::Hang => {
            if !c.output.timed_out {
                problems.push(format!(
                    "expected the C tool to hang, it exited {}",
                    c.output.code()
                ));
            }
            if !ours.output.timed_out {
                problems.push(format!(
                    "expected ours to keep waiting like the C tool, it exited {}",
                    ours.output.code()
                ));
            }
        }
        Expect::Same | Expect::StdoutDiffers => {
            if c.output.timed_out {
                problems.push("the C tool timed out: the case is wrong".into());
            }
            if ours.output.timed_out {
                problems.push("ours hung (killed at the timeout)".into());
            }
            if c.output.code() != ours.output.code() {
                problems.push(format!(
                    "exit status differs: C {} ours {}",
                    c.output.code(),
                    ours.output.code()
                ));
            }
            if case.exit.is_some_and(|e| e != ours.output.code()) {
                problems.push(format!(
                    "exit status {} is not the recorded {}",
                    ours.output.code(),
                    case.exit.unwrap()
                ));
            }
            if let Some(stderr) = &case.stderr {
                if *stderr != ours.output.stderr {
                    problems.push(format!(
                        "stderr {} is not the recorded {}",
                        escape(&ours.output.stderr),
                        escape(stderr)
                    ));
                }
            }
            if case.exit.is_none() || case.stderr.is_none() {
                problems.push("no recorded `exit:`/`stderr:` (run with MALFORMED_BLESS=1)".into());
            }
        }
    }
    problems
}

fn shorten(bytes: &[u8]) -> String {
    let text = show(bytes);
    if text.len() > 600 {
        format!("{}... ({} bytes)", &text[..600], bytes.len())
    } else {
        text
    }
}

/// Writes the C tool's exit status and stderr into the case file.
fn bless(case: &Case, c: &Run) {
    let text = std::fs::read_to_string(&case.path).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("exit:") && !l.starts_with("stderr:"))
        .map(str::to_string)
        .collect();
    if case.expect != Expect::Hang && !c.output.timed_out {
        let at = lines
            .iter()
            .position(|l| l.trim() == "script:")
            .unwrap_or(lines.len());
        lines.insert(at, format!("stderr: {}", escape(&c.output.stderr)));
        lines.insert(at, format!("exit: {}", c.output.code()));
    }
    std::fs::write(&case.path, lines.join("\n") + "\n").unwrap();
}

fn cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let filter = std::env::var("MALFORMED_FILTER").unwrap_or_default();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/malformed")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "case"))
        .filter(|p| p.to_string_lossy().contains(&filter))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| parse_case(p).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn format_round_trips() {
    let bytes = b"a\r\n\0\"\\\x01\xff z".to_vec();
    assert_eq!(unescape(&escape(&bytes)).unwrap(), bytes);
    assert_eq!(
        words(r#"-t "" -p {PORT} "a b\x41" x"#).unwrap(),
        ["-t", "", "-p", "{PORT}", "a bA", "x"]
    );
}

#[test]
fn corpus_has_enough_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let count = std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "case"))
        })
        .count();
    assert!(count >= 100, "only {count} cases");
}

#[test]
fn every_case_matches_the_c_tool() {
    let cases = cases();
    let jobs: Vec<(usize, Imp)> = (0..cases.len())
        .flat_map(|i| [(i, Imp::Oracle), (i, Imp::Ours)])
        .collect();
    let jobs = Arc::new(Mutex::new(jobs.into_iter()));
    let results: Arc<Mutex<Vec<(usize, Imp, Run)>>> = Arc::default();
    let cases = Arc::new(cases);
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (jobs, results, cases) = (jobs.clone(), results.clone(), cases.clone());
            std::thread::spawn(move || loop {
                let Some((i, imp)) = jobs.lock().unwrap().next() else {
                    break;
                };
                let run = run_case(&cases[i], imp);
                results.lock().unwrap().push((i, imp, run));
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let mut results = std::mem::take(&mut *results.lock().unwrap());
    results.sort_by_key(|(i, imp, _)| (*i, *imp == Imp::Ours));
    let blessing = std::env::var_os("MALFORMED_BLESS").is_some();
    let showing = std::env::var_os("MALFORMED_SHOW").is_some();
    let mut failures = Vec::new();
    for pair in results.chunks(2) {
        let [(i, _, c), (_, _, ours)] = pair else {
            unreachable!()
        };
        let case = &cases[*i];
        if showing {
            eprintln!(
                "=== {} ({:?})\n--- C: {}\n--- C received: {}\n--- ours: {}\n",
                case.name,
                case.expect,
                c.output.describe(),
                show(&c.received),
                ours.output.describe()
            );
        }
        if blessing {
            bless(case, c);
            continue;
        }
        let problems = judge(case, c, ours);
        if !problems.is_empty() {
            failures.push(format!("{}:\n  {}", case.name, problems.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} malformed-server cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
