//! TLS for the test clients (docs/behaviour.md §4): a fresh OpenSSL client context per handshake,
//! the C tool's verify/info/BIO trace lines on stdout, the success line, and the session kept for
//! resumption in the next `-n` round. No SNI, no ALPN, no trust store, never a hard verify
//! failure — which is why the context is built by hand instead of with `SslConnector`.
//!
//! The opt-in options (`settings`: SNI, `--verify`, versions, ciphers, `--show-cert`, `--cb`)
//! change that only when given; `binding` computes the channel bindings, `show` the
//! `--show-cert` text.

mod binding;
mod settings;
mod show;

pub use binding::Binding;
pub use settings::Settings;

use crate::ffi::tls::{self as raw, BioEvent, BioHandler, InfoEvent, InfoHandler, Side};
use crate::net::socket::Socket;
use openssl::nid::Nid;
use openssl::ssl::{
    ShutdownState, Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslSession,
    SslStream, SslVerifyMode,
};
use openssl::x509::{X509StoreContextRef, X509VerifyResult};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

/// Why a TLS start failed; the C tool's stdout lines were already printed.
#[derive(Debug)]
pub enum Failure {
    /// Context/certificate set-up failed (docs/behaviour.md §4.1): the plain socket comes back so
    /// the caller can carry on in clear, as the C tool does after STARTTLS.
    Engine(Socket),
    /// Handshake failed (`SSL_connect error <n>`, `SSL session removed` already printed).
    /// With an opt-in TLS option given, OpenSSL's reason (the C tool says none).
    Handshake(Option<String>),
    /// An opt-in option made the connection fail: `--verify` rejected the certificate, or
    /// a setting or a channel binding could not be applied. The one-line message says why.
    Fatal(String),
}

/// A finished handshake and what the SASL layer needs from it (docs/behaviour.md §4.3).
pub struct Established {
    pub stream: SslStream<Socket>,
    /// Cipher bits in use: SASL external SSF.
    pub usebits: u32,
    /// Server certificate subject CN: SASL external auth id (C tool's behaviour). Like the
    /// C tool's static buffer it keeps the previous round's value when the new certificate has
    /// no CN (first round: empty), and is `None` only while no server has sent a certificate.
    /// Bytes that are not UTF-8 are replaced (lossy).
    pub peer_cn: Option<String>,
    /// Channel binding for SASL: the C tool's tls-unique (own Finished for a full handshake,
    /// the server's for a resumed one), or what `--cb` asked for.
    pub binding: Binding,
}

/// The C tool lets a failed check pass up to this chain depth (it never sets OpenSSL's own
/// verify depth, which stays at its default).
const VERIFY_DEPTH: u32 = 10;

const ENGINE_FAILED: &str = "TLS engine: cannot load cert/key data, may be a cert/key mismatch?";

/// One per process: keeps the saved session for resumption in the next `-n` round.
pub struct Engine {
    verbose: bool,
    /// Session of the last successful handshake, offered on the next one.
    saved: Option<SslSession>,
    /// Subject and issuer CN as last read from a server certificate (C: static buffers).
    peer_cn: Vec<u8>,
    issuer_cn: Vec<u8>,
    /// Whether any server certificate has been seen (C: the auth-id pointer was set).
    peer_cn_set: bool,
    /// The opt-in options (default: none, the C tool).
    settings: Settings,
}

/// OpenSSL's text for the first failed check the verify callback saw in one handshake.
type FirstError = Arc<Mutex<Option<&'static str>>>;

impl Engine {
    /// The C tool's engine.
    pub fn new(verbose: bool) -> Engine {
        Engine {
            verbose,
            saved: None,
            peer_cn: Vec::new(),
            issuer_cn: Vec::new(),
            peer_cn_set: false,
            settings: Settings::default(),
        }
    }

