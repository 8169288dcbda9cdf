//! The libsasl2 client, behind a safe API: process-wide set-up with the interactive callback
//! list and the `-o` option table (docs/behaviour.md §5.1), one `Conn` per round with its
//! properties, mechanism start/step with the interaction lists filled by a `Prompter`
//! (docs/behaviour.md §5.5), the security layer (encode/decode) and the library's own base64.
//!
//! It knows nothing about protocols or printing; what to send and show is the caller's job.

use crate::ffi::secret::Secret;
use sasl2_sys::sasl as sys;
use sasl2_sys::saslutil as util;
use std::any::Any;
use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_uint, c_ulong, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::OnceLock;

/// A libsasl2 result code (`SASL_OK`, `SASL_CONTINUE`, or a negative error).
pub type Code = i32;
pub const SASL_OK: Code = sys::SASL_OK;
pub const SASL_CONTINUE: Code = sys::SASL_CONTINUE;
pub const SASL_FAIL: Code = sys::SASL_FAIL;
pub const SASL_BUFOVER: Code = sys::SASL_BUFOVER;
#[cfg(test)]
pub const SASL_NOMECH: Code = sys::SASL_NOMECH;
pub const SASL_BADPROT: Code = sys::SASL_BADPROT;
pub const SASL_BADPARAM: Code = sys::SASL_BADPARAM;
#[cfg(test)]
pub const SASL_BADAUTH: Code = sys::SASL_BADAUTH;

/// What the library asks for (docs/behaviour.md §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    User,
    AuthName,
    Pass,
    GetRealm,
    EchoPrompt,
    NoEchoPrompt,
}

/// One interaction the library wants filled.
#[derive(Debug)]
pub struct PromptRequest<'a> {
    pub kind: PromptKind,
    pub challenge: Option<&'a str>,
    pub prompt: &'a str,
}

/// Answers interactions (implemented by the auth code: `-w`/`-a`/`-u`/`-r`, prompts).
pub trait Prompter {
    fn answer(&mut self, request: &PromptRequest) -> Secret;
}

/// Process-wide client set-up (docs/behaviour.md §5.1).
pub struct ClientConfig {
    pub challenge_prompts: bool,
    /// `-o name=value` pairs as given (bytes; a C string ends at a NUL).
    pub options: Vec<(Vec<u8>, Vec<u8>)>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ConnFlags {
    pub need_proxy: bool,
    pub success_data: bool,
    pub need_http: bool,
}

/// Result of `sasl_client_start` / `sasl_client_step` after interactions were filled.
#[derive(Debug)]
pub struct StepResult {
    pub code: Code,
    /// The mechanism chosen (start only).
    pub mechanism: Option<String>,
    /// `None` = the library produced no output pointer; `Some(vec![])` = zero-length output.
    pub output: Option<Secret>,
}

// ---------------------------------------------------------------------------------------------
// Return codes and panics at the boundary.

/// The non-error outcomes of a libsasl2 call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Done,
    Continue,
    Interact,
}

/// Turns a libsasl2 return code into `Ok(flow)` or `Err(code)`; every call goes through it.
fn sasl_ok(rc: c_int) -> Result<Flow, Code> {
    match rc {
        sys::SASL_OK => Ok(Flow::Done),
        sys::SASL_CONTINUE => Ok(Flow::Continue),
        sys::SASL_INTERACT => Ok(Flow::Interact),
        code => Err(code),
    }
}

/// Like `sasl_ok`, for calls where only `SASL_OK` means success.
fn sasl_done(rc: c_int) -> Result<(), Code> {
    match sasl_ok(rc) {
        Ok(Flow::Done) => Ok(()),
        Ok(_) => Err(rc),
        Err(code) => Err(code),
    }
}

thread_local! {
    /// A panic caught inside a callback, re-raised once the C call has returned.
    static CAUGHT_PANIC: RefCell<Option<Box<dyn Any + Send>>> = const { RefCell::new(None) };
}

/// Runs callback code so that a panic never unwinds into C: it is stored and `on_panic` is
/// returned to the library instead.
fn guard<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => {
            CAUGHT_PANIC.with(|slot| {
                let mut slot = slot.borrow_mut();
                if slot.is_none() {
                    *slot = Some(payload);
                }
            });
            on_panic
        }
    }
}

