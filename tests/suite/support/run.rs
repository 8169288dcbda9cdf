//! Running the tool under test — our binary or the C oracle — under a chosen argv[0] name
//! (a symlink in a temp dir), with stdin bytes / a live stdin feed / a pty, capturing stdout,
//! stderr and the exit status, always with a hard timeout (the process group is killed).
//!
//! The child gets its own session (`setsid`), so it has **no controlling terminal** unless run
//! on a pty: password prompts then read stdin, exactly as in the spec's "no terminal" transcripts
//! regardless of how `cargo test` itself was started.

use super::tmp::TempDir;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where the C tool lives (Debian 12 `cyrus-clients`).
pub const ORACLE: &str = "/usr/lib/cyrus/bin/imtest";
/// Default hard limit for one run.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(10);

/// Which implementation to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imp {
    /// `/usr/lib/cyrus/bin/imtest` (3.6.1).
    Oracle,
    /// This crate's binary (`CARGO_BIN_EXE_imtest`).
    Ours,
}

impl Imp {
    /// The executable; panics (fails the test) if the oracle is not installed.
    pub fn binary(self) -> PathBuf {
        match self {
            Imp::Oracle => {
                let p = PathBuf::from(ORACLE);
                assert!(
                    p.exists(),
                    "the C oracle {ORACLE} is missing: install it with \
                     `apt-get install cyrus-clients` (Debian 12, 3.6.1) — these tests never skip"
                );
                p
            }
            Imp::Ours => PathBuf::from(env!("CARGO_BIN_EXE_imtest")),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Imp::Oracle => "C oracle",
            Imp::Ours => "ours",
        }
    }
}

/// What the child reads on stdin.
pub enum Input {
    /// A regular file with these bytes (EOF is immediate after them — like `< file`).
    Bytes(Vec<u8>),
    /// `/dev/null`.
    Null,
    /// A pipe fed from this channel; EOF when the sender is dropped.
    Feed(Receiver<Vec<u8>>),
}

/// A command to run; build with [`Command::new`].
pub struct Command {
    imp: Imp,
    name: OsString,
    args: Vec<OsString>,
    stdin: Input,
    timeout: Duration,
    envs: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    /// A program (and its options) that runs the tool, e.g. valgrind.
    wrapper: Vec<OsString>,
}

/// Result of a run.
#[derive(Debug, Clone)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: ExitStatus,
    pub elapsed: Duration,
    /// The run hit the timeout and was killed.
    pub timed_out: bool,
}

impl Output {
    /// Exit code, or `128 + signal` like a shell shows it.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| 128 + self.status.signal().unwrap_or(0))
    }

    pub fn describe(&self) -> String {
        format!(
            "exit {}{} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code(),
            if self.timed_out {
                " (TIMED OUT, killed)"
            } else {
                ""
            },
            self.elapsed,
            super::wire::show(&self.stdout),
            super::wire::show(&self.stderr)
        )
    }
}

