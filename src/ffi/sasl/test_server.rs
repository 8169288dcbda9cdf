//! The one libsasl2 *server* fixture (unit tests and, through the `testkit` feature, the
//! integration suite): an in-process server connection backed by a throw-away sasldb made
//! with `saslpasswd2`, with per-connection options (`SASL_CB_GETOPT`), a log, a proxy policy,
//! external SSF / auth id, channel binding and the security layer. Not built into the tool.
//! libsasl2 calls are serialised by one process-wide lock (plugins keep static state).

use super::Code;
use sasl2_sys::prelude::*;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// The unit tests' client set-up (it can be set up only once per process).
#[cfg(test)]
pub use unit::*;

#[cfg(test)]
mod unit {
    use super::server_init;
    use std::sync::{Mutex, MutexGuard};

    /// libsasl2 and Berkeley DB are process-wide: the unit tests that use them run one at a time.
    pub fn lock() -> MutexGuard<'static, ()> {
        static LOCK: Mutex<()> = Mutex::new(());
        LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How the client side of a test process is set up (it can be set up only once).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Mode {
        /// The normal test process: challenge prompts on (`-c`), no `-o` options.
        Default,
        /// A child process: no challenge prompts.
        NoChallengePrompts,
        /// A child process: `-o client_mech_list=...` given twice (the later one must win).
        MechList,
    }

    /// Environment variable telling a child test process its `Mode`.
    const MODE_VAR: &str = "IMTEST_TEST_SASL_MODE";

    /// This process's mode.
    pub fn mode() -> Mode {
        match std::env::var(MODE_VAR).as_deref() {
            Ok("no-challenge-prompts") => Mode::NoChallengePrompts,
            Ok("mech-list") => Mode::MechList,
            _ => Mode::Default,
        }
    }

    /// The `client_mech_list` of `Mode::MechList`.
    pub const CLIENT_MECH_LIST: &str = "ANONYMOUS PLAIN DIGEST-MD5 SCRAM-SHA-256";

    /// For tests needing another client set-up: in the normal test process, runs `test` (its
    /// full path) in a child test process set up as `wanted`, checks it passed and returns false;
    /// in that child, returns true (go ahead with the test body).
    pub fn in_child(test: &str, wanted: Mode) -> bool {
        if mode() == wanted {
            return true;
        }
        assert_eq!(mode(), Mode::Default, "unexpected nesting");
        let value = match wanted {
            Mode::NoChallengePrompts => "no-challenge-prompts",
            Mode::MechList => "mech-list",
            Mode::Default => return true,
        };
        let exe = std::env::current_exe().expect("test binary");
        let output = std::process::Command::new(exe)
            .args(["--exact", test, "--test-threads=1", "--nocapture"])
            .env(MODE_VAR, value)
            .output()
            .expect("child test process");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        eprint!("{stderr}");
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "child test failed:\n{stdout}\n{stderr}"
        );
        false
    }

    /// Client and server set-up, once per test process.
    pub fn init() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let options = match mode() {
                Mode::MechList => vec![
                    (b"client_mech_list".to_vec(), b"NTLM".to_vec()),
                    (
                        b"client_mech_list".to_vec(),
                        CLIENT_MECH_LIST.as_bytes().to_vec(),
                    ),
                ],
                _ => Vec::new(),
            };
            super::super::client_init(super::super::ClientConfig {
                challenge_prompts: mode() != Mode::NoChallengePrompts,
                options,
            })
            .expect("sasl_client_init");
            // Set-up is once per process.
            assert_eq!(
                super::super::client_init(super::super::ClientConfig {
                    challenge_prompts: false,
                    options: Vec::new()
                }),
                Err(super::super::SASL_FAIL)
            );
            server_init();
        });
    }
}

/// The application name given to `sasl_server_init` (no such config file exists, so only
/// our callback's options apply).
const APPNAME: &str = "imtest-tests-fixture";

static LIB: Mutex<()> = Mutex::new(());
static INIT: OnceLock<c_int> = OnceLock::new();

fn lib() -> MutexGuard<'static, ()> {
    LIB.lock().unwrap_or_else(|e| e.into_inner())
}

