//! OpenSSL pieces the `openssl` crate does not expose: the info callback, the BIO trace
//! callback, one-line X.509 names, CN text, the raw `SSL_connect` return value, offering a
//! saved session, trust-store paths as bytes and a certificate's signature digest. Callbacks are generic trampolines that hand decoded events to a safe handler
//! and never let a panic cross into C.

use foreign_types::{ForeignType, ForeignTypeRef};
use libc::{c_char, c_int, c_long, size_t};
use openssl::ssl::{SslContextBuilder, SslRef, SslSession, SslStream};
use openssl::x509::{X509NameRef, X509Ref};
use openssl_sys::{BIO, SSL, SSL_CTX, X509_NAME};
use std::ffi::CStr;
use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};

type InfoCallback = unsafe extern "C" fn(*const SSL, c_int, c_int);
type BioCallbackEx = unsafe extern "C" fn(
    *mut BIO,
    c_int,
    *const c_char,
    size_t,
    c_int,
    c_long,
    c_int,
    *mut size_t,
) -> c_long;

extern "C" {
    fn SSL_CTX_set_info_callback(ctx: *mut SSL_CTX, cb: Option<InfoCallback>);
    fn SSL_alert_type_string_long(value: c_int) -> *const c_char;
    fn X509_NAME_oneline(name: *const X509_NAME, buf: *mut c_char, size: c_int) -> *mut c_char;
    fn X509_NAME_get_text_by_NID(
        name: *const X509_NAME,
        nid: c_int,
        buf: *mut c_char,
        len: c_int,
    ) -> c_int;
    fn BIO_set_callback_ex(bio: *mut BIO, cb: Option<BioCallbackEx>);
    fn BIO_test_flags(bio: *const BIO, flags: c_int) -> c_int;
    fn X509_get_signature_info(
        x: *mut openssl_sys::X509,
        mdnid: *mut c_int,
        pknid: *mut c_int,
        secbits: *mut c_int,
        flags: *mut u32,
    ) -> c_int;
}

// Values from <openssl/ssl.h> and <openssl/bio.h> (OpenSSL 3.0).
const SSL_ST_CONNECT: c_int = 0x1000;
const SSL_ST_ACCEPT: c_int = 0x2000;
const SSL_ST_MASK: c_int = 0x0FFF;
const SSL_CB_LOOP: c_int = 0x01;
const SSL_CB_EXIT: c_int = 0x02;
const SSL_CB_READ: c_int = 0x04;
const SSL_CB_ALERT: c_int = 0x4000;
const BIO_CB_READ: c_int = 0x02;
const BIO_CB_WRITE: c_int = 0x03;
const BIO_CB_CTRL: c_int = 0x06;
const BIO_CB_RETURN: c_int = 0x80;
const BIO_CTRL_EOF: c_int = 2;
const BIO_FLAGS_IN_EOF: c_int = 0x800;

/// Which end of the handshake an info event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Connect,
    Accept,
    Undefined,
}

/// One call of OpenSSL's info callback, decoded. Strings are OpenSSL's long forms.
#[derive(Debug)]
pub enum InfoEvent<'a> {
    /// A handshake state was entered (`SSL_CB_LOOP`).
    Loop { side: Side, state: &'a [u8] },
    /// An alert was read or written; `code` is the alert's two bytes (level << 8 | description).
    Alert {
        read: bool,
        code: c_int,
        kind: &'a [u8],
        desc: &'a [u8],
    },
    /// A handshake function returned (`SSL_CB_EXIT`) with `ret`.
    Exit {
        side: Side,
        state: &'a [u8],
        ret: c_int,
    },
}