impl Command {
    /// `imp` invoked as `name` (e.g. `imtest`, `pop3test`).
    pub fn new(imp: Imp, name: impl AsRef<OsStr>) -> Command {
        Command {
            imp,
            name: name.as_ref().to_os_string(),
            args: Vec::new(),
            stdin: Input::Bytes(Vec::new()),
            timeout: RUN_TIMEOUT,
            envs: vec![("LC_ALL".into(), "C".into())],
            cwd: None,
            wrapper: Vec::new(),
        }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    pub fn stdin_bytes(self, data: impl AsRef<[u8]>) -> Self {
        self.stdin(Input::Bytes(data.as_ref().to_vec()))
    }

    pub fn stdin(mut self, input: Input) -> Self {
        self.stdin = input;
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((k.as_ref().to_os_string(), v.as_ref().to_os_string()));
        self
    }

    /// Runs the tool under `wrapper` (its program and options; the tool's path follows them).
    pub fn under<I, S>(mut self, wrapper: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.wrapper = wrapper
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        self
    }

    /// `line` and a newline readable on descriptor `fd`: a pipe a shell (the wrapper) leaves
    /// open for the tool it execs, stdin then from /dev/null.
    pub fn line_on_fd(self, fd: u32, line: &str) -> Self {
        let script = format!("printf '%s\\n' \"$FD_LINE\" | {{ exec \"$@\" {fd}<&0 </dev/null; }}");
        self.under(["sh", "-c", &script, "sh"]).env("FD_LINE", line)
    }

    /// Working directory of the child (default: inherited).
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    fn prepare(&self, dir: &TempDir) -> std::process::Command {
        let link = dir.path().join(&self.name);
        std::os::unix::fs::symlink(self.imp.binary(), &link)
            .unwrap_or_else(|e| panic!("symlink {}: {e}", link.display()));
        let mut cmd = match self.wrapper.split_first() {
            Some((program, options)) => {
                let mut cmd = std::process::Command::new(program);
                cmd.args(options).arg(&link);
                cmd
            }
            None => {
                let mut cmd = std::process::Command::new(&link);
                cmd.arg0(&self.name);
                cmd
            }
        };
        cmd.args(&self.args);
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        if let Some(c) = &self.cwd {
            cmd.current_dir(c);
        }
        cmd
    }

    /// Runs to completion; panics if the timeout is hit (after killing the process group).
    pub fn run(self) -> Output {
        let out = self.run_raw();
        assert!(!out.timed_out, "run timed out:\n{}", out.describe());
        out
    }

    /// Runs to completion or timeout (then `timed_out` is set); never panics on the child's
    /// behaviour.
    pub fn run_raw(self) -> Output {
        self.spawn().wait()
    }

    /// [`Command::run_raw`] against the lab's real servers: waits for one of the lab's places
    /// first (`crate::lab::take_slot`).
    pub fn run_lab(self) -> Output {
        let _slot = crate::lab::take_slot();
        self.run_raw()
    }

    /// Starts the child and returns a handle (for tests that signal it or talk to it).
    pub fn spawn(self) -> Running {
        let dir = TempDir::new("run");
        let mut cmd = self.prepare(&dir);
        let mut feeder = None;
        match self.stdin {
            Input::Bytes(data) => {
                let p = dir.write("stdin", &data);
                cmd.stdin(File::open(p).expect("open stdin file"));
            }
            Input::Null => {
                cmd.stdin(Stdio::null());
            }
            Input::Feed(rx) => {
                cmd.stdin(Stdio::piped());
                feeder = Some(rx);
            }
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent; it only
        // detaches the child from our controlling terminal (docs/behaviour.md §9.3: getpass then
        // uses stdin).
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let start = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.imp.binary().display()));
        let out_t = reader(child.stdout.take());
        let err_t = reader(child.stderr.take());
        let feed_t = feeder.map(|rx| {
            let mut w = child.stdin.take().expect("stdin pipe");
            std::thread::spawn(move || {
                for chunk in rx {
                    if w.write_all(&chunk).is_err() {
                        break;
                    }
                    let _ = w.flush();
                }
            })
        });
        Running {
            _dir: dir,
            child,
            start,
            timeout: self.timeout,
            out_t,
            err_t,
            feed_t,
        }
    }