    /// With the opt-in options. A context is built once here so that a bad `--cafile`,
    /// `--ciphers`, ... is reported before connecting (one line, for `failure: `).
    pub fn with_settings(verbose: bool, settings: Settings) -> Result<Engine, String> {
        if settings.any() {
            let mut builder = SslContextBuilder::new(SslMethod::tls_client())
                .map_err(|e| format!("TLS set-up: {}", settings::reason(&e)))?;
            settings.apply_to_context(&mut builder)?;
        }
        let mut engine = Engine::new(verbose);
        engine.settings = settings;
        Ok(engine)
    }

    /// Fresh context (client cert from `keyfile` when `Some(non-empty)`), handshake on `socket`,
    /// prints verify lines and `TLS connection established: ...`.
    pub fn connect(
        &mut self,
        socket: impl Into<Socket>,
        keyfile: Option<&[u8]>,
    ) -> Result<Established, Failure> {
        let socket = socket.into();
        if self.verbose {
            line("starting TLS engine");
        }
        // A C string ends at the first NUL, and an empty name means "no client certificate".
        let keyfile = keyfile.map(crate::bytes::c_str).filter(|f| !f.is_empty());
        let (ctx, first_error) = match self.context(keyfile) {
            Ok(ctx) => ctx,
            Err(None) => return Err(Failure::Engine(socket)),
            Err(Some(message)) => return Err(Failure::Fatal(message)),
        };

        if self.verbose {
            line("setting up TLS connection");
        }
        let mut ssl = match Ssl::new(&ctx) {
            Ok(ssl) => ssl,
            Err(_) => {
                line("Could not allocate 'con' with SSL_new()");
                return Err(Failure::Handshake(None));
            }
        };
        self.settings
            .apply_to_ssl(&mut ssl)
            .map_err(Failure::Fatal)?;
        if let Some(session) = &self.saved {
            // Refusal is ignored, as in the C tool: the handshake is simply a full one.
            raw::offer_session(&mut ssl, session);
        }
        let mut stream = match SslStream::new(ssl, socket) {
            Ok(stream) => stream,
            Err(_) => {
                line("SSL_set_fd failed");
                return Err(Failure::Handshake(None));
            }
        };
        if self.verbose {
            raw::set_bio_callback::<Trace, _>(&mut stream);
        } else {
            raw::set_bio_callback::<Quiet, _>(&mut stream);
        }

        let rc = raw::connect_raw(&mut stream);
        if rc <= 0 {
            let errors = openssl::error::ErrorStack::get();
            line(&format!("SSL_connect error {rc}"));
            if stream.ssl().session().is_some() {
                line("SSL session removed");
            }
            self.saved = None;
            let reason = self.settings.any().then(|| match errors.errors().first() {
                Some(_) => settings::reason(&errors),
                None => "the server closed the connection".to_owned(),
            });
            return Err(Failure::Handshake(reason));
        }
        match self.established(stream, &first_error) {
            Ok(established) => Ok(established),
            Err((mut stream, message)) => {
                // Given up after the handshake: say goodbye, and never resume this session.
                self.saved = None;
                let _ = stream.shutdown();
                Err(Failure::Fatal(message))
            }
        }
    }

    /// `--tls-resume`: at the end of a round, keep the connection's session as it is now.
    /// A TLS 1.3 server sends its session ticket after the handshake, so the copy taken right
    /// after it (the C tool's) cannot be resumed; by the end of a round the ticket has been
    /// read. Without the option this does nothing.
    pub fn keep_latest_session(&mut self, stream: &SslStream<Socket>) {
        if self.settings.resume_late {
            if let Some(session) = stream.ssl().session() {
                self.saved = Some(session.to_owned());
            }
        }
    }

    /// Sends close_notify without waiting for the answer and marks the connection as cleanly
    /// shut down, so that OpenSSL keeps the saved session resumable. Call it before dropping a
    /// stream whose session should be offered in the next round.
    pub fn shutdown(stream: &mut SslStream<Socket>) {
        let _ = stream.shutdown();
        stream.set_shutdown(ShutdownState::SENT | ShutdownState::RECEIVED);
    }

