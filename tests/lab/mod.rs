//! Real servers for the integration tests: the throw-away mail lab of `scripts/lab.sh`
//! (Dovecot: IMAP, POP3, ManageSieve, LMTP, submission; Postfix: SMTP; Cyrus 3.6.1: IMAP,
//! POP3, LMTP, Sieve, NNTP, HTTP, mupdate, sync).
//!
//! * [`lab()`] starts the lab once per test binary (a `OnceLock`), in a private directory
//!   `$TMPDIR/imtest-lab-<pid>/lab`, and makes sure it is stopped when the test process ends:
//!   `scripts/lab.sh down` runs from a `libc::atexit` handler (normal exit and the harness's
//!   `process::exit` after failures both run it), and `lab.sh up --watch <our pid>` leaves a
//!   watchdog that stops the lab if we are killed instead. Set `IMTEST_LAB_DIR` to a lab
//!   started with `make lab` to use it instead (it is then left running).
//! * [`take_slot`]: at most [`max_jobs`] tools talk to the lab at a time across the whole
//!   test binary (the runner, `support::run::Command::run_lab`, holds one while it runs).
//!
//! Submodules: [`normalise`] (what varies from run to run), [`diff`] (unified diff).
#![allow(dead_code)]

pub mod diff;
pub mod normalise;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Condvar, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

/// The lab script.
const LAB_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lab.sh");

/// Users of the lab (scripts/lab.sh).
pub const TIM: (&str, &str) = ("tim", "tanstaaftanstaaf");
pub const BOB: (&str, &str) = ("bob", "secret");
pub const MASTER: (&str, &str) = ("master", "masterpass");

/// A running lab: its directory (certificates, logs) and its ports.
#[derive(Debug)]
pub struct Lab {
    pub dir: PathBuf,
    ports: BTreeMap<String, u16>,
}

impl Lab {
    /// The port called `name` in `DIR/ports` (e.g. `IMAP_PORT`); panics if unknown.
    pub fn port(&self, name: &str) -> u16 {
        match self.ports.get(name) {
            Some(port) => *port,
            None => panic!("lab has no port {name}; it has {:?}", self.ports.keys()),
        }
    }

    pub fn ports(&self) -> &BTreeMap<String, u16> {
        &self.ports
    }

    /// A file in the lab directory (e.g. `tim.pem`, `dovecot.log`).
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Waits up to `timeout` for `needle` to appear in the lab file `file` (server logs are
    /// written asynchronously).
    pub fn wait_for_log(&self, file: &str, needle: &str, timeout: Duration) -> bool {
        let start = Instant::now();
        loop {
            let text = fs::read(self.path(file)).unwrap_or_default();
            if String::from_utf8_lossy(&text).contains(needle) {
                return true;
            }
            if start.elapsed() > timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// This test process's scratch directory: `lab/` (unless `IMTEST_LAB_DIR`).
fn scratch_root() -> &'static Path {
    SCRATCH.get_or_init(|| {
        sweep_stale_scratch();
        let root = std::env::temp_dir().join(format!("imtest-lab-{}", std::process::id()));
        if root.exists() {
            // A previous process with our pid left it behind: stop whatever ran there.
            lab_down(&root.join("lab"));
            let _ = fs::remove_dir_all(&root);
        }
        fs::create_dir_all(&root).expect("create the scratch directory");
        register_cleanup();
        root
    })
}

/// A test process killed with SIGKILL runs no exit handler: its watchdog stops the lab, but
/// the scratch directory stays. Removes such leftovers: `imtest-lab-<pid>` of a
/// process that is gone, and with no lab left in it.
fn sweep_stale_scratch() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("imtest-lab-"))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: kill(pid, 0) only checks for existence.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone && !entry.path().join("lab").exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn lab_down(dir: &Path) {
    let _ = Command::new(LAB_SCRIPT)
        .arg("down")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether this process started the lab it uses (and so must stop it).
static OWN_LAB: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn cleanup_at_exit() {
    if let Some(dir) = OWN_LAB.get() {
        lab_down(dir);
    }
    if let Some(root) = SCRATCH.get() {
        let _ = fs::remove_dir_all(root);
    }
}

/// This process's scratch directory, once created.
static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

fn register_cleanup() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: registers a plain `extern "C" fn()`; it only reads statics set before.
        let rc = unsafe { libc::atexit(cleanup_at_exit) };
        assert_eq!(rc, 0, "atexit failed");
    });
}

/// The lab, started on first use (≈ 5 s with Cyrus); panics with the script's output if it
/// cannot start.
pub fn lab() -> &'static Lab {
    static LAB: OnceLock<Result<Lab, String>> = OnceLock::new();
    match LAB.get_or_init(start_lab) {
        Ok(lab) => lab,
        Err(e) => panic!("{e}"),
    }
}

fn start_lab() -> Result<Lab, String> {
    if let Some(dir) = std::env::var_os("IMTEST_LAB_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return Ok(Lab {
            ports: read_ports(&dir)?,
            dir,
        });
    }
    for program in "dovecot postfix doveadm openssl python3 flock saslpasswd2".split(' ') {
        let found = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).any(|d| d.join(program).exists()))
            .unwrap_or(false)
            || Path::new("/usr/sbin").join(program).exists();
        if !found {
            return Err(format!(
                "the lab needs `{program}`: run `make deps` (scripts/install-deps.sh) first"
            ));
        }
    }
    let dir = scratch_root().join("lab");
    let _ = OWN_LAB.set(dir.clone());
    let started = Instant::now();
    let out = Command::new(LAB_SCRIPT)
        .arg("up")
        .arg(&dir)
        .arg("--watch")
        .arg(std::process::id().to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {LAB_SCRIPT}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{LAB_SCRIPT} up {} failed ({}):\n{}{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    eprintln!(
        "lab: up in {} after {:.1} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(Lab {
        ports: read_ports(&dir)?,
        dir,
    })
}

fn read_ports(dir: &Path) -> Result<BTreeMap<String, u16>, String> {
    let text = fs::read_to_string(dir.join("ports"))
        .map_err(|e| format!("cannot read {}/ports: {e}", dir.display()))?;
    let mut ports = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| format!("bad line in ports: {line:?}"))?;
        let port = value
            .trim()
            .parse()
            .map_err(|_| format!("bad port in ports: {line:?}"))?;
        ports.insert(name.trim().to_owned(), port);
    }
    Ok(ports)
}

// --- sharing the lab ------------------------------------------------------------------

/// At most this many tools run at once (env `IMTEST_LAB_JOBS`, default 4: the machine has
/// two cores and most of a run is waiting for the server).
pub fn max_jobs() -> usize {
    static JOBS: OnceLock<usize> = OnceLock::new();
    *JOBS.get_or_init(|| {
        std::env::var("IMTEST_LAB_JOBS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(4)
    })
}

/// A counting semaphore shared by every run in this process.
struct Slots {
    used: Mutex<usize>,
    freed: Condvar,
}

/// One of the [`max_jobs`] places, held while a tool runs against the lab.
pub struct SlotGuard(&'static Slots);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        *self.0.used.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.0.freed.notify_one();
    }
}

/// Waits for one of the [`max_jobs`] places.
pub fn take_slot() -> SlotGuard {
    static SLOTS: Slots = Slots {
        used: Mutex::new(0),
        freed: Condvar::new(),
    };
    let mut used = SLOTS.used.lock().unwrap_or_else(|e| e.into_inner());
    while *used >= max_jobs() {
        used = SLOTS.freed.wait(used).unwrap_or_else(|e| e.into_inner());
    }
    *used += 1;
    SlotGuard(&SLOTS)
}
