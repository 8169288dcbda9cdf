//! Test-only: a libsasl2 *server* in the same process, backed by a throw-away sasldb made with
//! `saslpasswd2`, so the client wrapper can be driven through real exchanges. Not built into
//! the tool.

use super::{
    borrowed_str, copy_out, guard, hand_out_option, resume_panic, sasl_done, sasl_ok, Code, Flow,
};
use super::{ClientConfig, SASL_FAIL};
use sasl2_sys::sasl as sys;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::path::PathBuf;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, Once, OnceLock};

/// libsasl2 and Berkeley DB are process-wide: the tests that use them run one at a time.
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
    static ONCE: Once = Once::new();
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
        super::client_init(ClientConfig {
            challenge_prompts: mode() != Mode::NoChallengePrompts,
            options,
        })
        .expect("sasl_client_init");
        // Set-up is once per process.
        assert_eq!(
            super::client_init(ClientConfig {
                challenge_prompts: false,
                options: Vec::new()
            }),
            Err(SASL_FAIL)
        );
        let globals = SERVER.get_or_init(|| ServerGlobals {
            callbacks: vec![
                sys::sasl_callback_t {
                    id: sys::SASL_CB_GETOPT,
                    proc_: getopt_proc(server_getopt),
                    context: ptr::null_mut(),
                },
                sys::sasl_callback_t {
                    id: sys::SASL_CB_LOG,
                    proc_: log_proc(server_log),
                    context: ptr::null_mut(),
                },
                sys::sasl_callback_t {
                    id: sys::SASL_CB_LIST_END,
                    proc_: None,
                    context: ptr::null_mut(),
                },
            ]
            .into_boxed_slice(),
        });
        // SAFETY: the list ends with SASL_CB_LIST_END and lives in a static; the name is a
        // static C string.
        let rc =
            unsafe { sys::sasl_server_init(globals.callbacks.as_ptr(), c"imtest-test".as_ptr()) };
        sasl_done(rc).expect("sasl_server_init");
    });
}

struct ServerGlobals {
    callbacks: Box<[sys::sasl_callback_t]>,
}
// SAFETY: immutable after start-up; only NULL contexts and function pointers inside.
unsafe impl Send for ServerGlobals {}
// SAFETY: as above.
unsafe impl Sync for ServerGlobals {}
static SERVER: OnceLock<ServerGlobals> = OnceLock::new();

type GetoptProc = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    *const c_char,
    *mut *const c_char,
    *mut c_uint,
) -> c_int;
type LogProc = unsafe extern "C" fn(*mut c_void, c_int, *const c_char) -> c_int;

fn getopt_proc(f: GetoptProc) -> Option<unsafe extern "C" fn() -> c_int> {
    super::getopt_proc(f)
}

fn log_proc(f: LogProc) -> Option<unsafe extern "C" fn() -> c_int> {
    // SAFETY: same representation for all function pointers; the library calls the entry as
    // `sasl_log_t` for SASL_CB_LOG.
    Some(unsafe { std::mem::transmute::<LogProc, unsafe extern "C" fn() -> c_int>(f) })
}

/// Options for one server connection: the context of its GETOPT callback.
struct ServerOptions {
    table: Vec<(CString, CString)>,
}

fn default_table() -> Vec<(CString, CString)> {
    vec![
        (c"auxprop_plugin".to_owned(), c"sasldb".to_owned()),
        (c"pwcheck_method".to_owned(), c"auxprop".to_owned()),
    ]
}

static GLOBAL_OPTIONS: OnceLock<ServerOptionsStatic> = OnceLock::new();
struct ServerOptionsStatic(Vec<(CString, CString)>);

/// Every option the server was asked for, to check which lookups reach which callback.
pub static ASKED: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());

unsafe extern "C" fn server_getopt(
    context: *mut c_void,
    plugin_name: *const c_char,
    option: *const c_char,
    result: *mut *const c_char,
    len: *mut c_uint,
) -> c_int {
    guard(sys::SASL_FAIL, || {
        if result.is_null() || option.is_null() {
            return sys::SASL_BADPARAM;
        }
        // SAFETY: the library passes a NUL-terminated option name valid for the call.
        let option = unsafe { CStr::from_ptr(option) }.to_bytes();
        let plugin = if plugin_name.is_null() {
            None
        } else {
            // SAFETY: as above.
            Some(unsafe { CStr::from_ptr(plugin_name) }.to_bytes())
        };
        ASKED.lock().unwrap_or_else(|p| p.into_inner()).push((
            String::from_utf8_lossy(option).into_owned(),
            !context.is_null(),
        ));
        let table = if context.is_null() {
            &GLOBAL_OPTIONS
                .get_or_init(|| ServerOptionsStatic(default_table()))
                .0
        } else {
            // SAFETY: per-connection contexts are `ServerOptions` boxes owned by a live
            // `ServerConn` (the library only calls back while the connection exists).
            &unsafe { &*context.cast::<ServerOptions>() }.table
        };
        match super::lookup_option(table, plugin, option) {
            // SAFETY: out-parameters from the library; the value lives as long as the table.
            Some(value) => unsafe { hand_out_option(value, result, len) },
            None => sys::SASL_FAIL,
        }
    })
}