    /// The client context of docs/behaviour.md §4.1 plus the opt-in settings, and where the verify
    /// callback notes the first failed check. `Err(None)`: the C tool's engine failure (the
    /// messages are printed); `Err(Some(message))`: an opt-in setting failed.
    fn context(&self, keyfile: Option<&[u8]>) -> Result<(SslContext, FirstError), Option<String>> {
        let mut builder = SslContextBuilder::new(SslMethod::tls_client()).map_err(|_| None)?;
        builder.set_options(
            SslOptions::ALL
                | SslOptions::NO_SSLV2
                | SslOptions::NO_SSLV3
                | SslOptions::NO_COMPRESSION,
        );
        if self.verbose {
            raw::set_info_callback::<Trace>(&mut builder);
        }
        if let Some(file) = keyfile {
            if let Err(message) = load_client_cert(&mut builder, file) {
                out(&[message.as_slice(), b"\n"].concat());
                line(ENGINE_FAILED);
                return Err(None);
            }
        }
        self.settings.apply_to_context(&mut builder).map_err(Some)?;
        let verbose = self.verbose;
        let first_error = FirstError::default();
        let noted = Arc::clone(&first_error);
        builder.set_verify_callback(SslVerifyMode::NONE, move |ok, store| {
            if !ok {
                let mut noted = noted.lock().unwrap_or_else(|e| e.into_inner());
                noted.get_or_insert(store.error().error_string());
            }
            verify(verbose, ok, store)
        });
        Ok((builder.build(), first_error))
    }

    /// Success path: names, `--show-cert`, the `--verify` verdict, the established line,
    /// session and channel binding. An opt-in check that fails gives the stream back with
    /// the message.
    ///
    /// `--show-cert` prints right after the C tool's verbose `subject_CN=` line and before
    /// `TLS connection established`, so that the chain is shown also when `--verify` then
    /// rejects it.
    fn established(
        &mut self,
        stream: SslStream<Socket>,
        first_error: &FirstError,
    ) -> Result<Established, (SslStream<Socket>, String)> {
        let ssl = stream.ssl();
        if let Some(peer) = ssl.peer_certificate() {
            if let Some(cn) = raw::name_text_by_nid(peer.subject_name(), Nid::COMMONNAME) {
                self.peer_cn = cn;
            }
            if let Some(cn) = raw::name_text_by_nid(peer.issuer_name(), Nid::COMMONNAME) {
                self.issuer_cn = cn;
            }
            self.peer_cn_set = true;
            if self.verbose {
                let mut text = b"subject_CN=".to_vec();
                text.extend_from_slice(&self.peer_cn);
                text.extend_from_slice(b", issuer_CN=");
                text.extend_from_slice(&self.issuer_cn);
                text.push(b'\n');
                out(&text);
            }
        }

        if self.settings.show_cert {
            out(&show::chain_text(ssl));
        }
        if let Some(message) = self.verify_failure(ssl, first_error) {
            return Err((stream, message));
        }

        let (name, usebits, algbits) = match ssl.current_cipher() {
            Some(cipher) => {
                let bits = cipher.bits();
                (cipher.name(), bits.secret, bits.algorithm)
            }
            None => ("(NONE)", 0, 0),
        };
        line(&format!(
            "TLS connection established: {} with cipher {} ({}/{} bits)",
            ssl.version_str(),
            name,
            usebits,
            algbits
        ));

        // Taken right after the handshake, as the C tool does: a TLS 1.3 ticket arrives only
        // later, so such a session is never resumed (see the tests).
        self.saved = ssl.session().map(|s| s.to_owned());

        let binding = match binding::compute(ssl, self.settings.binding) {
            Ok(binding) => binding,
            Err(message) => return Err((stream, message)),
        };

        let peer_cn = self
            .peer_cn_set
            .then(|| String::from_utf8_lossy(&self.peer_cn).into_owned());
        Ok(Established {
            stream,
            usebits: u32::try_from(usebits).unwrap_or(0),
            peer_cn,
            binding,
        })
    }