/// After a call into libsasl2: continue a panic that a callback caught.
fn resume_panic() {
    if let Some(payload) = CAUGHT_PANIC.with(|slot| slot.borrow_mut().take()) {
        panic::resume_unwind(payload);
    }
}

// ---------------------------------------------------------------------------------------------
// Small conversions.

/// The bytes before the first NUL: what C sees of a buffer handed over as a string.
fn up_to_nul(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

/// A C string of `bytes` as C would see them (cut at the first NUL).
fn c_string(bytes: &[u8]) -> CString {
    CString::new(up_to_nul(bytes)).unwrap_or_default()
}

/// A C string for a caller-supplied name; an embedded NUL is a bad parameter.
fn c_param(text: &str) -> Result<CString, Code> {
    CString::new(text).map_err(|_| SASL_BADPARAM)
}

fn c_len(len: usize) -> Result<c_uint, Code> {
    c_uint::try_from(len).map_err(|_| SASL_BADPARAM)
}

/// Reads a string the library owns; `None` for a NULL pointer.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid for `'a`.
unsafe fn borrowed_str<'a>(p: *const c_char) -> Option<Cow<'a, str>> {
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` is non-NULL and, per this function's contract, a live C string.
    let text = unsafe { CStr::from_ptr(p) };
    Some(text.to_string_lossy())
}

/// Copies an output buffer the library owns; `None` for a NULL pointer.
///
/// # Safety
/// `p` is NULL or points to at least `len` readable bytes.
unsafe fn copy_out(p: *const c_char, len: c_uint) -> Option<Vec<u8>> {
    if p.is_null() {
        return None;
    }
    if len == 0 {
        return Some(Vec::new());
    }
    // SAFETY: `p` is non-NULL and points to `len` bytes owned by the library (contract above).
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len as usize) };
    Some(bytes.to_vec())
}

// ---------------------------------------------------------------------------------------------
// Process-wide client set-up.

/// The `-o` table and callback list, fixed for the life of the process (the library keeps
/// pointers to both).
struct ClientGlobals {
    /// `(name, value)` in the order given; lookups scan from the end so later entries win.
    options: Vec<(CString, CString)>,
    callbacks: Box<[sys::sasl_callback_t]>,
}

// SAFETY: the callback entries hold only NULL contexts and a pointer to a `fn` item; nothing
// is mutated after start-up, so sharing between threads is harmless.
unsafe impl Send for ClientGlobals {}
// SAFETY: as above — the data is immutable once stored.
unsafe impl Sync for ClientGlobals {}

static CLIENT: OnceLock<ClientGlobals> = OnceLock::new();

/// The C tool's option lookup: `<plugin>_<option>` first (key cut to 1023 bytes, like its
/// fixed buffer), then `<option>`; the last matching entry wins.
fn lookup_option<'t>(
    table: &'t [(CString, CString)],
    plugin: Option<&[u8]>,
    option: &[u8],
) -> Option<&'t CStr> {
    let find = |key: &[u8]| {
        table
            .iter()
            .rev()
            .find(|(name, _)| name.as_bytes() == key)
            .map(|(_, value)| value.as_c_str())
    };
    if let Some(plugin) = plugin {
        let mut key = Vec::with_capacity(plugin.len() + 1 + option.len());
        key.extend_from_slice(plugin);
        key.push(b'_');
        key.extend_from_slice(option);
        key.truncate(1023);
        if let Some(value) = find(&key) {
            return Some(value);
        }
    }
    find(option)
}

/// Writes a found option value into the library's out-parameters.
///
/// # Safety
/// `result` must be writable; `len` NULL or writable; `value` must outlive the process's use.
unsafe fn hand_out_option(value: &CStr, result: *mut *const c_char, len: *mut c_uint) -> c_int {
    // SAFETY: the caller guarantees `result` is writable.
    unsafe { *result = value.as_ptr() };
    if !len.is_null() {
        // SAFETY: `len` was checked non-NULL; the caller guarantees it is writable.
        unsafe { *len = value.to_bytes().len() as c_uint };
    }
    sys::SASL_OK
}

/// SASL_CB_GETOPT for the client: serves the `-o` table.
unsafe extern "C" fn client_getopt(
    _context: *mut c_void,
    plugin_name: *const c_char,
    option: *const c_char,
    result: *mut *const c_char,
    len: *mut c_uint,
) -> c_int {
    guard(sys::SASL_FAIL, || {
        if result.is_null() {
            return sys::SASL_BADPARAM;
        }
        // SAFETY: `result` is non-NULL and points to the library's out-parameter.
        unsafe { *result = ptr::null() };
        if option.is_null() {
            return sys::SASL_FAIL;
        }
        let Some(globals) = CLIENT.get() else {
            return sys::SASL_FAIL;
        };
        // SAFETY: the library passes NUL-terminated names valid for the duration of the call.
        let option = unsafe { CStr::from_ptr(option) }.to_bytes();
        let plugin = if plugin_name.is_null() {
            None
        } else {
            // SAFETY: non-NULL, NUL-terminated, valid for the call (as above).
            Some(unsafe { CStr::from_ptr(plugin_name) }.to_bytes())
        };
        match lookup_option(&globals.options, plugin, option) {
            // SAFETY: `result`/`len` are the library's out-parameters; the value lives in a
            // process-wide static.
            Some(value) => unsafe { hand_out_option(value, result, len) },
            None => sys::SASL_FAIL,
        }
    })
}

/// The type libsasl2 stores callback procedures as.
type CallbackProc = Option<unsafe extern "C" fn() -> c_int>;

type GetoptProc = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    *const c_char,
    *mut *const c_char,
    *mut c_uint,
) -> c_int;

/// Stores a GETOPT procedure in the generic slot of a callback entry.
fn getopt_proc(f: GetoptProc) -> CallbackProc {
    // SAFETY: function pointers have one size and representation; libsasl2 casts the entry
    // back to `sasl_getopt_t` before calling it for SASL_CB_GETOPT, so the call uses the
    // right signature.
    Some(unsafe { std::mem::transmute::<GetoptProc, unsafe extern "C" fn() -> c_int>(f) })
}

fn callback(id: c_ulong, proc_: CallbackProc) -> sys::sasl_callback_t {
    sys::sasl_callback_t {
        id,
        proc_,
        context: ptr::null_mut(),
    }
}

/// Sets up the library's client side once per process (docs/behaviour.md §5.1): the interaction
/// callbacks (challenge prompts only when asked for), and GETOPT served from `config.options`.
/// A second call fails with `SASL_FAIL` and changes nothing.
pub fn client_init(config: ClientConfig) -> Result<(), Code> {
    let mut list = Vec::new();
    if config.challenge_prompts {
        list.push(callback(sys::SASL_CB_ECHOPROMPT, None));
        list.push(callback(sys::SASL_CB_NOECHOPROMPT, None));
    }
    list.push(callback(sys::SASL_CB_GETREALM, None));
    list.push(callback(sys::SASL_CB_USER, None));
    list.push(callback(sys::SASL_CB_AUTHNAME, None));
    list.push(callback(sys::SASL_CB_PASS, None));
    list.push(callback(sys::SASL_CB_GETOPT, getopt_proc(client_getopt)));
    list.push(callback(sys::SASL_CB_LIST_END, None));

    let options = config
        .options
        .iter()
        .filter_map(|(name, value)| {
            Some((
                CString::new(name.as_slice()).ok()?,
                CString::new(value.as_slice()).ok()?,
            ))
        })
        .collect();
    let globals = ClientGlobals {
        options,
        callbacks: list.into_boxed_slice(),
    };
    if CLIENT.set(globals).is_err() {
        return Err(SASL_FAIL);
    }
    let Some(globals) = CLIENT.get() else {
        return Err(SASL_FAIL);
    };
    // SAFETY: the list is terminated by SASL_CB_LIST_END and lives in a static for the rest of
    // the process, as the library keeps the pointer.
    let rc = unsafe { sys::sasl_client_init(globals.callbacks.as_ptr()) };
    resume_panic();
    sasl_done(rc)
}

/// The library's text for a result code (`sasl_errstring(code, NULL, NULL)`).
pub fn errstring(code: Code) -> String {
    // SAFETY: no language list, no out-language; the result is a static string or NULL.
    let p = unsafe { sys::sasl_errstring(code, ptr::null(), ptr::null_mut()) };
    // SAFETY: sasl_errstring gives NULL or a static NUL-terminated string.
    unsafe { borrowed_str(p) }
        .map(Cow::into_owned)
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Base64 through the library (so what is accepted and rejected is libsasl2's).

/// Room for the base64 of `len` bytes and its NUL.
fn encoded_room(len: usize) -> Option<usize> {
    len.div_ceil(3).checked_mul(4)?.checked_add(1)
}

/// Base64 of `data` (no line breaks), sized to fit.
pub fn encode64(data: &[u8]) -> Result<Secret, Code> {
    let outmax = encoded_room(data.len()).ok_or(SASL_BUFOVER)?;
    encode64_within(data, outmax)
}

/// Base64 of `data` into a buffer of `outmax` bytes (terminating NUL included), as a C caller
/// with a fixed buffer would: `SASL_BUFOVER` when it does not fit (the C tool uses 4096).
pub fn encode64_within(data: &[u8], outmax: usize) -> Result<Secret, Code> {
    let inlen = c_len(data.len())?;
    // A buffer larger than the result needs changes nothing: allocate no more than that.
    let room = encoded_room(data.len()).ok_or(SASL_BUFOVER)?;
    let outmax_c = c_uint::try_from(outmax.min(room)).map_err(|_| SASL_BUFOVER)?;
    let mut out = vec![0u8; outmax_c as usize];
    let mut outlen: c_uint = 0;
    // SAFETY: `data` has `inlen` readable bytes, `out` has `outmax_c` writable bytes.
    let rc = unsafe {
        util::sasl_encode64(
            data.as_ptr().cast::<c_char>(),
            inlen,
            out.as_mut_ptr().cast::<c_char>(),
            outmax_c,
            &mut outlen,
        )
    };
    sasl_done(rc)?;
    out.truncate(outlen as usize);
    Ok(Secret::new(out))
}

/// Decodes base64 the C tool's way: the text up to its first NUL (it passes `strlen`), an
/// output buffer one byte longer than the text; `SASL_OK` and `SASL_CONTINUE` (a trailing
/// partial group, ignored) both count as success. Errors are the library's codes.
pub fn decode64(text: &[u8]) -> Result<Vec<u8>, Code> {
    let text = up_to_nul(text);
    let outmax = text.len().checked_add(1).ok_or(SASL_BUFOVER)?;
    decode64_within(text, outmax)
}

/// `decode64` with a caller-chosen output buffer size (NUL included), e.g. the C HTTP code's
/// fixed buffer.
pub fn decode64_within(text: &[u8], outmax: usize) -> Result<Vec<u8>, Code> {
    let text = up_to_nul(text);
    let inlen = c_len(text.len())?;
    // The result is shorter than the text: a larger buffer changes nothing, so allocate no
    // more than one byte past the text.
    let outmax_c = c_uint::try_from(outmax.min(text.len() + 1)).map_err(|_| SASL_BUFOVER)?;
    // One spare byte for the terminating NUL the library adds.
    let mut out = vec![0u8; outmax_c as usize + 1];
    let mut outlen: c_uint = 0;
    // SAFETY: `text` has `inlen` readable bytes; `out` has more than `outmax_c` writable bytes.
    let rc = unsafe {
        util::sasl_decode64(
            text.as_ptr().cast::<c_char>(),
            inlen,
            out.as_mut_ptr().cast::<c_char>(),
            outmax_c,
            &mut outlen,
        )
    };
    match sasl_ok(rc) {
        Ok(Flow::Done) | Ok(Flow::Continue) => {
            out.truncate(outlen as usize);
            Ok(out)
        }
        Ok(Flow::Interact) => Err(rc),
        Err(code) => Err(code),
    }
}

// ---------------------------------------------------------------------------------------------
// One client connection.

/// Channel-binding data the library points at (it does not copy it).
struct ChannelBinding {
    raw: sys::sasl_channel_binding_t,
    _name: CString,
    _data: Box<[u8]>,
}

/// HTTP request context the library points at (it does not copy it).
struct HttpRequest {
    raw: sys::sasl_http_request_t,
    _method: CString,
    _uri: CString,
    _entity: Box<[u8]>,
}

/// A libsasl2 client connection (`sasl_conn_t`), disposed of on drop.
pub struct Conn {
    raw: *mut sys::sasl_conn_t,
    /// The interaction list of the exchange in progress: NULL at each start, then whatever the
    /// library leaves in it (the C tool uses one variable per exchange the same way).
    interact: *mut sys::sasl_interact_t,
    /// Every answer handed to the library, NUL-terminated; kept (and wiped at the end)
    /// because plugins may hold on to the pointers.
    answers: Vec<Secret>,
    /// Property values the library keeps pointers to; never freed before the connection.
    /// Boxed so that their addresses stay put when the vectors grow.
    #[allow(clippy::vec_box)]
    bindings: Vec<Box<ChannelBinding>>,
    #[allow(clippy::vec_box)]
    http_requests: Vec<Box<HttpRequest>>,
}

/// Maps an interaction id to the request kind. An id the C tool has no case for gets its
/// fallback (print the prompt, read a line): the echo prompt without a challenge.
fn prompt_kind(id: c_ulong) -> (PromptKind, bool) {
    match id {
        sys::SASL_CB_USER => (PromptKind::User, true),
        sys::SASL_CB_AUTHNAME => (PromptKind::AuthName, true),
        sys::SASL_CB_PASS => (PromptKind::Pass, true),
        sys::SASL_CB_GETREALM => (PromptKind::GetRealm, true),
        sys::SASL_CB_ECHOPROMPT => (PromptKind::EchoPrompt, true),
        sys::SASL_CB_NOECHOPROMPT => (PromptKind::NoEchoPrompt, true),
        _ => (PromptKind::EchoPrompt, false),
    }
}

impl Conn {
    /// `sasl_client_new` with the library's global callbacks (docs/behaviour.md §5.1).
    pub fn new(
        service: &str,
        server_fqdn: Option<&str>,
        local_ip_port: Option<&str>,
        remote_ip_port: Option<&str>,
        flags: ConnFlags,
    ) -> Result<Conn, Code> {
        let service = c_param(service)?;
        let fqdn = server_fqdn.map(c_param).transpose()?;
        let local = local_ip_port.map(c_param).transpose()?;
        let remote = remote_ip_port.map(c_param).transpose()?;
        let mut bits: c_uint = 0;
        if flags.need_proxy {
            bits |= sys::SASL_NEED_PROXY;
        }
        if flags.success_data {
            bits |= sys::SASL_SUCCESS_DATA;
        }
        if flags.need_http {
            bits |= sys::SASL_NEED_HTTP;
        }
        let opt_ptr = |s: &Option<CString>| s.as_ref().map_or(ptr::null(), |s| s.as_ptr());
        let mut raw: *mut sys::sasl_conn_t = ptr::null_mut();
        // SAFETY: all strings are NUL-terminated and outlive the call (the library copies
        // them); NULL callbacks = use the global list; `raw` receives the new connection.
        let rc = unsafe {
            sys::sasl_client_new(
                service.as_ptr(),
                opt_ptr(&fqdn),
                opt_ptr(&local),
                opt_ptr(&remote),
                ptr::null(),
                bits,
                &mut raw,
            )
        };
        resume_panic();
        sasl_done(rc)?;
        if raw.is_null() {
            return Err(SASL_FAIL);
        }
        Ok(Conn {
            raw,
            interact: ptr::null_mut(),
            answers: Vec::new(),
            bindings: Vec::new(),
            http_requests: Vec::new(),
        })
    }

    /// `sasl_setprop` with a value the library copies or reads at once.
    fn setprop(&mut self, prop: c_uint, value: *const c_void) -> Result<(), Code> {
        // SAFETY: `raw` is a live connection; the caller passes the value type `prop` expects.
        let rc = unsafe { sys::sasl_setprop(self.raw, prop as c_int, value) };
        resume_panic();
        sasl_done(rc)
    }

    /// Security properties: SSF range and buffer size, no security flags.
    pub fn set_security(
        &mut self,
        min_ssf: u32,
        max_ssf: u32,
        maxbufsize: u32,
    ) -> Result<(), Code> {
        let props = sys::sasl_security_properties_t {
            min_ssf,
            max_ssf,
            maxbufsize,
            security_flags: 0,
            property_names: ptr::null_mut(),
            property_values: ptr::null_mut(),
        };
        // The library copies the structure.
        self.setprop(
            sys::SASL_SEC_PROPS,
            (&props as *const sys::sasl_security_properties_t).cast(),
        )
    }

    /// SSF of the layer below (TLS cipher bits, docs/behaviour.md §4.3).
    pub fn set_external_ssf(&mut self, ssf: u32) -> Result<(), Code> {
        let value: sys::sasl_ssf_t = ssf;
        // The library copies the number.
        self.setprop(
            sys::SASL_SSF_EXTERNAL,
            (&value as *const sys::sasl_ssf_t).cast(),
        )
    }

    /// External authentication id; `None` clears it.
    pub fn set_external_auth_id(&mut self, id: Option<&str>) -> Result<(), Code> {
        let id = id.map(c_param).transpose()?;
        // The library copies the string.
        self.setprop(
            sys::SASL_AUTH_EXTERNAL,
            id.as_ref().map_or(ptr::null(), |s| s.as_ptr().cast()),
        )
    }

    /// Channel binding (`tls-unique`, non-critical in the C tool).
    pub fn set_channel_binding(
        &mut self,
        name: &str,
        critical: bool,
        data: &[u8],
    ) -> Result<(), Code> {
        let name = c_param(name)?;
        let data: Box<[u8]> = data.into();
        let mut binding = Box::new(ChannelBinding {
            raw: sys::sasl_channel_binding_t {
                name: ptr::null(),
                critical: c_int::from(critical),
                len: data.len() as c_ulong,
                data: ptr::null(),
            },
            _name: name,
            _data: data,
        });
        binding.raw.name = binding._name.as_ptr();
        binding.raw.data = binding._data.as_ptr();
        let value = (&binding.raw as *const sys::sasl_channel_binding_t).cast();
        // The library keeps the pointer: the box stays in `self` until the connection is gone.
        self.bindings.push(binding);
        self.setprop(sys::SASL_CHANNEL_BINDING, value)
    }

    /// HTTP request context for mechanisms that bind to it (`SASL_NEED_HTTP` connections).
    pub fn set_http_request(
        &mut self,
        method: &str,
        uri: &str,
        entity: &[u8],
        non_persist: bool,
    ) -> Result<(), Code> {
        let method = c_param(method)?;
        let uri = c_param(uri)?;
        let entity: Box<[u8]> = entity.into();
        let mut request = Box::new(HttpRequest {
            raw: sys::sasl_http_request_t {
                method: ptr::null(),
                uri: ptr::null(),
                entity: ptr::null(),
                elen: entity.len() as c_ulong,
                non_persist: c_uint::from(non_persist),
            },
            _method: method,
            _uri: uri,
            _entity: entity,
        });
        request.raw.method = request._method.as_ptr();
        request.raw.uri = request._uri.as_ptr();
        request.raw.entity = request._entity.as_ptr();
        let value = (&request.raw as *const sys::sasl_http_request_t).cast();
        // The library keeps the pointer: the box stays in `self` until the connection is gone.
        self.http_requests.push(request);
        self.setprop(sys::SASL_HTTP_REQUEST, value)
    }

    /// Fills the pending interaction list through `prompter`.
    fn fill_interactions(&mut self, prompter: &mut dyn Prompter) -> Result<(), Code> {
        let mut item = self.interact;
        if item.is_null() {
            return Err(SASL_FAIL);
        }
        loop {
            // SAFETY: after SASL_INTERACT the library hands an array of entries ending with
            // SASL_CB_LIST_END, valid and writable until the next call on this connection.
            let entry = unsafe { &mut *item };
            if entry.id == sys::SASL_CB_LIST_END {
                return Ok(());
            }
            let (kind, known) = prompt_kind(entry.id);
            let challenge = if known {
                // SAFETY: the strings belong to the list and stay valid while it is being
                // filled.
                unsafe { borrowed_str(entry.challenge) }
            } else {
                None
            };
            // printf("%s") of a NULL prompt prints "(null)" with glibc.
            // SAFETY: as for the challenge above.
            let prompt = unsafe { borrowed_str(entry.prompt) }.unwrap_or(Cow::Borrowed("(null)"));
            let answer = prompter.answer(&PromptRequest {
                kind,
                challenge: challenge.as_deref(),
                prompt: &prompt,
            });
            // The C tool hands over C strings: the answer ends at its first NUL.
            let text = up_to_nul(&answer);
            // Its buffer is allocated once and never moves: the library keeps the pointer.
            let stored = Secret::concat(&[text, b"\0"]);
            entry.result = stored.as_ptr().cast::<c_void>();
            entry.len = c_len(text.len())?;
            self.answers.push(stored);
            // SAFETY: this entry was not the terminator, so the next one is in the array.
            item = unsafe { item.add(1) };
        }
    }

    /// Runs one libsasl2 call again and again while it asks for interactions.
    fn drive(
        &mut self,
        prompter: &mut dyn Prompter,
        mut call: impl FnMut(&mut Conn) -> (c_int, *const c_char, c_uint),
    ) -> (Code, Option<Secret>) {
        loop {
            let (rc, out, outlen) = call(self);
            resume_panic();
            match sasl_ok(rc) {
                Ok(Flow::Interact) => {
                    if let Err(code) = self.fill_interactions(prompter) {
                        return (code, None);
                    }
                }
                // SAFETY: the output buffer belongs to the connection and holds `outlen`
                // bytes until the next call.
                Ok(_) => return (rc, unsafe { copy_out(out, outlen) }.map(Secret::new)),
                Err(code) => return (code, None),
            }
        }
    }

    /// `sasl_client_start` (docs/behaviour.md §6.1 step 1): an initial response is asked for only
    /// when `want_initial_response`; the mechanism list is taken up to its first NUL.
    pub fn start(
        &mut self,
        mechlist: &[u8],
        want_initial_response: bool,
        prompter: &mut dyn Prompter,
    ) -> StepResult {
        let list = c_string(mechlist);
        self.interact = ptr::null_mut();
        let mut mech: *const c_char = ptr::null();
        let (code, output) = self.drive(prompter, |conn| {
            let mut out: *const c_char = ptr::null();
            let mut outlen: c_uint = 0;
            let out_slot: *mut *const c_char = if want_initial_response {
                &mut out
            } else {
                ptr::null_mut()
            };
            // SAFETY: `raw` is live; `list` is NUL-terminated and outlives the call; the
            // out-parameters are valid locals (the response slot NULL when none is wanted).
            let rc = unsafe {
                sys::sasl_client_start(
                    conn.raw,
                    list.as_ptr(),
                    &mut conn.interact,
                    out_slot,
                    &mut outlen,
                    &mut mech,
                )
            };
            (rc, out, outlen)
        });
        // SAFETY: the name points into the chosen plugin, loaded for the life of the process.
        let mechanism = unsafe { borrowed_str(mech) }.map(Cow::into_owned);
        StepResult {
            code,
            mechanism,
            output,
        }
    }

    /// `sasl_client_step` with the decoded challenge; an empty challenge is passed as NULL
    /// (the C tool's "blank line" case). See `step_with` for the other form.
    #[cfg(test)]
    pub fn step(&mut self, challenge: &[u8], prompter: &mut dyn Prompter) -> StepResult {
        let challenge = if challenge.is_empty() {
            None
        } else {
            Some(challenge)
        };
        self.step_with(challenge, prompter)
    }

    /// `sasl_client_step`: `None` passes a NULL challenge, `Some(&[])` an empty non-NULL one
    /// (the C tool does the latter when a non-blank line decodes to nothing).
    pub fn step_with(
        &mut self,
        challenge: Option<&[u8]>,
        prompter: &mut dyn Prompter,
    ) -> StepResult {
        // The library wants a NUL after the counted bytes.
        let input: Option<Vec<u8>> = challenge.map(|c| {
            let mut v = Vec::with_capacity(c.len() + 1);
            v.extend_from_slice(c);
            v.push(0);
            v
        });
        let (in_ptr, in_len) = match &input {
            Some(v) => match c_len(v.len() - 1) {
                Ok(len) => (v.as_ptr().cast::<c_char>(), len),
                Err(code) => {
                    return StepResult {
                        code,
                        mechanism: None,
                        output: None,
                    }
                }
            },
            None => (ptr::null(), 0),
        };
        let (code, output) = self.drive(prompter, |conn| {
            let mut out: *const c_char = ptr::null();
            let mut outlen: c_uint = 0;
            // SAFETY: `raw` is live; the input is NULL or `in_len` bytes plus a NUL that outlive
            // the call; the out-parameters are valid locals.
            let rc = unsafe {
                sys::sasl_client_step(
                    conn.raw,
                    in_ptr,
                    in_len,
                    &mut conn.interact,
                    &mut out,
                    &mut outlen,
                )
            };
            (rc, out, outlen)
        });
        StepResult {
            code,
            mechanism: None,
            output,
        }
    }

    /// Reads an unsigned property (SSF, max output buffer).
    fn get_unsigned(&self, prop: c_uint) -> Result<u32, Code> {
        let mut value: *const c_void = ptr::null();
        // SAFETY: `raw` is live and `value` is a valid out-parameter.
        let rc = unsafe { sys::sasl_getprop(self.raw, prop as c_int, &mut value) };
        sasl_done(rc)?;
        if value.is_null() {
            return Err(SASL_FAIL);
        }
        // SAFETY: for SASL_SSF and SASL_MAXOUTBUF the library returns a pointer to an
        // `unsigned` inside the connection.
        Ok(unsafe { *value.cast::<c_uint>() })
    }

    /// Negotiated security strength factor of the SASL layer.
    pub fn ssf(&self) -> Result<u32, Code> {
        self.get_unsigned(sys::SASL_SSF)
    }

    /// Largest input `encode` accepts in one call.
    pub fn max_out_buf(&self) -> Result<u32, Code> {
        self.get_unsigned(sys::SASL_MAXOUTBUF)
    }

    /// Runs `sasl_encode` / `sasl_decode` and copies the result.
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
        let len = c_len(data.len())?;
        let mut out: *const c_char = ptr::null();
        let mut outlen: c_uint = 0;
        // SAFETY: `raw` is live; `data` has `len` readable bytes; the out-parameters are valid.
        let rc = unsafe {
            f(
                self.raw,
                data.as_ptr().cast::<c_char>(),
                len,
                &mut out,
                &mut outlen,
            )
        };
        resume_panic();
        sasl_done(rc)?;
        // SAFETY: the output buffer belongs to the connection and holds `outlen` bytes until
        // the next call.
        Ok(unsafe { copy_out(out, outlen) }.unwrap_or_default())
    }

    /// Security-layer encoding of at most `max_out_buf` bytes.
    pub fn encode(&mut self, data: &[u8]) -> Result<Vec<u8>, Code> {
        self.transform(data, sys::sasl_encode)
    }

    /// Security-layer decoding; may return nothing while a packet is incomplete.
    pub fn decode(&mut self, data: &[u8]) -> Result<Vec<u8>, Code> {
        self.transform(data, sys::sasl_decode)
    }

    /// The library's detail text for the last error on this connection.
    pub fn errdetail(&self) -> Option<String> {
        self.errdetail_bytes()
            .map(|detail| String::from_utf8_lossy(&detail).into_owned())
    }

    /// `errdetail` as the raw bytes the C tool prints (plugins put peer data in it).
    pub fn errdetail_bytes(&self) -> Option<Vec<u8>> {
        // SAFETY: `raw` is live; the result is NULL or a string owned by the connection.
        let p = unsafe { sys::sasl_errdetail(self.raw) };
        if p.is_null() {
            return None;
        }
        // SAFETY: non-NULL and NUL-terminated, valid until the next call on the connection.
        Some(unsafe { CStr::from_ptr(p) }.to_bytes().to_vec())
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // SAFETY: `raw` came from sasl_client_new and is disposed of exactly once; the library
        // sets it to NULL.
        unsafe { sys::sasl_dispose(&mut self.raw) };
    }
}

#[cfg(test)]
mod tests;

#[cfg(any(test, feature = "testkit"))]
pub mod test_server;