/// `sasl_server_init`, once per process.
pub fn server_init() {
    let rc = *INIT.get_or_init(|| {
        let _g = lib();
        let app = CString::new(APPNAME).unwrap();
        // SAFETY: called exactly once per process (OnceLock); no global callbacks (NULL list);
        // libsasl2 copies the application name.
        unsafe { sasl_server_init(std::ptr::null(), app.as_ptr()) }
    });
    assert_eq!(rc, SASL_OK, "sasl_server_init failed: {}", errstring(rc));
}

/// `sasl_errstring` for a code.
pub fn errstring(code: c_int) -> String {
    // SAFETY: sasl_errstring returns a pointer to a static string for any code (NULL language
    // list and out-language are allowed).
    unsafe {
        let p = sasl_errstring(code, std::ptr::null(), std::ptr::null_mut());
        if p.is_null() {
            format!("SASL error {code}")
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

/// A sasldb file in its own temp dir, filled by `saslpasswd2` (which also creates the OTP
/// secret when the OTP plugin is installed). One per test that needs OTP: an abandoned OTP
/// exchange locks the user.
pub struct SaslDb {
    dir: PathBuf,
    pub path: PathBuf,
    pub realm: String,
}

impl SaslDb {
    /// `saslpasswd2 -f DB -u REALM -p -c USER` for each (user, password), password on stdin.
    pub fn create(realm: &str, users: &[(&str, &str)]) -> Arc<SaslDb> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("imtest-sasldb-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("sasldb2");
        for (user, pass) in users {
            let mut child = std::process::Command::new("saslpasswd2")
                .arg("-f")
                .arg(&path)
                .args(["-u", realm, "-p", "-c", user])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run saslpasswd2 ({e}): install it with `apt-get install sasl2-bin`"
                    )
                });
            {
                use std::io::Write;
                let mut stdin = child.stdin.take().expect("stdin");
                stdin
                    .write_all(pass.as_bytes())
                    .expect("password to saslpasswd2");
            }
            let out = child.wait_with_output().expect("saslpasswd2");
            assert!(
                out.status.success(),
                "saslpasswd2 for {user}@{realm} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Arc::new(SaslDb {
            dir,
            path,
            realm: realm.to_string(),
        })
    }
}