    /// With `--verify`: why the certificate is not accepted (the first failed check of this
    /// handshake; for a resumed session, the result stored with it), or `None`.
    fn verify_failure(&self, ssl: &openssl::ssl::SslRef, first: &FirstError) -> Option<String> {
        let verify = self.settings.verify.as_ref()?;
        let noted = *first.lock().unwrap_or_else(|e| e.into_inner());
        let reason = match noted {
            Some(reason) => reason,
            None if ssl.verify_result() == X509VerifyResult::OK => return None,
            None => ssl.verify_result().error_string(),
        };
        Some(format!(
            "TLS certificate verification failed: {reason} (server name '{}')",
            verify.name.text()
        ))
    }

    #[cfg(test)]
    fn has_saved_session(&self) -> bool {
        self.saved.is_some()
    }
}

/// Certificate chain, then the key from the same file, then the consistency check. The
/// file name is bytes as given, and the messages quote it unchanged.
fn load_client_cert(builder: &mut SslContextBuilder, file: &[u8]) -> Result<(), Vec<u8>> {
    let quoted = |what: &[u8]| [what, b" '", file, b"'"].concat();
    // The caller cut the name at its first NUL, so this cannot fail.
    let path =
        std::ffi::CString::new(file).map_err(|_| quoted(b"unable to get certificate from"))?;
    if !raw::use_certificate_chain_file(builder, &path) {
        return Err(quoted(b"unable to get certificate from"));
    }
    if !raw::use_private_key_file(builder, &path) {
        return Err(quoted(b"unable to get private key from"));
    }
    if builder.check_private_key().is_err() {
        return Err(b"Private key does not match the certificate public key".to_vec());
    }
    Ok(())
}

/// The verify callback (docs/behaviour.md §4.2): report, then let everything within the depth pass.
fn verify(verbose: bool, preverify_ok: bool, store: &mut X509StoreContextRef) -> bool {
    let depth = store.error_depth();
    let ok = preverify_ok || depth <= VERIFY_DEPTH;
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let error = store.error();
        let code = error.as_raw();
        let cert = store.current_cert();
        if verbose {
            let mut text = format!("Peer cert verify depth={depth} ").into_bytes();
            if let Some(cert) = cert {
                text.extend_from_slice(&raw::name_oneline(cert.subject_name()));
            }
            text.push(b'\n');
            out(&text);
        }
        if !preverify_ok {
            line(&format!("verify error:num={code}:{}", error.error_string()));
        }
        match verify_note(code) {
            Some(Note::Issuer) => {
                let mut text = b"issuer= ".to_vec();
                if let Some(cert) = cert {
                    text.extend_from_slice(&raw::name_oneline(cert.issuer_name()));
                }
                text.push(b'\n');
                out(&text);
            }
            Some(Note::Text(note)) => line(note),
            None => {}
        }
        if verbose {
            line(&format!("verify return:{}", i32::from(ok)));
        }
    }));
    ok
}