/// Receives info-callback events; implemented by the TLS module.
pub trait InfoHandler {
    fn info(event: InfoEvent<'_>);
}

/// One completed BIO read or write, seen from the BIO trace callback.
#[derive(Debug)]
pub struct BioEvent<'a> {
    pub write: bool,
    /// Address of the BIO and of the caller's buffer (for the trace header only).
    pub bio_addr: usize,
    pub buf_addr: usize,
    /// Bytes asked for and the result: the byte count on success, else OpenSSL's value (≤ 0).
    pub requested: c_int,
    pub result: c_int,
    /// The bytes transferred (empty unless `result > 0`).
    pub data: &'a [u8],
}

/// Receives BIO trace events; implemented by the TLS module.
pub trait BioHandler {
    fn bio(event: BioEvent<'_>);
}

/// The bytes of a static C string; empty for NULL.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that lives for `'a` (OpenSSL's `*_string_long`
/// functions return static text).
unsafe fn c_bytes<'a>(p: *const c_char) -> &'a [u8] {
    if p.is_null() {
        return b"";
    }
    // SAFETY: non-NULL, and a live C string by this function's contract.
    unsafe { CStr::from_ptr(p) }.to_bytes()
}

unsafe extern "C" fn info_trampoline<H: InfoHandler>(ssl: *const SSL, where_: c_int, ret: c_int) {
    let side = {
        let w = where_ & !SSL_ST_MASK;
        if w & SSL_ST_CONNECT != 0 {
            Side::Connect
        } else if w & SSL_ST_ACCEPT != 0 {
            Side::Accept
        } else {
            Side::Undefined
        }
    };
    let state = || {
        // SAFETY: OpenSSL passes the live SSL the callback fires for, and the state text it
        // returns is static.
        unsafe { c_bytes(openssl_sys::SSL_state_string_long(ssl)) }
    };
    let event = if where_ & SSL_CB_LOOP != 0 {
        InfoEvent::Loop {
            side,
            state: state(),
        }
    } else if where_ & SSL_CB_ALERT != 0 {
        InfoEvent::Alert {
            read: where_ & SSL_CB_READ != 0,
            code: ret,
            // SAFETY: both functions only look up a static table of texts by value.
            kind: unsafe { c_bytes(SSL_alert_type_string_long(ret)) },
            // SAFETY: as above.
            desc: unsafe { c_bytes(openssl_sys::SSL_alert_desc_string_long(ret)) },
        }
    } else if where_ & SSL_CB_EXIT != 0 {
        InfoEvent::Exit {
            side,
            state: state(),
            ret,
        }
    } else {
        return;
    };
    // A panic must not unwind into OpenSSL; losing one trace line is the lesser evil.
    let _ = catch_unwind(AssertUnwindSafe(|| H::info(event)));
}

/// Installs `H` as the context's info callback (inherited by every SSL made from it).
pub fn set_info_callback<H: InfoHandler>(ctx: &mut SslContextBuilder) {
    // SAFETY: the context pointer is valid for the builder's life; the trampoline is a plain
    // function that stays valid for the whole program.
    unsafe { SSL_CTX_set_info_callback(ctx.as_ptr(), Some(info_trampoline::<H>)) }
}

unsafe extern "C" fn bio_trampoline<H: BioHandler>(
    bio: *mut BIO,
    oper: c_int,
    argp: *const c_char,
    len: size_t,
    argi: c_int,
    _argl: c_long,
    ret: c_int,
    processed: *mut size_t,
) -> c_long {
    let write = match oper {
        x if x == BIO_CB_READ | BIO_CB_RETURN => {
            if ret == 0 {
                // SAFETY: `bio` is the live BIO this callback was called for.
                unsafe { openssl_sys::BIO_set_flags(bio, BIO_FLAGS_IN_EOF) };
            }
            false
        }
        x if x == BIO_CB_WRITE | BIO_CB_RETURN => true,
        x if x == BIO_CB_CTRL | BIO_CB_RETURN && argi == BIO_CTRL_EOF => {
            // SAFETY: as above.
            let eof = unsafe { BIO_test_flags(bio, BIO_FLAGS_IN_EOF) } != 0;
            return c_long::from(eof);
        }
        _ => return c_long::from(ret),
    };
    // Report what an old-style callback would see: the length asked for, and on success the
    // number of bytes moved instead of the success flag.
    let requested = c_int::try_from(len).unwrap_or(c_int::MAX);
    let result = if ret > 0 && !processed.is_null() {
        // SAFETY: on a successful return OpenSSL points `processed` at the byte count.
        c_int::try_from(unsafe { *processed }).unwrap_or(c_int::MAX)
    } else {
        ret
    };
    let data: &[u8] = if result > 0 && !argp.is_null() {
        // SAFETY: after a successful read or write `argp` holds `result` valid bytes.
        unsafe { std::slice::from_raw_parts(argp.cast::<u8>(), result as usize) }
    } else {
        &[]
    };
    let event = BioEvent {
        write,
        bio_addr: bio as usize,
        buf_addr: argp as usize,
        requested,
        result,
        data,
    };
    let _ = catch_unwind(AssertUnwindSafe(|| H::bio(event)));
    c_long::from(ret)
}

/// Installs the BIO callback on the stream's BIO, for the rest of its life. It does two jobs:
///
/// * it makes the crate's stream BIO answer "end of file?" like a socket BIO (flag set when a
///   read returns 0), which the crate's BIO never does. OpenSSL asks this after a failed read
///   to tell an unclean close (fatal alert `decode error`, session no longer resumable, as the
///   C tool sees it) from an I/O error;
/// * it passes every completed read and write to `H` (the `-v` record dump).
pub fn set_bio_callback<H: BioHandler, S: Read + Write>(stream: &mut SslStream<S>) {
    // SAFETY: the SSL is alive while we hold the stream; its read BIO (also its write BIO) is
    // owned by the SSL and outlives every call of the callback, which is a static function.
    unsafe {
        let bio = openssl_sys::SSL_get_rbio(stream.ssl().as_ptr());
        if !bio.is_null() {
            BIO_set_callback_ex(bio, Some(bio_trampoline::<H>));
        }
    }
}

/// `SSL_connect` on the stream, returning OpenSSL's raw result (1 success, 0 or < 0 failure).
pub fn connect_raw<S: Read + Write>(stream: &mut SslStream<S>) -> c_int {
    // SAFETY: the SSL and its BIO belong to `stream`, borrowed mutably for the whole call, so
    // nothing else drives this SSL meanwhile; callbacks installed on it never unwind.
    unsafe { openssl_sys::SSL_connect(stream.ssl().as_ptr()) }
}

/// `SSL_CTX_use_certificate_chain_file` with the file name as bytes (the openssl crate
/// insists on UTF-8 names and panics otherwise). `false` when OpenSSL refuses.
pub fn use_certificate_chain_file(builder: &mut SslContextBuilder, file: &CStr) -> bool {
    // SAFETY: the builder owns a live SSL_CTX; `file` is a NUL-terminated string that
    // OpenSSL only reads during the call.
    let ok = unsafe {
        openssl_sys::SSL_CTX_use_certificate_chain_file(builder.as_ptr(), file.as_ptr()) > 0
    };
    drain_errors_unless(ok)
}

/// `SSL_CTX_use_PrivateKey_file` (PEM) with the file name as bytes, as above.
pub fn use_private_key_file(builder: &mut SslContextBuilder, file: &CStr) -> bool {
    // SAFETY: as for `use_certificate_chain_file`.
    let ok = unsafe {
        openssl_sys::SSL_CTX_use_PrivateKey_file(
            builder.as_ptr(),
            file.as_ptr(),
            openssl_sys::SSL_FILETYPE_PEM,
        ) > 0
    };
    drain_errors_unless(ok)
}

/// `SSL_CTX_load_verify_locations` with the names as bytes (the openssl crate insists on
/// UTF-8 names and panics otherwise). `false` when OpenSSL refuses.
pub fn load_verify_locations(
    builder: &mut SslContextBuilder,
    file: Option<&CStr>,
    dir: Option<&CStr>,
) -> bool {
    let file = file.map_or(std::ptr::null(), CStr::as_ptr);
    let dir = dir.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: the builder owns a live SSL_CTX; each name is NULL or a NUL-terminated string
    // that OpenSSL only reads during the call.
    let ok = unsafe { openssl_sys::SSL_CTX_load_verify_locations(builder.as_ptr(), file, dir) > 0 };
    drain_errors_unless(ok)
}

/// The digest (as a NID) the certificate's signature uses, as OpenSSL 3 works it out (it
/// also knows RSA-PSS parameters); `None` when there is no single digest (e.g. Ed25519).
pub fn signature_digest(cert: &X509Ref) -> Option<openssl::nid::Nid> {
    let mut md: c_int = 0;
    // SAFETY: the certificate is alive for the call; OpenSSL only reads it (the pointer is
    // not const in the prototype because the function may cache decoded fields in it), and
    // the out-parameters it does not need may be NULL.
    let ok = unsafe {
        X509_get_signature_info(
            cert.as_ptr(),
            &mut md,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    (ok == 1 && md != openssl_sys::NID_undef).then(|| openssl::nid::Nid::from_raw(md))
}

/// A failed call leaves entries on OpenSSL's error queue (the openssl crate drains them for
/// its own calls); drop them so a later handshake does not see them.
fn drain_errors_unless(ok: bool) -> bool {
    if !ok {
        // Not `ErrorStack::get()`: it unwraps the entries' text as UTF-8, and this text
        // holds the file name, which need not be UTF-8.
        // SAFETY: ERR_clear_error only empties this thread's error queue.
        unsafe { openssl_sys::ERR_clear_error() };
    }
    ok
}

/// Offers `session` for resumption on the next handshake of `ssl`.
///
/// The session may come from another client context: OpenSSL allows that (contexts only
/// matter to session caches and server-side id contexts, and our client contexts keep no
/// cache and install no session callbacks). The crate marks it unsafe for that reason alone.
pub fn offer_session(ssl: &mut SslRef, session: &SslSession) -> bool {
    // SAFETY: both pointers are valid; SSL_set_session takes its own reference on the session.
    unsafe { openssl_sys::SSL_set_session(ssl.as_ptr(), session.as_ptr()) == 1 }
}

/// OpenSSL's one-line form of a name (`/CN=x/O=y`), cut to 255 bytes like a 256-byte buffer.
pub fn name_oneline(name: &X509NameRef) -> Vec<u8> {
    let mut buf = [0 as c_char; 256];
    // SAFETY: `buf` is writable for its full length, which is what we pass as the size.
    let p = unsafe { X509_NAME_oneline(name.as_ptr(), buf.as_mut_ptr(), buf.len() as c_int) };
    if p.is_null() {
        return Vec::new();
    }
    // SAFETY: on success X509_NAME_oneline leaves a NUL-terminated string in `buf`.
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_bytes().to_vec()
}

/// Text of the first entry `nid` in `name` as C reads it from a 256-byte buffer (at most 255
/// bytes, cut at the first NUL), or `None` when the name has no such entry.
pub fn name_text_by_nid(name: &X509NameRef, nid: openssl::nid::Nid) -> Option<Vec<u8>> {
    let mut buf = [0 as c_char; 256];
    // SAFETY: `buf` is writable for its full length, which is what we pass as the length.
    let n = unsafe {
        X509_NAME_get_text_by_NID(
            name.as_ptr(),
            nid.as_raw(),
            buf.as_mut_ptr(),
            buf.len() as c_int,
        )
    };
    if n < 0 {
        return None;
    }
    // SAFETY: on success the function NUL-terminates what it copied into `buf`.
    Some(unsafe { CStr::from_ptr(buf.as_ptr()) }.to_bytes().to_vec())
}