unsafe extern "C" fn server_log(
    _context: *mut c_void,
    level: c_int,
    message: *const c_char,
) -> c_int {
    guard(sys::SASL_OK, || {
        if std::env::var_os("IMTEST_SASL_DEBUG").is_some() {
            // SAFETY: libsasl2 passes its log callback a live message string (or NULL).
            let text = unsafe { borrowed_str(message) }.unwrap_or_default();
            eprintln!("sasl server log [{level}]: {text}");
        }
        sys::SASL_OK
    })
}

/// A throw-away sasldb holding users created by `saslpasswd2`.
pub struct SaslDb {
    dir: PathBuf,
    pub path: PathBuf,
    pub realm: String,
}

impl SaslDb {
    pub fn create(realm: &str, users: &[(&str, &str)]) -> SaslDb {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("imtest-sasldb-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("sasldb2");
        for (user, password) in users {
            let mut child = std::process::Command::new("saslpasswd2")
                .arg("-f")
                .arg(&path)
                .args(["-u", realm, "-p", "-c", user])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .expect("saslpasswd2 (sasl2-bin) must be installed");
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin
                .write_all(password.as_bytes())
                .expect("password to saslpasswd2");
            drop(stdin);
            assert!(
                child.wait().expect("saslpasswd2").success(),
                "saslpasswd2 failed"
            );
        }
        SaslDb {
            dir,
            path,
            realm: realm.to_string(),
        }
    }
}

impl Drop for SaslDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One server connection.
pub struct ServerConn {
    raw: *mut sys::sasl_conn_t,
    _callbacks: Box<[sys::sasl_callback_t]>,
    _options: Box<ServerOptions>,
}

/// Output of a server start/step: code and challenge (`None` = NULL pointer).
pub type ServerOut = (Code, Option<Vec<u8>>);

impl ServerConn {
    /// A server for `service` on `fqdn`, users in `db` (its path served through this
    /// connection's own GETOPT callback), SSF range and buffer size as given.
    pub fn new(
        service: &str,
        fqdn: &str,
        db: &SaslDb,
        max_ssf: u32,
        maxbufsize: u32,
    ) -> Result<ServerConn, Code> {
        let mut table = default_table();
        table.push((
            c"sasldb_path".to_owned(),
            CString::new(db.path.as_os_str().as_encoded_bytes()).map_err(|_| SASL_FAIL)?,
        ));
        let mut options = Box::new(ServerOptions { table });
        let context: *mut ServerOptions = &mut *options;
        let callbacks = vec![
            sys::sasl_callback_t {
                id: sys::SASL_CB_GETOPT,
                proc_: getopt_proc(server_getopt),
                context: context.cast(),
            },
            sys::sasl_callback_t {
                id: sys::SASL_CB_LIST_END,
                proc_: None,
                context: ptr::null_mut(),
            },
        ]
        .into_boxed_slice();
        let service = CString::new(service).map_err(|_| SASL_FAIL)?;
        let fqdn = CString::new(fqdn).map_err(|_| SASL_FAIL)?;
        let realm = CString::new(db.realm.as_str()).map_err(|_| SASL_FAIL)?;
        let mut raw = ptr::null_mut();
        // SAFETY: strings are NUL-terminated and outlive the call; the callback list (and
        // the context it points to) is owned by the returned value, which outlives `raw`.
        let rc = unsafe {
            sys::sasl_server_new(
                service.as_ptr(),
                fqdn.as_ptr(),
                realm.as_ptr(),
                c"127.0.0.1;143".as_ptr(),
                c"127.0.0.1;40000".as_ptr(),
                callbacks.as_ptr(),
                0,
                &mut raw,
            )
        };
        resume_panic();
        sasl_done(rc)?;
        let conn = ServerConn {
            raw,
            _callbacks: callbacks,
            _options: options,
        };
        let props = sys::sasl_security_properties_t {
            min_ssf: 0,
            max_ssf,
            maxbufsize,
            security_flags: 0,
            property_names: ptr::null_mut(),
            property_values: ptr::null_mut(),
        };
        // SAFETY: live connection; the library copies the structure.
        let rc = unsafe {
            sys::sasl_setprop(
                conn.raw,
                sys::SASL_SEC_PROPS as c_int,
                (&props as *const sys::sasl_security_properties_t).cast(),
            )
        };
        sasl_done(rc)?;
        Ok(conn)
    }