    /// Runs on a fresh pty that becomes the child's controlling terminal (stdin, stdout and
    /// stderr all on it). `drive` talks to the terminal; afterwards everything still
    /// written is collected until the child exits.
    pub fn run_pty(self, drive: impl FnOnce(&mut Pty) -> Result<(), String>) -> PtyOutput {
        let dir = TempDir::new("pty");
        let mut cmd = self.prepare(&dir);
        let (master, slave) = openpty();
        let dup = || slave.try_clone().expect("dup slave");
        cmd.stdin(dup()).stdout(dup()).stderr(dup());
        // SAFETY: only async-signal-safe calls (setsid, ioctl) on the child's own descriptors:
        // new session, then make fd 0 (the pty slave, already dup2'ed) the controlling tty.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let start = Instant::now();
        let child = cmd.spawn().expect("spawn on pty");
        drop(cmd);
        drop(slave);
        let mut pty = Pty {
            master,
            child,
            out: Vec::new(),
            deadline: start + self.timeout,
        };
        let drive_result = drive(&mut pty);
        let timed_out = pty.drain_until_exit();
        let status = pty.child.wait().expect("wait");
        PtyOutput {
            raw: std::mem::take(&mut pty.out),
            status,
            drive_result,
            timed_out,
        }
    }
}

fn reader<R: Read + Send + 'static>(r: Option<R>) -> Option<JoinHandle<Vec<u8>>> {
    r.map(|mut r| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    })
}

/// A started child.
pub struct Running {
    _dir: TempDir,
    child: Child,
    start: Instant,
    timeout: Duration,
    out_t: Option<JoinHandle<Vec<u8>>>,
    err_t: Option<JoinHandle<Vec<u8>>>,
    feed_t: Option<JoinHandle<()>>,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `sig` to the child (only to it, by pid).
    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on the pid of a child we spawned and have not reaped yet.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// Whether the child has exited (without reaping the result).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits for exit (or the timeout, then kills the child's process group) and collects.
    pub fn wait(mut self) -> Output {
        let deadline = self.start + self.timeout;
        let mut timed_out = false;
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                break st;
            }
            if Instant::now() > deadline {
                timed_out = true;
                // SAFETY: kill(2) of the process group led by our child (it called setsid, so
                // its pgid is its pid): ends it and anything it forked, nothing else.
                unsafe {
                    libc::kill(-self.pid(), libc::SIGKILL);
                }
                break self.child.wait().expect("wait after kill");
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let elapsed = self.start.elapsed();
        // Descendants (e.g. -X daemons) could keep the pipes open; don't wait for them forever.
        let stdout = join_bounded(self.out_t.take());
        let stderr = join_bounded(self.err_t.take());
        if let Some(t) = self.feed_t.take() {
            if t.is_finished() {
                let _ = t.join();
            }
        }
        Output {
            stdout,
            stderr,
            status,
            elapsed,
            timed_out,
        }
    }
}

fn join_bounded(h: Option<JoinHandle<Vec<u8>>>) -> Vec<u8> {
    let Some(h) = h else { return Vec::new() };
    let deadline = Instant::now() + Duration::from_secs(2);
    while !h.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    if h.is_finished() {
        h.join().unwrap_or_default()
    } else {
        b"<output pipe still held open by a descendant>".to_vec()
    }
}

