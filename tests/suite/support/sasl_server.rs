//! An in-process libsasl2 **server** (thin FFI over `sasl2-sys`) backed by a throw-away sasldb
//! made with `saslpasswd2`, plus script steps that run IMAP `AUTHENTICATE` (and IMAP `LOGIN`),
//! the other protocols' SASL commands and SASL over HTTP through it. After a successful exchange with a negotiated SSF > 0 (DIGEST-MD5 auth-int /
//! auth-conf) the step installs the SASL security layer on the session, so all later traffic
//! is `sasl_encode`d / `sasl_decode`d (4-byte big-endian length + data per buffer).
//!
//! Options reach libsasl2 through a per-connection `SASL_CB_GETOPT` callback: `sasldb_path`,
//! `auxprop_plugin=sasldb`, `pwcheck_method=auxprop`, plus anything the test adds
//! (e.g. `mech_list`). `sasl_server_init` runs once per process. libsasl2 calls are serialised
//! by one process-wide lock (tests run in parallel threads; plugins keep some static state).

use super::server::{AuthOutcome, SecurityLayer, Session, Step};
use super::tmp::TempDir;
use sasl2_sys::prelude::*;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// The application name given to `sasl_server_init` (no such config file exists, so only
/// our callback's options apply).
const APPNAME: &str = "imtest-tests-fixture";

static LIB: Mutex<()> = Mutex::new(());
static INIT: OnceLock<c_int> = OnceLock::new();

fn lib() -> MutexGuard<'static, ()> {
    LIB.lock().unwrap_or_else(|e| e.into_inner())
}

fn init() {
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
    _dir: TempDir,
    pub path: PathBuf,
    pub realm: String,
}

impl SaslDb {
    /// `saslpasswd2 -f DB -u REALM -p -c USER` for each (user, password), password on stdin.
    pub fn create(realm: &str, users: &[(&str, &str)]) -> Arc<SaslDb> {
        let dir = TempDir::new("sasldb");
        let path = dir.join("sasldb2");
        for (user, pass) in users {
            let mut child = std::process::Command::new("saslpasswd2")
                .arg("-f")
                .arg(&path)
                .args(["-u", realm, "-p", "-c", user])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run saslpasswd2 ({e}): install it with `apt-get install sasl2-bin`"
                    )
                });
            {
                use std::io::Write;
                let mut stdin = child.stdin.take().unwrap();
                stdin.write_all(pass.as_bytes()).unwrap();
            }
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "saslpasswd2 for {user}@{realm} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Arc::new(SaslDb {
            _dir: dir,
            path,
            realm: realm.to_string(),
        })
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
        init();
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

    /// The result record for a finished exchange.
    pub fn outcome(&self, result: Result<(), &SaslError>) -> AuthOutcome {
        AuthOutcome {
            mech: self.mech.clone(),
            ok: result.is_ok(),
            error: result.err().map(|e| e.to_string()),
            cancelled: false,
            user: self.username(),
            authuser: self.authuser(),
            ssf: self.ssf(),
        }
    }
}