    fn finish(rc: c_int, out: *const c_char, outlen: c_uint) -> ServerOut {
        resume_panic();
        match sasl_ok(rc) {
            // SAFETY: the server's output buffer holds `outlen` bytes until its next call.
            Ok(Flow::Done) | Ok(Flow::Continue) => (rc, unsafe { copy_out(out, outlen) }),
            _ => (rc, None),
        }
    }

    /// `sasl_server_start`; `None` = no initial response (NULL), `Some(&[])` = empty one.
    pub fn start(&mut self, mech: &str, initial: Option<&[u8]>) -> ServerOut {
        let Ok(mech) = CString::new(mech) else {
            return (SASL_FAIL, None);
        };
        let (ptr_in, len_in) = match initial {
            Some(data) => (data.as_ptr().cast::<c_char>(), data.len() as c_uint),
            None => (ptr::null(), 0),
        };
        let mut out: *const c_char = ptr::null();
        let mut outlen: c_uint = 0;
        // SAFETY: live connection; input NULL or `len_in` readable bytes; valid outs.
        let rc = unsafe {
            sys::sasl_server_start(
                self.raw,
                mech.as_ptr(),
                ptr_in,
                len_in,
                &mut out,
                &mut outlen,
            )
        };
        Self::finish(rc, out, outlen)
    }

    /// `sasl_server_step` with the client's response.
    pub fn step(&mut self, response: &[u8]) -> ServerOut {
        let mut out: *const c_char = ptr::null();
        let mut outlen: c_uint = 0;
        // SAFETY: live connection; `response` readable for its length; valid outs.
        let rc = unsafe {
            sys::sasl_server_step(
                self.raw,
                response.as_ptr().cast::<c_char>(),
                response.len() as c_uint,
                &mut out,
                &mut outlen,
            )
        };
        Self::finish(rc, out, outlen)
    }

    /// The authenticated user name.
    pub fn username(&self) -> Option<String> {
        let mut value: *const c_void = ptr::null();
        // SAFETY: live connection, valid out-parameter.
        let rc = unsafe { sys::sasl_getprop(self.raw, sys::SASL_USERNAME as c_int, &mut value) };
        sasl_done(rc).ok()?;
        // SAFETY: the property is NULL or a string the connection owns while it lives.
        unsafe { borrowed_str(value.cast()) }.map(|s| s.into_owned())
    }

    pub fn ssf(&self) -> u32 {
        let mut value: *const c_void = ptr::null();
        // SAFETY: live connection, valid out-parameter.
        let rc = unsafe { sys::sasl_getprop(self.raw, sys::SASL_SSF as c_int, &mut value) };
        if sasl_done(rc).is_err() || value.is_null() {
            return 0;
        }
        // SAFETY: SASL_SSF yields a pointer to an unsigned inside the connection.
        unsafe { *value.cast::<c_uint>() }
    }

    fn transform(
        &mut self,
        data: &[u8],
        f: unsafe extern "C" fn(
            *mut sys::sasl_conn_t,
            *const c_char,
            c_uint,
            *mut *const c_char,
            *mut c_uint,
        ) -> c_int,
    ) -> Result<Vec<u8>, Code> {
        let mut out: *const c_char = ptr::null();
        let mut outlen: c_uint = 0;
        // SAFETY: live connection; `data` readable for its length; valid outs.
        let rc = unsafe {
            f(
                self.raw,
                data.as_ptr().cast::<c_char>(),
                data.len() as c_uint,
                &mut out,
                &mut outlen,
            )
        };
        sasl_done(rc)?;
        // SAFETY: the output buffer holds `outlen` bytes until the connection's next call.
        Ok(unsafe { copy_out(out, outlen) }.unwrap_or_default())
    }

    pub fn encode(&mut self, data: &[u8]) -> Result<Vec<u8>, Code> {
        self.transform(data, sys::sasl_encode)
    }

    pub fn decode(&mut self, data: &[u8]) -> Result<Vec<u8>, Code> {
        self.transform(data, sys::sasl_decode)
    }
}

impl Drop for ServerConn {
    fn drop(&mut self) {
        // SAFETY: `raw` came from sasl_server_new and is disposed of once, before the
        // callback list and options it points to are freed (fields drop after this).
        unsafe { sys::sasl_dispose(&mut self.raw) };
    }
}