impl Drop for SaslDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Who may act as whom (`SASL_CB_PROXY_POLICY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyPolicy {
    /// libsasl2's default: the authorization id must equal the authentication id.
    Default,
    /// Any authenticated user may act as anyone.
    AllowAll,
}

/// How to create a server connection.
#[derive(Clone)]
pub struct ServerConfig {
    pub service: String,
    /// Server FQDN given to libsasl2 (DIGEST-MD5 checks the client's `digest-uri` host).
    pub fqdn: String,
    pub db: Arc<SaslDb>,
    /// Extra `SASL_CB_GETOPT` options (e.g. `("mech_list", "PLAIN")`).
    pub options: Vec<(String, String)>,
    pub min_ssf: u32,
    pub max_ssf: u32,
    pub maxbufsize: u32,
    pub security_flags: u32,
    pub proxy: ProxyPolicy,
    /// `sasl_server_new` flags (e.g. `SASL_SUCCESS_DATA`, `SASL_NEED_HTTP`).
    pub flags: u32,
}

impl ServerConfig {
    /// Service `imap`, FQDN `127.0.0.1`, ssf 0..256, maxbufsize 65536, no security flags.
    pub fn new(db: &Arc<SaslDb>) -> ServerConfig {
        ServerConfig {
            service: "imap".into(),
            fqdn: "127.0.0.1".into(),
            db: db.clone(),
            options: Vec::new(),
            min_ssf: 0,
            max_ssf: 256,
            maxbufsize: 65536,
            security_flags: 0,
            proxy: ProxyPolicy::Default,
            flags: 0,
        }
    }

    /// Service name (the client's: `pop`, `smtp`, `sieve`, `HTTP`, ...).
    pub fn service(mut self, service: &str) -> Self {
        self.service = service.into();
        self
    }

    /// `sasl_server_new` flags.
    pub fn flags(mut self, flags: u32) -> Self {
        self.flags = flags;
        self
    }

    pub fn option(mut self, k: &str, v: &str) -> Self {
        self.options.push((k.into(), v.into()));
        self
    }

    pub fn proxy(mut self, p: ProxyPolicy) -> Self {
        self.proxy = p;
        self
    }
}

/// A failed libsasl2 call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslError {
    pub code: c_int,
    /// `sasl_errstring(code)`.
    pub text: String,
    /// `sasl_errdetail(conn)` (includes the code and plugin detail).
    pub detail: String,
}

impl std::fmt::Display for SaslError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.text, self.code, self.detail)
    }
}

/// Outcome of `sasl_server_start` / `sasl_server_step`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// SASL_CONTINUE with this challenge.
    Continue(Vec<u8>),
    /// SASL_OK (success data only if the connection allowed it — ours never does, so
    /// libsasl2 turns final data into one more challenge).
    Done(Option<Vec<u8>>),
}

/// Callback state; boxed so its address is stable for libsasl2's `context` pointers.
struct CallbackCtx {
    options: Vec<(CString, CString)>,
    proxy: ProxyPolicy,
    log: Mutex<Vec<String>>,
}

/// Channel-binding data; libsasl2 keeps the pointer, so it lives as long as the connection.
struct Binding {
    _name: CString,
    data: Vec<u8>,
    cb: sasl_channel_binding_t,
}

/// One server-side `sasl_conn_t`.
pub struct SaslServer {
    conn: *mut sasl_conn_t,
    ctx: Box<CallbackCtx>,
    _callbacks: Box<[sasl_callback_t]>,
    _strings: Vec<CString>,
    binding: Option<Box<Binding>>,
    mech: String,
}

unsafe extern "C" fn getopt_cb(
    context: *mut c_void,
    _plugin_name: *const c_char,
    option: *const c_char,
    result: *mut *const c_char,
    len: *mut c_uint,
) -> c_int {
    std::panic::catch_unwind(|| {
        // SAFETY: `context` is the CallbackCtx box registered with this callback, alive until
        // the connection is disposed; `option` is a NUL-terminated string from libsasl2.
        let ctx = unsafe { &*(context as *const CallbackCtx) };
        // SAFETY: see above.
        let opt = unsafe { CStr::from_ptr(option) };
        match ctx.options.iter().rev().find(|(k, _)| k.as_c_str() == opt) {
            Some((_, v)) => {
                // SAFETY: result/len are out-parameters provided by libsasl2 (len may be NULL);
                // the value string lives in the context box.
                unsafe {
                    *result = v.as_ptr();
                    if !len.is_null() {
                        *len = v.as_bytes().len() as c_uint;
                    }
                }
                SASL_OK
            }
            None => SASL_FAIL,
        }
    })
    .unwrap_or(SASL_FAIL)
}

unsafe extern "C" fn log_cb(context: *mut c_void, level: c_int, message: *const c_char) -> c_int {
    std::panic::catch_unwind(|| {
        // SAFETY: as in getopt_cb; `message` is a NUL-terminated string or NULL.
        let ctx = unsafe { &*(context as *const CallbackCtx) };
        if !message.is_null() {
            // SAFETY: non-NULL, so a NUL-terminated string from libsasl2.
            let m = unsafe { CStr::from_ptr(message) }.to_string_lossy();
            if let Ok(mut l) = ctx.log.lock() {
                l.push(format!("[{level}] {m}"));
            }
        }
        SASL_OK
    })
    .unwrap_or(SASL_FAIL)
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn proxy_cb(
    conn: *mut sasl_conn_t,
    context: *mut c_void,
    requested_user: *const c_char,
    rlen: c_uint,
    auth_identity: *const c_char,
    alen: c_uint,
    _def_realm: *const c_char,
    _urlen: c_uint,
    _propctx: *mut propctx,
) -> c_int {
    std::panic::catch_unwind(|| {
        // SAFETY: context as in getopt_cb; the identities are (ptr, len) pairs from libsasl2
        // (NULL when absent).
        let ctx = unsafe { &*(context as *const CallbackCtx) };
        let slice = |p: *const c_char, n: c_uint| {
            if p.is_null() {
                &[][..]
            } else {
                // SAFETY: libsasl2 passes `n` readable bytes at `p` for this callback.
                unsafe { std::slice::from_raw_parts(p as *const u8, n as usize) }
            }
        };
        if ctx.proxy == ProxyPolicy::AllowAll
            || slice(requested_user, rlen) == slice(auth_identity, alen)
        {
            SASL_OK
        } else {
            let msg = CString::new("proxy authorization refused by the test policy").unwrap();
            // SAFETY: sasl_seterror with a "%s" format and one C string argument.
            unsafe { sasl_seterror(conn, 0, c"%s".as_ptr(), msg.as_ptr()) };
            SASL_NOAUTHZ
        }
    })
    .unwrap_or(SASL_FAIL)
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in SASL strings")
}

impl SaslServer {
    /// `sasl_server_new` (+ security properties) for `cfg`; `local`/`remote` are
    /// `ip;port` strings (or empty).
    pub fn new(cfg: &ServerConfig, local: &str, remote: &str) -> Result<SaslServer, SaslError> {
        server_init();
        let mut options: Vec<(CString, CString)> = vec![
            (cstr("sasldb_path"), cstr(&cfg.db.path.to_string_lossy())),
            (cstr("auxprop_plugin"), cstr("sasldb")),
            (cstr("pwcheck_method"), cstr("auxprop")),
            (cstr("log_level"), cstr("5")),
        ];
        options.extend(cfg.options.iter().map(|(k, v)| (cstr(k), cstr(v))));
        let ctx = Box::new(CallbackCtx {
            options,
            proxy: cfg.proxy,
            log: Mutex::new(Vec::new()),
        });
        let ctxp = &*ctx as *const CallbackCtx as *mut c_void;
        // SAFETY: libsasl2 calls each callback through the type matching its id; the pointers
        // are only stored as untyped `int (*)(void)` in sasl_callback_t.
        let (getopt, log, proxy) = unsafe {
            (
                std::mem::transmute::<
                    unsafe extern "C" fn(
                        *mut c_void,
                        *const c_char,
                        *const c_char,
                        *mut *const c_char,
                        *mut c_uint,
                    ) -> c_int,
                    unsafe extern "C" fn() -> c_int,
                >(getopt_cb),
                std::mem::transmute::<
                    unsafe extern "C" fn(*mut c_void, c_int, *const c_char) -> c_int,
                    unsafe extern "C" fn() -> c_int,
                >(log_cb),
                std::mem::transmute::<
                    unsafe extern "C" fn(
                        *mut sasl_conn_t,
                        *mut c_void,
                        *const c_char,
                        c_uint,
                        *const c_char,
                        c_uint,
                        *const c_char,
                        c_uint,
                        *mut propctx,
                    ) -> c_int,
                    unsafe extern "C" fn() -> c_int,
                >(proxy_cb),
            )
        };
        let callbacks: Box<[sasl_callback_t]> = vec![
            sasl_callback_t {
                id: SASL_CB_GETOPT,
                proc_: Some(getopt),
                context: ctxp,
            },
            sasl_callback_t {
                id: SASL_CB_LOG,
                proc_: Some(log),
                context: ctxp,
            },
            sasl_callback_t {
                id: SASL_CB_PROXY_POLICY,
                proc_: Some(proxy),
                context: ctxp,
            },
            sasl_callback_t {
                id: SASL_CB_LIST_END,
                proc_: None,
                context: std::ptr::null_mut(),
            },
        ]
        .into_boxed_slice();
        let strings = vec![
            cstr(&cfg.service),
            cstr(&cfg.fqdn),
            cstr(&cfg.db.realm),
            cstr(local),
            cstr(remote),
        ];
        let opt_ptr = |s: &CString| {
            if s.as_bytes().is_empty() {
                std::ptr::null()
            } else {
                s.as_ptr()
            }
        };
        let mut conn: *mut sasl_conn_t = std::ptr::null_mut();
        let rc = {
            let _g = lib();
            // SAFETY: all strings are NUL-terminated and outlive the connection (kept in
            // `_strings`); the callback list (ending in LIST_END) and its context are kept in
            // the returned value until sasl_dispose in Drop.
            unsafe {
                sasl_server_new(
                    strings[0].as_ptr(),
                    strings[1].as_ptr(),
                    strings[2].as_ptr(),
                    opt_ptr(&strings[3]),
                    opt_ptr(&strings[4]),
                    callbacks.as_ptr(),
                    cfg.flags,
                    &mut conn,
                )
            }
        };
        let mut s = SaslServer {
            conn,
            ctx,
            _callbacks: callbacks,
            _strings: strings,
            binding: None,
            mech: String::new(),
        };
        if rc != SASL_OK {
            return Err(s.error(rc));
        }
        let props = sasl_security_properties_t {
            min_ssf: cfg.min_ssf,
            max_ssf: cfg.max_ssf,
            maxbufsize: cfg.maxbufsize,
            security_flags: cfg.security_flags,
            property_names: std::ptr::null_mut(),
            property_values: std::ptr::null_mut(),
        };
        s.setprop(SASL_SEC_PROPS, &props as *const _ as *const c_void)?;
        Ok(s)
    }

    fn error(&self, code: c_int) -> SaslError {
        let detail = if self.conn.is_null() {
            String::new()
        } else {
            let _g = lib();
            // SAFETY: conn is a live connection; errdetail returns a string owned by it,
            // copied immediately.
            unsafe {
                let p = sasl_errdetail(self.conn);
                if p.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(p).to_string_lossy().into_owned()
                }
            }
        };
        SaslError {
            code,
            text: errstring(code),
            detail,
        }
    }

    fn setprop(&mut self, prop: c_uint, value: *const c_void) -> Result<(), SaslError> {
        let rc = {
            let _g = lib();
            // SAFETY: live connection; `value` points to the type libsasl2 expects for
            // `prop` and (where libsasl2 keeps the pointer) is owned by `self`.
            unsafe { sasl_setprop(self.conn, prop as c_int, value) }
        };
        if rc == SASL_OK {
            Ok(())
        } else {
            Err(self.error(rc))
        }
    }

    /// `SASL_SSF_EXTERNAL` and `SASL_AUTH_EXTERNAL` (e.g. from a TLS client certificate).
    pub fn set_external(&mut self, ssf: u32, auth_id: Option<&str>) -> Result<(), SaslError> {
        let ssf: sasl_ssf_t = ssf;
        self.setprop(SASL_SSF_EXTERNAL, &ssf as *const _ as *const c_void)?;
        if let Some(id) = auth_id {
            let c = cstr(id);
            // libsasl2 copies the auth id string.
            self.setprop(SASL_AUTH_EXTERNAL, c.as_ptr() as *const c_void)?;
        }
        Ok(())
    }

    /// `SASL_CHANNEL_BINDING` (libsasl2 keeps the pointer: the data is stored in `self`).
    pub fn set_channel_binding(
        &mut self,
        name: &str,
        critical: bool,
        data: &[u8],
    ) -> Result<(), SaslError> {
        let name = cstr(name);
        let mut b = Box::new(Binding {
            cb: sasl_channel_binding_t {
                name: name.as_ptr(),
                critical: critical as c_int,
                len: data.len() as _,
                data: std::ptr::null(),
            },
            _name: name,
            data: data.to_vec(),
        });
        b.cb.data = b.data.as_ptr();
        let p = &b.cb as *const sasl_channel_binding_t as *const c_void;
        self.binding = Some(b);
        self.setprop(SASL_CHANNEL_BINDING, p)
    }

    fn progress(
        &self,
        rc: c_int,
        out: *const c_char,
        outlen: c_uint,
    ) -> Result<Progress, SaslError> {
        let data = || {
            if out.is_null() {
                Vec::new()
            } else {
                // SAFETY: libsasl2 returned `outlen` bytes at `out`, valid until the next call
                // on this connection; copied now.
                unsafe { std::slice::from_raw_parts(out as *const u8, outlen as usize) }.to_vec()
            }
        };
        match rc {
            SASL_CONTINUE => Ok(Progress::Continue(data())),
            SASL_OK => Ok(Progress::Done((!out.is_null()).then(data))),
            e => Err(self.error(e)),
        }
    }

    /// `sasl_server_start`; `initial` = the client's initial response (None = none sent).
    pub fn start(&mut self, mech: &str, initial: Option<&[u8]>) -> Result<Progress, SaslError> {
        self.mech = mech.to_string();
        let m = cstr(mech);
        let mut out: *const c_char = std::ptr::null();
        let mut outlen: c_uint = 0;
        let (p, n) = match initial {
            Some(d) => (d.as_ptr() as *const c_char, d.len() as c_uint),
            None => (std::ptr::null(), 0),
        };
        let rc = {
            let _g = lib();
            // SAFETY: live connection; `p`/`n` describe a live buffer (or NULL/0); out
            // parameters are local.
            unsafe { sasl_server_start(self.conn, m.as_ptr(), p, n, &mut out, &mut outlen) }
        };
        self.progress(rc, out, outlen)
    }

    /// `sasl_server_step` with the client's (decoded) response.
    pub fn step(&mut self, response: &[u8]) -> Result<Progress, SaslError> {
        let mut out: *const c_char = std::ptr::null();
        let mut outlen: c_uint = 0;
        let rc = {
            let _g = lib();
            // SAFETY: live connection; response buffer valid for the call.
            unsafe {
                sasl_server_step(
                    self.conn,
                    response.as_ptr() as *const c_char,
                    response.len() as c_uint,
                    &mut out,
                    &mut outlen,
                )
            }
        };
        self.progress(rc, out, outlen)
    }

    /// `sasl_checkpass` (for the IMAP LOGIN command).
    pub fn checkpass(&mut self, user: &[u8], pass: &[u8]) -> Result<(), SaslError> {
        // libsasl2's password verifiers use strlen()/strcmp() on the password despite the
        // length argument: both strings must be NUL-terminated.
        let (u, p) = match (CString::new(user), CString::new(pass)) {
            (Ok(u), Ok(p)) => (u, p),
            _ => {
                return Err(SaslError {
                    code: SASL_BADPARAM,
                    text: errstring(SASL_BADPARAM),
                    detail: "NUL byte in user name or password".into(),
                })
            }
        };
        let rc = {
            let _g = lib();
            // SAFETY: live connection; both strings are NUL-terminated and their lengths
            // exclude the terminator.
            unsafe {
                sasl_checkpass(
                    self.conn,
                    u.as_ptr(),
                    user.len() as c_uint,
                    p.as_ptr(),
                    pass.len() as c_uint,
                )
            }
        };
        if rc == SASL_OK {
            Ok(())
        } else {
            Err(self.error(rc))
        }
    }

    fn getprop_ptr(&self, prop: c_uint) -> Option<*const c_void> {
        let mut v: *const c_void = std::ptr::null();
        let rc = {
            let _g = lib();
            // SAFETY: live connection; libsasl2 stores a pointer to its own data in `v`.
            unsafe { sasl_getprop(self.conn, prop as c_int, &mut v) }
        };
        (rc == SASL_OK && !v.is_null()).then_some(v)
    }

    fn getprop_str(&self, prop: c_uint) -> Option<String> {
        self.getprop_ptr(prop).map(|p| {
            // SAFETY: for string properties libsasl2 returns a NUL-terminated string it owns.
            unsafe { CStr::from_ptr(p as *const c_char) }
                .to_string_lossy()
                .into_owned()
        })
    }

    /// `SASL_USERNAME` (authorization id after canonicalisation).
    pub fn username(&self) -> Option<String> {
        self.getprop_str(SASL_USERNAME)
    }

    /// `SASL_AUTHUSER` (authentication id).
    pub fn authuser(&self) -> Option<String> {
        self.getprop_str(SASL_AUTHUSER)
    }

    /// `SASL_SSF` (the SASL layer's strength; 0 = no layer).
    pub fn ssf(&self) -> u32 {
        // SAFETY: SASL_SSF points to a sasl_ssf_t inside the connection.
        self.getprop_ptr(SASL_SSF)
            .map(|p| unsafe { *(p as *const sasl_ssf_t) })
            .unwrap_or(0)
    }

    /// `SASL_MAXOUTBUF`: the largest plaintext one `sasl_encode` may take.
    pub fn maxoutbuf(&self) -> u32 {
        // SAFETY: SASL_MAXOUTBUF points to an unsigned inside the connection.
        self.getprop_ptr(SASL_MAXOUTBUF)
            .map(|p| unsafe { *(p as *const c_uint) })
            .unwrap_or(0)
    }

    /// The mechanisms this server connection would offer (space separated).
    pub fn listmech(&self) -> String {
        let mut out: *const c_char = std::ptr::null();
        let mut len: c_uint = 0;
        let mut count: c_int = 0;
        let rc = {
            let _g = lib();
            // SAFETY: live connection; prefix/sep/suffix are static C strings; the result is
            // owned by the connection and copied below.
            unsafe {
                sasl_listmech(
                    self.conn,
                    std::ptr::null(),
                    c"".as_ptr(),
                    c" ".as_ptr(),
                    c"".as_ptr(),
                    &mut out,
                    &mut len,
                    &mut count,
                )
            }
        };
        if rc != SASL_OK || out.is_null() {
            return String::new();
        }
        // SAFETY: NUL-terminated result from sasl_listmech.
        unsafe { CStr::from_ptr(out) }
            .to_string_lossy()
            .into_owned()
    }

    /// Messages libsasl2 logged on this connection (levels ≤ debug).
    pub fn log(&self) -> Vec<String> {
        self.ctx.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The mechanism of the last `start`.
    pub fn mech(&self) -> &str {
        &self.mech
    }

    /// `sasl_server_start` as a code and the challenge (`None`: none).
    pub fn start_raw(&mut self, mech: &str, initial: Option<&[u8]>) -> (Code, Option<Vec<u8>>) {
        raw(self.start(mech, initial))
    }

    /// `sasl_server_step` as a code and the challenge (`None`: none).
    pub fn step_raw(&mut self, response: &[u8]) -> (Code, Option<Vec<u8>>) {
        raw(self.step(response))
    }
}

fn raw(r: Result<Progress, SaslError>) -> (Code, Option<Vec<u8>>) {
    match r {
        Ok(Progress::Continue(d)) => (SASL_CONTINUE, Some(d)),
        Ok(Progress::Done(d)) => (SASL_OK, d),
        Err(e) => (e.code, None),
    }
}

impl SaslServer {
    /// A server for `service` on `fqdn` with users from `db`, the given maximum SSF and
    /// buffer size (the unit tests' set-up).
    pub fn basic(
        service: &str,
        fqdn: &str,
        db: &Arc<SaslDb>,
        max_ssf: u32,
        maxbufsize: u32,
    ) -> Result<SaslServer, SaslError> {
        let mut cfg = ServerConfig::new(db).service(service);
        cfg.fqdn = fqdn.to_string();
        cfg.max_ssf = max_ssf;
        cfg.maxbufsize = maxbufsize;
        SaslServer::new(&cfg, "127.0.0.1;143", "127.0.0.1;40000")
    }

    /// `sasl_encode` in pieces of at most `SASL_MAXOUTBUF` bytes.
    pub fn encode(&mut self, plain: &[u8]) -> Result<Vec<u8>, SaslError> {
        let max = (self.maxoutbuf() as usize).max(1);
        let mut wire = Vec::new();
        for chunk in plain.chunks(max) {
            let mut out: *const c_char = std::ptr::null();
            let mut outlen: c_uint = 0;
            let rc = {
                let _g = lib();
                // SAFETY: live connection; chunk is valid for the call; the output buffer is
                // owned by the connection and copied before the next call.
                unsafe {
                    sasl_encode(
                        self.conn,
                        chunk.as_ptr() as *const c_char,
                        chunk.len() as c_uint,
                        &mut out,
                        &mut outlen,
                    )
                }
            };
            if rc != SASL_OK {
                return Err(self.error(rc));
            }
            if !out.is_null() {
                // SAFETY: `outlen` bytes at `out`, see above.
                wire.extend_from_slice(unsafe {
                    std::slice::from_raw_parts(out as *const u8, outlen as usize)
                });
            }
        }
        Ok(wire)
    }

    /// `sasl_decode` (libsasl2 buffers partial packets).
    pub fn decode(&mut self, wire: &[u8]) -> Result<Vec<u8>, SaslError> {
        let mut out: *const c_char = std::ptr::null();
        let mut outlen: c_uint = 0;
        let rc = {
            let _g = lib();
            // SAFETY: as in encode; libsasl2 buffers partial packets internally.
            unsafe {
                sasl_decode(
                    self.conn,
                    wire.as_ptr() as *const c_char,
                    wire.len() as c_uint,
                    &mut out,
                    &mut outlen,
                )
            }
        };
        if rc != SASL_OK {
            return Err(self.error(rc));
        }
        if out.is_null() {
            return Ok(Vec::new());
        }
        // SAFETY: `outlen` bytes at `out`, owned by the connection, copied now.
        Ok(unsafe { std::slice::from_raw_parts(out as *const u8, outlen as usize) }.to_vec())
    }
}

impl Drop for SaslServer {
    fn drop(&mut self) {
        if !self.conn.is_null() {
            let _g = lib();
            // SAFETY: disposes the connection we created exactly once; callbacks, strings
            // and binding data are freed only after this (field drop order follows).
            unsafe { sasl_dispose(&mut self.conn) };
        }
    }
}