impl SecurityLayer for SaslServer {
    fn encode(&mut self, plain: &[u8]) -> Result<Vec<u8>, String> {
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
                return Err(format!("sasl_encode: {}", self.error(rc)));
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

    fn decode(&mut self, wire: &[u8]) -> Result<Vec<u8>, String> {
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
            return Err(format!("sasl_decode: {}", self.error(rc)));
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

/// Hook called with every challenge the server is about to send (raw, before base64).
pub type ChallengeHook = Box<dyn FnMut(&[u8]) + Send>;

/// Parameters of the IMAP `AUTHENTICATE` step.
pub struct ImapAuth {
    pub config: ServerConfig,
    /// The tag the client uses (imtest: `A01`).
    pub tag: String,
    /// Called with each challenge before it is sent (e.g. to compute an OTP answer).
    pub on_challenge: Option<ChallengeHook>,
    /// With TLS up: set `SASL_SSF_EXTERNAL` to the cipher bits and `SASL_AUTH_EXTERNAL` to
    /// the client certificate CN (if any), and `tls-unique` channel binding.
    pub use_tls: bool,
    /// Install the SASL security layer after success when the SSF is > 0.
    pub install_layer: bool,
}

impl ImapAuth {
    pub fn new(config: ServerConfig) -> ImapAuth {
        ImapAuth {
            config,
            tag: "A01".into(),
            on_challenge: None,
            use_tls: true,
            install_layer: true,
        }
    }

    pub fn on_challenge(mut self, f: impl FnMut(&[u8]) + Send + 'static) -> ImapAuth {
        self.on_challenge = Some(Box::new(f));
        self
    }

    pub fn step(self) -> Step {
        Step::Run(Box::new(move |s| imap_authenticate(s, self)))
    }
}

/// Step: serve one IMAP `AUTHENTICATE` through libsasl2 (see [`ImapAuth`]).
pub fn imap_auth(config: &ServerConfig) -> Step {
    ImapAuth::new(config.clone()).step()
}

fn decode_line(line: &[u8]) -> Option<Vec<u8>> {
    let t = line.strip_suffix(b"\n").unwrap_or(line);
    let t = t.strip_suffix(b"\r").unwrap_or(t);
    super::wire::b64decode(t)
}

fn imap_authenticate(s: &mut Session, mut a: ImapAuth) -> Result<(), String> {
    let line = s.read_line()?;
    let text = String::from_utf8_lossy(&line).into_owned();
    let words: Vec<&str> = text.trim_end_matches(['\r', '\n']).split(' ').collect();
    if words.len() < 3
        || words[0] != a.tag
        || !words[1].eq_ignore_ascii_case("AUTHENTICATE")
        || words.len() > 4
    {
        return Err(format!(
            "expected `{} AUTHENTICATE <mech> [<ir>]`, got {text:?}",
            a.tag
        ));
    }
    let mech = words[2].to_string();
    let initial = match words.get(3) {
        None => None,
        Some(&"=") => Some(Vec::new()),
        Some(ir) => Some(
            super::wire::b64decode(ir.as_bytes())
                .ok_or_else(|| format!("initial response is not base64: {ir:?}"))?,
        ),
    };
    let (local, remote) = (s.local.clone(), s.remote.clone());
    let mut srv = SaslServer::new(&a.config, &local, &remote).map_err(|e| e.to_string())?;
    if a.use_tls {
        if let Some(tls) = s.tls().cloned() {
            srv.set_external(tls.bits.max(0) as u32, tls.peer_cn.as_deref())
                .map_err(|e| format!("external props: {e}"))?;
            srv.set_channel_binding("tls-unique", false, &tls.tls_unique)
                .map_err(|e| format!("channel binding: {e}"))?;
        }
    }
    let tag = a.tag.clone();
    let mut r = srv.start(&mech, initial.as_deref());
    loop {
        match r {
            Ok(Progress::Continue(ch)) => {
                if let Some(h) = a.on_challenge.as_mut() {
                    h(&ch);
                }
                let msg = if ch.is_empty() {
                    "+ \r\n".to_string()
                } else {
                    format!("+ {}\r\n", super::wire::b64encode(&ch))
                };
                s.send(msg.as_bytes())?;
                let resp = s.read_line()?;
                if resp == b"*\r\n" || resp == b"*\n" {
                    s.send(format!("{tag} BAD cancelled\r\n").as_bytes())?;
                    let mut o = srv.outcome(Err(&SaslError {
                        code: SASL_BADPROT,
                        text: "cancelled by the client".into(),
                        detail: String::new(),
                    }));
                    o.cancelled = true;
                    s.record_auth(o);
                    return Ok(());
                }
                let Some(data) = decode_line(&resp) else {
                    s.send(format!("{tag} BAD invalid base64\r\n").as_bytes())?;
                    let e = SaslError {
                        code: SASL_BADPROT,
                        text: "client response is not base64".into(),
                        detail: String::from_utf8_lossy(&resp).into_owned(),
                    };
                    s.record_auth(srv.outcome(Err(&e)));
                    return Ok(());
                };
                r = srv.step(&data);
            }
            Ok(Progress::Done(_)) => {
                let o = srv.outcome(Ok(()));
                let ssf = o.ssf;
                s.note(format!("SASL log: {:?}", srv.log()));
                s.record_auth(o);
                s.send(format!("{tag} OK done\r\n").as_bytes())?;
                if ssf > 0 && a.install_layer {
                    s.set_layer(Box::new(srv), ssf)?;
                }
                return Ok(());
            }
            Err(e) => {
                s.note(format!("SASL log: {:?}", srv.log()));
                s.record_auth(srv.outcome(Err(&e)));
                s.send(format!("{tag} NO {}\r\n", e.text).as_bytes())?;
                return Ok(());
            }
        }
    }
}

/// Step: serve the IMAP `LOGIN` command as imtest sends it (`L01 LOGIN <user> {n}`, then the
/// password as a literal after our `+ go ahead`), checking the password with `sasl_checkpass`.
pub fn imap_login(config: &ServerConfig) -> Step {
    let config = config.clone();
    Step::Run(Box::new(move |s: &mut Session| {
        let line = s.read_line()?;
        let text = String::from_utf8_lossy(&line).into_owned();
        let t = text.trim_end_matches(['\r', '\n']);
        let parts: Vec<&str> = t.split(' ').collect();
        let (user, n) = match parts.as_slice() {
            ["L01", login, user, lit] if login.eq_ignore_ascii_case("LOGIN") => {
                let n: usize = lit
                    .strip_prefix('{')
                    .and_then(|l| l.strip_suffix('}'))
                    .and_then(|l| l.parse().ok())
                    .ok_or_else(|| format!("bad literal in {t:?}"))?;
                (user.to_string(), n)
            }
            _ => return Err(format!("expected `L01 LOGIN <user> {{n}}`, got {t:?}")),
        };
        s.send(b"+ go ahead\r\n")?;
        let pass = s.read_exact(n)?;
        let crlf = s.read_line()?;
        if crlf != b"\r\n" {
            return Err(format!(
                "expected CR LF after the password literal, got {crlf:?}"
            ));
        }
        let (local, remote) = (s.local.clone(), s.remote.clone());
        let mut srv = SaslServer::new(&config, &local, &remote).map_err(|e| e.to_string())?;
        let r = srv.checkpass(user.as_bytes(), &pass);
        s.note(format!("SASL log: {:?}", srv.log()));
        let mut o = srv.outcome(r.as_ref().map(|_| ()));
        o.mech = "IMAP LOGIN".into();
        if o.ok && o.user.is_none() {
            o.user = Some(user.clone());
        }
        s.record_auth(o);
        match r {
            Ok(()) => s.send(b"L01 OK logged in\r\n"),
            Err(e) => s.send(format!("L01 NO {}\r\n", e.text).as_bytes()),
        }
    }))
}

// ------------------------------------------------------------------------------------------
// The other protocols' SASL commands (imtest's `auth_sasl` framings, spec §1.2 and §6.1), and
// HTTP's `Authorization:` / `WWW-Authenticate:` exchange (spec §6.6).

/// How the server sends a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeForm {
    /// `<prefix><base64>` (`+ `, `334 `, `383 `).
    Prefix(&'static str),
    /// A bare base64 line (mupdate).
    Bare,
    /// `{n}` CR LF `<base64>` CR LF (sieve).
    Literal,
}

/// Where a success reply carries the mechanism's last data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuccessForm {
    /// Not at all: final data goes out as one more challenge (the connection has no
    /// `SASL_SUCCESS_DATA`).
    None,
    /// `OK (SASL "<base64>")`.
    Sieve,
    /// `283 <base64>`.
    Nntp,
}

/// The server side of one protocol's SASL command.
#[derive(Debug, Clone, Copy)]
pub struct ServerFraming {
    /// What the client's command starts with (`AUTH`, `A01 AUTHENTICATE`, ...).
    pub command: &'static str,
    /// Mechanism in quotes and the initial response as a `{n+}` literal (sieve, mupdate).
    pub quoted: bool,
    pub challenge: ChallengeForm,
    /// The whole success line (without CR LF) when there is no success data.
    pub ok: &'static str,
    /// Start of the failure line (the error text follows after a space).
    pub fail: &'static str,
    pub success: SuccessForm,
    /// The client's SASL service name.
    pub service: &'static str,
}

/// The framing imtest uses for `key` (`pop3`, `smtp`, `lmtp`, `mupdate`, `sieve`, `csync`,
/// `nntp`, `imap`).
pub fn framing(key: &str) -> ServerFraming {
    let f = |command, quoted, challenge, ok, fail, success, service| ServerFraming {
        command,
        quoted,
        challenge,
        ok,
        fail,
        success,
        service,
    };
    use ChallengeForm::*;
    match key {
        "imap" => f(
            "A01 AUTHENTICATE",
            false,
            Prefix("+ "),
            "A01 OK done",
            "A01 NO",
            SuccessForm::None,
            "imap",
        ),
        "pop3" => f(
            "AUTH",
            false,
            Prefix("+ "),
            "+OK done",
            "-ERR",
            SuccessForm::None,
            "pop",
        ),
        "smtp" => f(
            "AUTH",
            false,
            Prefix("334 "),
            "235 2.7.0 ok",
            "535 5.7.8",
            SuccessForm::None,
            "smtp",
        ),
        "lmtp" => f(
            "AUTH",
            false,
            Prefix("334 "),
            "235 2.7.0 ok",
            "535 5.7.8",
            SuccessForm::None,
            "lmtp",
        ),
        "mupdate" => f(
            "A01 AUTHENTICATE",
            true,
            Bare,
            "A01 OK \"done\"",
            "A01 NO",
            SuccessForm::None,
            "mupdate",
        ),
        "sieve" => f(
            "AUTHENTICATE",
            true,
            Literal,
            "OK \"done\"",
            "NO",
            SuccessForm::Sieve,
            "sieve",
        ),
        "csync" => f(
            "AUTHENTICATE",
            false,
            Prefix("+ "),
            "OK success",
            "NO",
            SuccessForm::None,
            "csync",
        ),
        "nntp" => f(
            "AUTHINFO SASL",
            false,
            Prefix("383 "),
            "281 ok",
            "481",
            SuccessForm::Nntp,
            "nntp",
        ),
        other => panic!("no SASL framing for {other}"),
    }
}

/// Parameters of a [`proto_auth`] step.
pub struct ProtoAuth {
    pub config: ServerConfig,
    pub framing: ServerFraming,
    /// Install the SASL security layer after success when the SSF is > 0.
    pub install_layer: bool,
}

/// Step: serve one SASL command of `framing`'s protocol through libsasl2 (TLS facts become
/// the external SSF/auth id and `tls-unique` binding; a layer is installed after success).
/// Success data goes into the success reply where the protocol has a form for it.
pub fn proto_auth(config: &ServerConfig, framing: ServerFraming) -> Step {
    let mut config = config.clone().service(framing.service);
    if framing.success != SuccessForm::None {
        config.flags |= SASL_SUCCESS_DATA;
    }
    let a = ProtoAuth {
        config,
        framing,
        install_layer: true,
    };
    Step::Run(Box::new(move |s| proto_authenticate(s, a)))
}

fn strip_crlf(line: &[u8]) -> &[u8] {
    let t = line.strip_suffix(b"\n").unwrap_or(line);
    t.strip_suffix(b"\r").unwrap_or(t)
}

/// `{n+}` → Some(n).
fn literal_plus(t: &[u8]) -> Option<usize> {
    std::str::from_utf8(t.strip_prefix(b"{")?.strip_suffix(b"+}")?)
        .ok()?
        .parse()
        .ok()
}

/// A client response line (or `{n+}` literal) → Ok(Some(data)), Ok(None) for `*`.
fn read_response(s: &mut Session, quoted_literal_ok: bool) -> Result<Option<Vec<u8>>, String> {
    let line = s.read_line()?;
    let t = strip_crlf(&line);
    if t == b"*" {
        return Ok(None);
    }
    let b64 = match literal_plus(t).filter(|_| quoted_literal_ok) {
        Some(n) => {
            let body = s.read_line()?;
            let b = strip_crlf(&body).to_vec();
            if b.len() != n {
                return Err(format!("literal announced {n} bytes, got {:?}", body));
            }
            b
        }
        None => t.to_vec(),
    };
    super::wire::b64decode(&b64).map(Some).ok_or_else(|| {
        format!(
            "response is not base64: {:?}",
            String::from_utf8_lossy(&line)
        )
    })
}

fn proto_authenticate(s: &mut Session, a: ProtoAuth) -> Result<(), String> {
    let f = a.framing;
    let line = s.read_line()?;
    let text = String::from_utf8_lossy(strip_crlf(&line)).into_owned();
    let rest = text
        .strip_prefix(f.command)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| format!("expected `{} <mech>...`, got {text:?}", f.command))?;
    let (mech, ir) = match rest.split_once(' ') {
        Some((m, ir)) => (m, Some(ir)),
        None => (rest, None),
    };
    let mech = if f.quoted {
        mech.strip_prefix('"')
            .and_then(|m| m.strip_suffix('"'))
            .ok_or_else(|| format!("mechanism not quoted in {text:?}"))?
    } else {
        mech
    };
    let initial: Option<Vec<u8>> = match ir {
        None => None,
        // Empty initial response; quoting protocols add an empty literal and a blank line.
        Some("=") => Some(Vec::new()),
        Some("={0+}") => {
            let blank = s.read_line()?;
            if strip_crlf(&blank) != b"" {
                return Err(format!(
                    "expected a blank line after ={{0+}}, got {blank:?}"
                ));
            }
            Some(Vec::new())
        }
        Some(lit) if f.quoted && literal_plus(lit.as_bytes()).is_some() => {
            let n = literal_plus(lit.as_bytes()).unwrap_or(0);
            let body = s.read_line()?;
            let b = strip_crlf(&body);
            if b.len() != n {
                return Err(format!("literal announced {n} bytes, got {body:?}"));
            }
            Some(
                super::wire::b64decode(b)
                    .ok_or_else(|| format!("initial response is not base64: {body:?}"))?,
            )
        }
        Some(ir) => Some(
            super::wire::b64decode(ir.as_bytes())
                .ok_or_else(|| format!("initial response is not base64: {ir:?}"))?,
        ),
    };
    let (local, remote) = (s.local.clone(), s.remote.clone());
    let mut srv = SaslServer::new(&a.config, &local, &remote).map_err(|e| e.to_string())?;
    if let Some(tls) = s.tls().cloned() {
        srv.set_external(tls.bits.max(0) as u32, tls.peer_cn.as_deref())
            .map_err(|e| format!("external props: {e}"))?;
        srv.set_channel_binding("tls-unique", false, &tls.tls_unique)
            .map_err(|e| format!("channel binding: {e}"))?;
    }
    let mut r = srv.start(mech, initial.as_deref());
    loop {
        match r {
            Ok(Progress::Continue(ch)) => {
                let b64 = if ch.is_empty() {
                    String::new()
                } else {
                    super::wire::b64encode(&ch)
                };
                let msg = match f.challenge {
                    ChallengeForm::Prefix(p) => format!("{p}{b64}\r\n"),
                    ChallengeForm::Bare => format!("{b64}\r\n"),
                    ChallengeForm::Literal => format!("{{{}}}\r\n{b64}\r\n", b64.len()),
                };
                s.send(msg.as_bytes())?;
                match read_response(s, f.quoted)? {
                    Some(data) => r = srv.step(&data),
                    None => {
                        s.send(format!("{} cancelled\r\n", f.fail).as_bytes())?;
                        let mut o = srv.outcome(Err(&SaslError {
                            code: SASL_BADPROT,
                            text: "cancelled by the client".into(),
                            detail: String::new(),
                        }));
                        o.cancelled = true;
                        s.record_auth(o);
                        return Ok(());
                    }
                }
            }
            Ok(Progress::Done(data)) => {
                let o = srv.outcome(Ok(()));
                let ssf = o.ssf;
                s.note(format!("SASL log: {:?}", srv.log()));
                s.record_auth(o);
                let b64 = data.as_deref().map(super::wire::b64encode);
                let msg = match (f.success, b64) {
                    (SuccessForm::Sieve, Some(d)) => format!("OK (SASL \"{d}\")\r\n"),
                    (SuccessForm::Nntp, Some(d)) => format!("283 {d}\r\n"),
                    _ => format!("{}\r\n", f.ok),
                };
                s.send(msg.as_bytes())?;
                if ssf > 0 && a.install_layer {
                    s.set_layer(Box::new(srv), ssf)?;
                }
                return Ok(());
            }
            Err(e) => {
                s.note(format!("SASL log: {:?}", srv.log()));
                s.record_auth(srv.outcome(Err(&e)));
                s.send(format!("{} {}\r\n", f.fail, e.text).as_bytes())?;
                return Ok(());
            }
        }
    }
}

/// Step: serve SASL over HTTP (RFC 7804 style, as httptest speaks it) through libsasl2: one
/// `OPTIONS` request per round trip, `Authorization: <scheme> [sid=<sid>,]data=<base64>`
/// answered by `401` + `WWW-Authenticate: <scheme> sid=<sid>, data=<base64>`; success is
/// `200` with the final data in `Authentication-Info: <scheme> sid=<sid>, data=<base64>`.
/// `sid` is the session id the server hands out.
pub fn http_sasl(config: &ServerConfig, sid: &'static str) -> Step {
    let config = config.clone().service("HTTP");
    Step::Run(Box::new(move |s| http_authenticate(s, config, sid)))
}

/// Reads one request head; returns its `Authorization:` value (without CR LF).
fn read_request_auth(s: &mut Session) -> Result<Option<String>, String> {
    let mut auth = None;
    loop {
        let line = s.read_line()?;
        let t = strip_crlf(&line);
        if t.is_empty() {
            return Ok(auth);
        }
        if let Some(v) = t.strip_prefix(b"Authorization: ") {
            auth = Some(String::from_utf8_lossy(v).into_owned());
        }
    }
}

fn http_authenticate(s: &mut Session, config: ServerConfig, sid: &str) -> Result<(), String> {
    let (local, remote) = (s.local.clone(), s.remote.clone());
    let mut srv: Option<SaslServer> = None;
    let mut scheme = String::new();
    loop {
        let auth = match read_request_auth(s) {
            Ok(auth) => auth.ok_or("request without Authorization:")?,
            // A client that gave up after our 401 (it may wait for us to close): done.
            Err(e) if srv.is_some() => {
                s.note(format!("no further request: {e}"));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let (sch, params) = auth.split_once(' ').unwrap_or((auth.as_str(), ""));
        let mut data = None;
        for p in params.split(',') {
            let p = p.trim();
            if let Some(d) = p.strip_prefix("data=") {
                data = Some(d.to_string());
            } else if let Some(got) = p.strip_prefix("sid=") {
                if got != sid {
                    return Err(format!("client sent sid={got}, expected {sid}"));
                }
            }
        }
        let data = match data.as_deref() {
            None | Some("=") => None,
            Some(d) => Some(
                super::wire::b64decode(d.as_bytes())
                    .ok_or_else(|| format!("data is not base64: {d:?}"))?,
            ),
        };
        let r = match srv.as_mut() {
            None => {
                scheme = sch.to_string();
                let mut new =
                    SaslServer::new(&config, &local, &remote).map_err(|e| e.to_string())?;
                let r = new.start(sch, data.as_deref());
                srv = Some(new);
                r
            }
            Some(srv) => srv.step(data.as_deref().unwrap_or_default()),
        };
        let srv_ref = srv.as_ref().ok_or("no server")?;
        match r {
            Ok(Progress::Continue(ch)) => {
                let b64 = super::wire::b64encode(&ch);
                s.send(format!("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {scheme} sid={sid}, data={b64}\r\nContent-Length: 0\r\n\r\n").as_bytes())?;
                // Clients answer at once; one that does not has given up.
                s.set_timeout(std::time::Duration::from_secs(1));
            }
            Ok(Progress::Done(d)) => {
                s.record_auth(srv_ref.outcome(Ok(())));
                let info = match d {
                    Some(d) => format!(
                        "Authentication-Info: {scheme} sid={sid}, data={}\r\n",
                        super::wire::b64encode(&d)
                    ),
                    None => String::new(),
                };
                s.send(format!("HTTP/1.1 200 OK\r\n{info}Content-Length: 0\r\n\r\n").as_bytes())?;
                return Ok(());
            }
            Err(e) => {
                s.record_auth(srv_ref.outcome(Err(&e)));
                s.send(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")?;
                return Ok(());
            }
        }
    }
}