fn openpty() -> (OwnedFd, File) {
    let mut m: libc::c_int = -1;
    let mut s: libc::c_int = -1;
    // SAFETY: openpty writes two descriptors into the provided ints; the other pointer
    // arguments may be NULL (no name, default termios and window size).
    let rc = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    for fd in [m, s] {
        // SAFETY: fcntl on descriptors we just got; close-on-exec keeps the originals out of
        // the child (it gets dup2'ed copies of the slave only).
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    // SAFETY: both descriptors are fresh, open and owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(m), File::from_raw_fd(s)) }
}

/// The parent's side of the child's terminal.
pub struct Pty {
    master: OwnedFd,
    child: Child,
    out: Vec<u8>,
    deadline: Instant,
}

/// Result of [`Command::run_pty`].
#[derive(Debug)]
pub struct PtyOutput {
    /// Every byte the terminal showed (the child's output and the terminal's echo).
    pub raw: Vec<u8>,
    pub status: ExitStatus,
    /// What the driver closure returned.
    pub drive_result: Result<(), String>,
    pub timed_out: bool,
}

impl Pty {
    /// Reads what is available within `wait`; false on EOF/EIO (slave closed).
    fn pump(&mut self, wait: Duration) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = wait.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: poll on one valid pollfd we own.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n <= 0 {
            return true;
        }
        let mut buf = [0u8; 4096];
        // SAFETY: read into a local buffer of the stated length from our master fd.
        let r = unsafe {
            libc::read(
                self.master.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
            )
        };
        if r <= 0 {
            return false;
        }
        self.out.extend_from_slice(&buf[..r as usize]);
        true
    }

    /// Waits until the terminal output (from byte `from` on) contains `needle`.
    pub fn wait_for(&mut self, needle: &[u8], timeout: Duration) -> Result<(), String> {
        let until = (Instant::now() + timeout).min(self.deadline);
        let start = self.out.len();
        loop {
            if self.out.windows(needle.len()).any(|w| w == needle) {
                return Ok(());
            }
            if Instant::now() > until || !self.pump(Duration::from_millis(5)) {
                return Err(format!(
                    "terminal never showed {:?} (new output: {:?})",
                    String::from_utf8_lossy(needle),
                    String::from_utf8_lossy(&self.out[start.min(self.out.len())..])
                ));
            }
        }
    }

    fn echo_on(&self) -> Result<bool, String> {
        // SAFETY: termios is plain old data; tcgetattr fills it from our open master fd
        // (on Linux the master reports the slave's settings).
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: see above.
        if unsafe { libc::tcgetattr(self.master.as_raw_fd(), &mut t) } != 0 {
            return Err(format!("tcgetattr: {}", std::io::Error::last_os_error()));
        }
        Ok(t.c_lflag & libc::ECHO != 0)
    }

    /// Waits until the terminal's ECHO flag is `on` (e.g. off = a no-echo password read has
    /// started; typing earlier would be flushed by its TCSAFLUSH).
    pub fn wait_echo(&mut self, on: bool, timeout: Duration) -> Result<(), String> {
        let until = (Instant::now() + timeout).min(self.deadline);
        loop {
            if self.echo_on()? == on {
                return Ok(());
            }
            if Instant::now() > until {
                return Err(format!(
                    "terminal echo never turned {}",
                    if on { "on" } else { "off" }
                ));
            }
            self.pump(Duration::from_millis(2));
        }
    }

    /// Types bytes on the terminal.
    pub fn write(&mut self, data: &[u8]) -> Result<(), String> {
        let mut off = 0;
        while off < data.len() {
            // SAFETY: write from a live slice to our master fd.
            let r = unsafe {
                libc::write(
                    self.master.as_raw_fd(),
                    data[off..].as_ptr() as *const libc::c_void,
                    data.len() - off,
                )
            };
            if r < 0 {
                return Err(format!("write to pty: {}", std::io::Error::last_os_error()));
            }
            off += r as usize;
        }
        Ok(())
    }

    /// Collects output until the child has exited and the terminal is drained; kills the
    /// child's process group at the deadline. Returns whether the deadline was hit.
    fn drain_until_exit(&mut self) -> bool {
        loop {
            let alive = self.pump(Duration::from_millis(5));
            let exited = matches!(self.child.try_wait(), Ok(Some(_)));
            if exited {
                // Read what is still buffered (EIO once empty).
                while self.pump(Duration::from_millis(20)) {
                    let before = self.out.len();
                    self.pump(Duration::from_millis(20));
                    if self.out.len() == before {
                        break;
                    }
                }
                return false;
            }
            if !alive {
                // Slave closed but the child lives on: wait for it.
                std::thread::sleep(Duration::from_millis(2));
            }
            if Instant::now() > self.deadline {
                // SAFETY: kill(2) of our child's process group (it is a session leader).
                unsafe {
                    libc::kill(-(self.child.id() as i32), libc::SIGKILL);
                }
                return true;
            }
        }
    }
}

/// A command line written as one string: its words (no quoting; for literal argument lists).
pub fn words(line: &'static str) -> Vec<&'static str> {
    line.split_whitespace().collect()
}