/// Extra line printed for some verify error codes, whether or not the check failed.
#[derive(Debug, PartialEq, Eq)]
enum Note {
    /// `issuer= <one-line issuer>`.
    Issuer,
    Text(&'static str),
}

fn verify_note(code: i32) -> Option<Note> {
    match code {
        2 => Some(Note::Issuer),
        9 | 13 => Some(Note::Text("cert not yet valid")),
        10 | 14 => Some(Note::Text("cert has expired")),
        _ => None,
    }
}

/// Verbose tracing: OpenSSL state/alert lines and the record hex dump (docs/behaviour.md §4.5).
struct Trace;

impl InfoHandler for Trace {
    fn info(event: InfoEvent<'_>) {
        if let Some(text) = info_line(&event) {
            out(&text);
        }
    }
}

impl BioHandler for Trace {
    fn bio(event: BioEvent<'_>) {
        let mut text = bio_header(&event).into_bytes();
        text.extend_from_slice(&dump(event.data));
        out(&text);
    }
}

/// Non-verbose runs still need the BIO callback (for its end-of-file answer), not the dump.
struct Quiet;

impl BioHandler for Quiet {
    fn bio(_event: BioEvent<'_>) {}
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Connect => "SSL_connect",
        Side::Accept => "SSL_accept",
        Side::Undefined => "undefined",
    }
}

/// The line for one info-callback event, if any (close_notify alerts and successful exits
/// print nothing).
fn info_line(event: &InfoEvent<'_>) -> Option<Vec<u8>> {
    let mut text = Vec::new();
    match *event {
        InfoEvent::Loop { side, state } => {
            text.extend_from_slice(side_name(side).as_bytes());
            text.push(b':');
            text.extend_from_slice(state);
        }
        InfoEvent::Alert {
            read,
            code,
            kind,
            desc,
        } => {
            if code & 0xff == 0 {
                return None;
            }
            text.extend_from_slice(b"SSL3 alert ");
            text.extend_from_slice(if read { b"read" } else { b"write" });
            text.push(b':');
            text.extend_from_slice(kind);
            text.push(b':');
            text.extend_from_slice(desc);
        }
        InfoEvent::Exit { side, state, ret } => {
            text.extend_from_slice(side_name(side).as_bytes());
            if ret == 0 {
                text.extend_from_slice(b":failed in ");
                text.extend_from_slice(state);
            } else if ret < 0 {
                text.extend_from_slice(b":error in ");
                text.extend_from_slice(state);
                text.extend_from_slice(format!(" {ret}").as_bytes());
            } else {
                return None;
            }
        }
    }
    text.push(b'\n');
    Some(text)
}

/// `read from <bio> [<buf>] (<n> bytes => <r> (0x<R>))` — addresses as `%08lX`, the result
/// a `long` as 3.6.1 prints it (`%ld (0x%lX)`: -1 is `0xFFFFFFFFFFFFFFFF`).
fn bio_header(event: &BioEvent<'_>) -> String {
    let result = i64::from(event.result);
    format!(
        "{} {:08X} [{:08X}] ({} bytes => {} (0x{:X}))\n",
        if event.write { "write to" } else { "read from" },
        event.bio_addr,
        event.buf_addr,
        event.requested,
        result,
        result as u64
    )
}

/// The C tool's record dump: trailing spaces/NULs cut and announced, rows of 16 bytes
/// (`|` after the 8th), a short last row padded by three spaces, no ASCII column.
fn dump(data: &[u8]) -> Vec<u8> {
    let kept = data.len()
        - data
            .iter()
            .rev()
            .take_while(|&&b| b == b' ' || b == 0)
            .count();
    let mut text = String::new();
    for (row, bytes) in data[..kept].chunks(16).enumerate() {
        text.push_str(&format!("{:04x} ", row * 16));
        for (i, b) in bytes.iter().enumerate() {
            text.push_str(&format!("{b:02x}{}", if i == 7 { '|' } else { ' ' }));
        }
        if bytes.len() < 16 {
            text.push_str("   ");
        }
        text.push('\n');
    }
    if kept < data.len() {
        text.push_str(&format!("{:04x} - <SPACES/NULS>\n\n", data.len()));
    }
    text.into_bytes()
}

fn line(text: &str) {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    bytes.push(b'\n');
    out(&bytes);
}

/// Every TLS message goes to stdout at once (unbuffered in the C tool); write errors are
/// ignored as `printf` ignores them.
fn out(bytes: &[u8]) {
    crate::transcript::out(bytes);
}

#[cfg(test)]
mod tests;
