//! A scripted fake server on 127.0.0.1 (ephemeral port, one thread). Each accepted connection
//! runs its own list of [`Step`]s; connections are accepted one after another (for `-n N`
//! rounds). Everything the server receives and sends is recorded as [`Event`]s in the spec's
//! granularity (docs/transcripts.md §13A `C->S` / `S->C`), after TLS and SASL layers are removed,
//! so tests can assert the client's bytes exactly.
//!
//! Nothing can hang: reads time out (default 5 s), accepts give up after 10 s or as soon as
//! [`FakeServer::finish`] says the client process is gone, and a failing step closes the
//! connection (so the client sees EOF) and is reported by [`ServerReport::assert_ok`].

use super::certs::{common_name, Identity};
use imtest::testkit::pki::ServerTls;
use openssl::hash::{hash, MessageDigest};
use openssl::nid::Nid;
use openssl::ssl::{HandshakeError, Ssl, SslContext, SslStream, SslVersion};
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Default limit for any single read.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for each connection while the client is still running.
pub const ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);

/// One recorded thing on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Application bytes received from the client (one line, or one read step).
    Recv(Vec<u8>),
    /// Application bytes sent to the client.
    Sent(Vec<u8>),
    /// A completed server-side TLS handshake.
    TlsHandshake {
        /// `SSL_get_version`, e.g. `TLSv1.3`.
        version: String,
        /// OpenSSL cipher name, e.g. `TLS_AES_256_GCM_SHA384`.
        cipher: String,
        /// `SSL_CIPHER_get_version`, e.g. `TLSv1.2`.
        cipher_version: String,
        /// Secret bits of the cipher.
        bits: i32,
        resumed: bool,
    },
    /// A SASL security layer was installed (all later Recv/Sent are the plaintext inside it).
    SaslLayer { ssf: u32 },
    /// COMPRESS=DEFLATE started (all later Recv/Sent are the uncompressed data).
    Deflate,
    /// Bytes read but not interpreted (e.g. a TLS ClientHello nobody answers, or what came in
    /// while the connection was being closed).
    Discarded(Vec<u8>),
    /// The server closed the connection.
    Closed,
    /// Free-form remark from a custom step.
    Note(String),
}

/// What the libsasl2-backed steps found out (see `sasl_server`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthOutcome {
    /// Mechanism named by the client.
    pub mech: String,
    /// `true` when the server answered OK.
    pub ok: bool,
    /// Error text (sasl_errstring + errdetail) when not ok.
    pub error: Option<String>,
    /// The client sent `*`.
    pub cancelled: bool,
    /// `SASL_USERNAME`: the authorization identity the server settled on.
    pub user: Option<String>,
    /// `SASL_AUTHUSER`: the authentication identity.
    pub authuser: Option<String>,
    /// Negotiated SASL SSF (layer strength; 0 = none).
    pub ssf: u32,
}

/// Facts about the TLS session of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    pub version: String,
    pub cipher: String,
    pub bits: i32,
    pub resumed: bool,
    /// RFC 5929 `tls-unique`: the first Finished message of the handshake (the client's on a
    /// full handshake, the server's on resumption).
    pub tls_unique: Vec<u8>,
    /// RFC 9266 `tls-exporter`: 32 bytes exported with label `EXPORTER-Channel-Binding` and
    /// no context.
    pub tls_exporter: Vec<u8>,
    /// RFC 5929 `tls-server-end-point`: SHA-256 of the served certificate (the test PKI signs
    /// with SHA-256, the hash the RFC then takes); empty for any other signature.
    pub tls_server_end_point: Vec<u8>,
    /// CN of the client certificate, if one was presented.
    pub peer_cn: Option<String>,
}

impl TlsInfo {
    /// The channel binding data named `name` (RFC 5929 / RFC 9266), from this side.
    pub fn binding(&self, name: &str) -> Result<Vec<u8>, String> {
        match name {
            "tls-unique" => Ok(self.tls_unique.clone()),
            "tls-exporter" => Ok(self.tls_exporter.clone()),
            "tls-server-end-point" => Ok(self.tls_server_end_point.clone()),
            other => Err(format!("no channel binding named {other:?}")),
        }
    }
}

/// Server-side TLS parameters; the context is built once, so cloning a `TlsConfig` into the
/// scripts of several connections shares its session cache (for resumption tests), while
/// building one per connection gives independent handshakes.
#[derive(Clone)]
pub struct TlsConfig {
    ctx: SslContext,
}

/// Builder for [`TlsConfig`].
pub struct TlsBuilder {
    identity: Identity,
    min: Option<SslVersion>,
    max: Option<SslVersion>,
    session_cache: bool,
    client_cert: bool,
}

impl TlsConfig {
    /// Starts a configuration serving `identity` (leaf + its chain).
    pub fn builder(identity: &Identity) -> TlsBuilder {
        TlsBuilder {
            identity: identity.clone(),
            min: None,
            max: None,
            session_cache: false,
            client_cert: false,
        }
    }

    /// Shorthand: `identity`, no cache, no client certificate, library-default versions.
    pub fn simple(identity: &Identity) -> TlsConfig {
        TlsConfig::builder(identity).build()
    }
}

impl TlsBuilder {
    pub fn max_version(mut self, v: SslVersion) -> Self {
        self.max = Some(v);
        self
    }
    /// Exactly this version.
    pub fn version(mut self, v: SslVersion) -> Self {
        self.min = Some(v);
        self.max_version(v)
    }
    /// Keep a server session-ID cache so that a client offering its saved session on a later
    /// connection is resumed (tickets stay off, so [`Session::forget_tls_session`] works).
    /// Off by default (no cache, no tickets: every handshake is a full one).
    pub fn session_cache(mut self) -> Self {
        self.session_cache = true;
        self
    }
    /// Ask for a client certificate (any certificate is accepted; its CN is recorded).
    pub fn request_client_cert(mut self) -> Self {
        self.client_cert = true;
        self
    }
    pub fn build(self) -> TlsConfig {
        let id = &self.identity;
        let mut tls = ServerTls::new(&id.cert, &id.chain, &id.key)
            .min_version(self.min)
            .max_version(self.max)
            .ignore_unexpected_eof()
            .no_tickets();
        if !self.session_cache {
            tls = tls.no_session_cache();
        }
        if self.client_cert {
            tls = tls.request_client_cert();
        }
        TlsConfig { ctx: tls.context() }
    }
}

/// A script step. Build them with the functions below ([`send`], [`expect_line`], ...).
pub enum Step {
    Send(Vec<u8>),
    /// Read one line (through LF); `Some(x)` asserts it equals `x` exactly.
    ReadLine(Option<Vec<u8>>),
    /// Read exactly N bytes; `Some(x)` asserts their value.
    ReadExact(usize, Option<Vec<u8>>),
    /// Read until the client closes (recorded as Recv).
    ReadToEof,
    /// Read until the client closes (recorded as Discarded).
    DiscardToEof,
    /// Wait for the next bytes from the client, whatever they are (recorded as Discarded):
    /// e.g. a ClientHello the server will not answer.
    DiscardSome,
    Pause(Duration),
    StartTls(TlsConfig),
    /// Raw DEFLATE both ways from here on (after the COMPRESS reply was sent).
    StartDeflate,
    /// Close gracefully: TLS close_notify, FIN, then wait for the client's EOF.
    Close,
    /// Arbitrary code with access to the session.
    Run(RunFn),
}

pub type RunFn = Box<dyn FnOnce(&mut Session) -> Result<(), String> + Send>;
/// The steps of one connection.
pub type Script = Vec<Step>;

pub fn send(data: impl AsRef<[u8]>) -> Step {
    Step::Send(data.as_ref().to_vec())
}
pub fn read_line() -> Step {
    Step::ReadLine(None)
}
pub fn expect_line(line: impl AsRef<[u8]>) -> Step {
    Step::ReadLine(Some(line.as_ref().to_vec()))
}
pub fn read_exact(n: usize) -> Step {
    Step::ReadExact(n, None)
}
pub fn expect_bytes(data: impl AsRef<[u8]>) -> Step {
    let d = data.as_ref().to_vec();
    Step::ReadExact(d.len(), Some(d))
}
pub fn read_to_eof() -> Step {
    Step::ReadToEof
}
pub fn discard_to_eof() -> Step {
    Step::DiscardToEof
}
pub fn discard_some() -> Step {
    Step::DiscardSome
}
pub fn pause_ms(ms: u64) -> Step {
    Step::Pause(Duration::from_millis(ms))
}
pub fn start_tls(cfg: &TlsConfig) -> Step {
    Step::StartTls(cfg.clone())
}
pub fn start_deflate() -> Step {
    Step::StartDeflate
}
pub fn close() -> Step {
    Step::Close
}
pub fn run(f: impl FnOnce(&mut Session) -> Result<(), String> + Send + 'static) -> Step {
    Step::Run(Box::new(f))
}

/// A SASL (or other) security layer between the transport and the application bytes.
pub trait SecurityLayer {
    /// Plaintext → wire bytes (already framed).
    fn encode(&mut self, plain: &[u8]) -> Result<Vec<u8>, String>;
    /// Wire bytes (any split) → whatever plaintext is complete so far.
    fn decode(&mut self, wire: &[u8]) -> Result<Vec<u8>, String>;
}

/// A TCP stream with bytes already read pushed back in front of it.
struct Sock {
    pre: Vec<u8>,
    tcp: TcpStream,
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.pre.is_empty() {
            let n = buf.len().min(self.pre.len());
            buf[..n].copy_from_slice(&self.pre[..n]);
            self.pre.drain(..n);
            return Ok(n);
        }
        self.tcp.read(buf)
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

enum Transport {
    Plain(Sock),
    Tls(Box<SslStream<Sock>>),
    Closed,
}

/// One server-side connection, as seen by the steps.
pub struct Session {
    transport: Transport,
    layer: Option<Box<dyn SecurityLayer>>,
    rbuf: Vec<u8>,
    timeout: Duration,
    stop: Arc<AtomicBool>,
    /// While discarding to EOF, a reset (client closed with our data unread) is just the end.
    reset_is_eof: bool,
    log: ConnLog,
    /// `127.0.0.1;PORT` of the server end.
    pub local: String,
    /// `127.0.0.1;PORT` of the client end.
    pub remote: String,
}

/// `setsockopt` of one option (errors ignored: the options only tune the test server).
fn set_opt<T>(fd: std::os::fd::RawFd, level: libc::c_int, name: libc::c_int, value: &T) {
    // SAFETY: setsockopt on our own open socket with a pointer to a live value and its size.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            value as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as libc::socklen_t,
        );
    }
}

fn io_err(what: &str, e: std::io::Error) -> String {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => format!("{what}: timed out"),
        _ => format!("{what}: {e}"),
    }
}

impl Session {
    fn tcp(&self) -> Option<&TcpStream> {
        match &self.transport {
            Transport::Plain(s) => Some(&s.tcp),
            Transport::Tls(s) => Some(&s.get_ref().tcp),
            Transport::Closed => None,
        }
    }

    /// Acknowledges received segments at once (Linux `TCP_QUICKACK`, which the kernel resets
    /// after each use). Without it, a client that writes a small tail right after a large
    /// write (the `-z` literals) waits for our delayed ACK (Nagle) on every round trip.
    fn quick_ack(&self) {
        use std::os::fd::AsRawFd;
        if let Some(tcp) = self.tcp() {
            set_opt(tcp.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_QUICKACK, &1);
        }
    }

    /// Changes the per-read timeout for the rest of this connection.
    pub fn set_timeout(&mut self, t: Duration) {
        self.timeout = t;
        if let Some(tcp) = self.tcp() {
            let _ = tcp.set_read_timeout(Some(t));
        }
    }

    /// Reads more from the transport into the plaintext buffer. `Ok(false)` = EOF.
    fn fill(&mut self) -> Result<bool, String> {
        let mut buf = vec![0u8; 65536];
        loop {
            self.quick_ack();
            let r = match &mut self.transport {
                Transport::Plain(s) => s.read(&mut buf),
                Transport::Tls(s) => s.read(&mut buf),
                Transport::Closed => return Ok(false),
            };
            let n = match r {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::ConnectionReset && self.reset_is_eof => {
                    return Ok(false)
                }
                Err(e) => {
                    return Err(io_err(
                        &format!(
                            "read (after {:?} buffered)",
                            String::from_utf8_lossy(&self.rbuf)
                        ),
                        e,
                    ))
                }
            };
            if n == 0 {
                return Ok(false);
            }
            match &mut self.layer {
                Some(l) => {
                    let d = l.decode(&buf[..n])?;
                    self.rbuf.extend_from_slice(&d);
                }
                None => self.rbuf.extend_from_slice(&buf[..n]),
            }
            return Ok(true);
        }
    }

    /// Reads one line up to and including LF (recorded as Recv).
    pub fn read_line(&mut self) -> Result<Vec<u8>, String> {
        loop {
            if let Some(i) = self.rbuf.iter().position(|&b| b == b'\n') {
                let rest = self.rbuf.split_off(i + 1);
                let line = std::mem::replace(&mut self.rbuf, rest);
                self.log.events.push(Event::Recv(line.clone()));
                return Ok(line);
            }
            if self.rbuf.len() > 64 * 1024 * 1024 {
                return Err("line longer than 64 MiB".into());
            }
            if !self.fill()? {
                return Err(format!(
                    "client closed the connection while a line was expected (partial: {:?})",
                    String::from_utf8_lossy(&self.rbuf)
                ));
            }
        }
    }

    /// Reads exactly `n` bytes (recorded as Recv).
    pub fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, String> {
        while self.rbuf.len() < n {
            if !self.fill()? {
                return Err(format!(
                    "client closed the connection after {} of {n} expected bytes",
                    self.rbuf.len()
                ));
            }
        }
        let rest = self.rbuf.split_off(n);
        let d = std::mem::replace(&mut self.rbuf, rest);
        self.log.events.push(Event::Recv(d.clone()));
        Ok(d)
    }

    /// Reads until EOF. Returns everything (recorded as Recv, or as Discarded; what arrived
    /// is recorded even if the read then fails).
    pub fn read_to_eof(&mut self, discard: bool) -> Result<Vec<u8>, String> {
        self.reset_is_eof = discard;
        let r = loop {
            match self.fill() {
                Ok(true) => {}
                Ok(false) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.reset_is_eof = false;
        let d: Vec<u8> = std::mem::take(&mut self.rbuf);
        if !d.is_empty() {
            self.log.events.push(if discard {
                Event::Discarded(d.clone())
            } else {
                Event::Recv(d.clone())
            });
        }
        r.map(|_| d)
    }

    /// Waits for at least one more byte and discards everything buffered (recorded).
    pub fn discard_some(&mut self) -> Result<Vec<u8>, String> {
        if self.rbuf.is_empty() && !self.fill()? {
            return Err("client closed the connection while data was expected".into());
        }
        let d: Vec<u8> = std::mem::take(&mut self.rbuf);
        self.log.events.push(Event::Discarded(d.clone()));
        Ok(d)
    }

    /// Sends application bytes (through TLS / the security layer if installed).
    pub fn send(&mut self, data: &[u8]) -> Result<(), String> {
        let wire = match &mut self.layer {
            Some(l) => l.encode(data)?,
            None => data.to_vec(),
        };
        let r = match &mut self.transport {
            Transport::Plain(s) => s.write_all(&wire).and_then(|_| s.flush()),
            Transport::Tls(s) => s.write_all(&wire).and_then(|_| s.flush()),
            Transport::Closed => return Err("send on a closed connection".into()),
        };
        r.map_err(|e| io_err("write", e))?;
        self.log.events.push(Event::Sent(data.to_vec()));
        Ok(())
    }

    /// Server side of a TLS handshake on the current connection.
    pub fn start_tls(&mut self, cfg: &TlsConfig) -> Result<(), String> {
        if self.layer.is_some() {
            return Err("TLS inside a SASL layer is not supported".into());
        }
        let mut sock = match std::mem::replace(&mut self.transport, Transport::Closed) {
            Transport::Plain(s) => s,
            Transport::Tls(_) => return Err("TLS already active".into()),
            Transport::Closed => return Err("connection closed".into()),
        };
        let mut pre = std::mem::take(&mut self.rbuf);
        pre.append(&mut sock.pre);
        sock.pre = pre;
        let ssl = Ssl::new(&cfg.ctx).map_err(|e| format!("Ssl::new: {e}"))?;
        let stream = match ssl.accept(sock) {
            Ok(s) => s,
            Err(HandshakeError::Failure(mid)) => {
                let e = format!("TLS handshake failed: {}", mid.error());
                self.keep_plain(mid.get_ref());
                return Err(e);
            }
            Err(HandshakeError::WouldBlock(mid)) => {
                self.keep_plain(mid.get_ref());
                return Err("TLS handshake timed out".into());
            }
            Err(HandshakeError::SetupFailure(e)) => return Err(format!("TLS setup: {e}")),
        };
        let ssl = stream.ssl();
        let cipher = ssl.current_cipher().ok_or("no cipher after handshake")?;
        let resumed = ssl.session_reused();
        let mut fin = [0u8; 128];
        let n = if resumed {
            ssl.finished(&mut fin)
        } else {
            ssl.peer_finished(&mut fin)
        };
        let info = TlsInfo {
            version: ssl.version_str().to_string(),
            cipher: cipher.name().to_string(),
            bits: cipher.bits().secret,
            resumed,
            tls_unique: fin[..n.min(fin.len())].to_vec(),
            tls_exporter: {
                let mut out = vec![0u8; 32];
                ssl.export_keying_material(&mut out, "EXPORTER-Channel-Binding", None)
                    .map_err(|e| format!("tls-exporter: {e}"))?;
                out
            },
            tls_server_end_point: ssl
                .certificate()
                .filter(|c| c.signature_algorithm().object().nid() == Nid::SHA256WITHRSAENCRYPTION)
                .and_then(|c| c.to_der().ok())
                .map(|der| hash(MessageDigest::sha256(), &der).map(|d| d.to_vec()))
                .transpose()
                .map_err(|e| format!("tls-server-end-point: {e}"))?
                .unwrap_or_default(),
            peer_cn: ssl.peer_certificate().and_then(|c| common_name(&c)),
        };
        self.log.events.push(Event::TlsHandshake {
            version: info.version.clone(),
            cipher: info.cipher.clone(),
            cipher_version: cipher.version().to_string(),
            bits: info.bits,
            resumed,
        });
        self.log.tls = Some(info);
        self.transport = Transport::Tls(Box::new(stream));
        Ok(())
    }

    /// After a failed handshake: keep the bare socket so the connection can still be closed.
    fn keep_plain(&mut self, sock: &Sock) {
        if let Ok(tcp) = sock.tcp.try_clone() {
            self.transport = Transport::Plain(Sock {
                pre: Vec::new(),
                tcp,
            });
        }
    }

    /// Removes this connection's TLS session from the server's session cache, so a client
    /// offering it later gets a full handshake (emulates servers that do not resume twice).
    /// Only meaningful with [`TlsBuilder::session_cache`] (which disables tickets).
    pub fn forget_tls_session(&mut self) -> Result<(), String> {
        let Transport::Tls(s) = &self.transport else {
            return Err("no TLS session to forget".into());
        };
        let ssl = s.ssl();
        let sess = ssl.session().ok_or("TLS connection without a session")?;
        // SAFETY: the session belongs to this live connection and the context is the one it
        // was cached in; SSL_CTX_remove_session only unlinks it from that cache.
        unsafe {
            ssl.ssl_context().remove_session(sess);
        }
        self.note("TLS session removed from the server cache");
        Ok(())
    }

    /// The TLS facts of this connection, once a handshake completed.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.log.tls.as_ref()
    }

    /// Installs a security layer for all following traffic (records `SaslLayer`).
    pub fn set_layer(&mut self, layer: Box<dyn SecurityLayer>, ssf: u32) -> Result<(), String> {
        self.install_layer(layer, Event::SaslLayer { ssf })
    }

    /// Starts raw DEFLATE in both directions (records `Deflate`).
    pub fn start_deflate(&mut self) -> Result<(), String> {
        if self.layer.is_some() {
            return Err("DEFLATE inside another layer is not supported".into());
        }
        let layer = super::deflate::DeflateLayer::new()?;
        self.install_layer(Box::new(layer), Event::Deflate)
    }

    fn install_layer(&mut self, layer: Box<dyn SecurityLayer>, event: Event) -> Result<(), String> {
        // Bytes that arrived together with the last clear-text line already belong to the layer.
        let pending = std::mem::take(&mut self.rbuf);
        self.layer = Some(layer);
        self.log.events.push(event);
        if !pending.is_empty() {
            let d = self.layer.as_mut().map(|l| l.decode(&pending)).unwrap()?;
            self.rbuf = d;
        }
        Ok(())
    }

    /// Records an authentication result.
    pub fn record_auth(&mut self, outcome: AuthOutcome) {
        self.log.auth.push(outcome);
    }

    /// Adds a free-form note to the event log.
    pub fn note(&mut self, text: impl Into<String>) {
        self.log.events.push(Event::Note(text.into()));
    }

    /// Abortive close: `SO_LINGER` 0, so the client gets a connection reset (RST) instead of
    /// an orderly end of stream. Recorded as a note.
    pub fn reset(&mut self) {
        use std::os::fd::AsRawFd;
        let Some(fd) = self.tcp().map(|tcp| tcp.as_raw_fd()) else {
            return;
        };
        let transport = std::mem::replace(&mut self.transport, Transport::Closed);
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        set_opt(fd, libc::SOL_SOCKET, libc::SO_LINGER, &linger);
        drop(transport);
        self.note("connection reset");
    }

    /// Graceful close: close_notify (TLS), FIN, then read (discarding) until the client's EOF,
    /// so no unread data turns our close into a RST that could eat the client's last reads.
    pub fn close(&mut self) {
        let transport = std::mem::replace(&mut self.transport, Transport::Closed);
        let tcp = match transport {
            Transport::Plain(s) => s.tcp,
            Transport::Tls(mut s) => {
                let _ = s.shutdown();
                let Sock { tcp, .. } = s.get_ref();
                match tcp.try_clone() {
                    Ok(t) => t,
                    Err(_) => return,
                }
            }
            Transport::Closed => return,
        };
        let _ = tcp.shutdown(Shutdown::Write);
        self.log.events.push(Event::Closed);
        let deadline = Instant::now() + Duration::from_secs(3);
        let _ = tcp.set_read_timeout(Some(Duration::from_millis(20)));
        let mut tcp = tcp;
        let mut junk = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            match tcp.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => junk.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if self.stop.load(Ordering::SeqCst) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        if !junk.is_empty() {
            self.log.events.push(Event::Discarded(junk));
        }
    }
}

/// Everything recorded on one connection.
#[derive(Debug, Clone, Default)]
pub struct ConnLog {
    pub events: Vec<Event>,
    /// Why the script stopped early, if it did.
    pub error: Option<String>,
    pub auth: Vec<AuthOutcome>,
    pub tls: Option<TlsInfo>,
}

impl ConnLog {
    /// All received application bytes, concatenated.
    pub fn received(&self) -> Vec<u8> {
        self.received_pieces().concat()
    }

    /// The received application data split into the recorded pieces (one per read step).
    pub fn received_pieces(&self) -> Vec<Vec<u8>> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Recv(b) => Some(b.clone()),
                _ => None,
            })
            .collect()
    }
}

/// The server's record of a whole run.
#[derive(Debug, Clone, Default)]
pub struct ServerReport {
    pub conns: Vec<ConnLog>,
    /// Server-level problem (e.g. an expected connection never came).
    pub error: Option<String>,
}

impl ServerReport {
    /// All errors (server-level and per-connection), as text.
    pub fn errors(&self) -> Vec<String> {
        let mut v: Vec<String> = self.error.iter().cloned().collect();
        for (i, c) in self.conns.iter().enumerate() {
            if let Some(e) = &c.error {
                v.push(format!("connection {}: {e}", i + 1));
            }
        }
        v
    }

    /// Panics with the errors and the wire log if any step failed.
    pub fn assert_ok(&self) {
        let errs = self.errors();
        if !errs.is_empty() {
            panic!(
                "fake server script failed:\n  {}\nwire so far:\n{}",
                errs.join("\n  "),
                super::wire::render_wire(&super::wire::wire_items(&self.conns))
            );
        }
    }

    /// The single authentication outcome of the whole run (panics unless exactly one).
    pub fn auth(&self) -> &AuthOutcome {
        let all: Vec<&AuthOutcome> = self.conns.iter().flat_map(|c| c.auth.iter()).collect();
        assert_eq!(
            all.len(),
            1,
            "expected exactly one authentication, got {all:?}"
        );
        all[0]
    }
}

/// A running fake server.
pub struct FakeServer {
    port: u16,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<ServerReport>>,
}

impl FakeServer {
    /// Listens on 127.0.0.1:0 and serves `scripts[i]` to the i-th connection.
    pub fn start(scripts: Vec<Script>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::Builder::new()
            .name(format!("fake-server-{port}"))
            .spawn(move || serve(listener, scripts, stop2))
            .expect("spawn server thread");
        FakeServer {
            port,
            stop,
            handle: Some(handle),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Tells the server the client is gone (no more connections will come; pending reads end
    /// at EOF) and returns the record.
    pub fn finish(mut self) -> ServerReport {
        self.stop.store(true, Ordering::SeqCst);
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(p)) => ServerReport {
                error: Some(format!("server thread panicked: {}", panic_text(&p))),
                ..Default::default()
            },
            None => ServerReport::default(),
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "?".into())
}

fn accept(listener: &TcpListener, stop: &AtomicBool) -> Result<TcpStream, String> {
    let deadline = Instant::now() + ACCEPT_TIMEOUT;
    loop {
        match listener.accept() {
            Ok((s, _)) => return Ok(s),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if stop.load(Ordering::SeqCst) {
                    return Err("the client finished without opening this connection".into());
                }
                if Instant::now() > deadline {
                    return Err(format!("no connection within {ACCEPT_TIMEOUT:?}"));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("accept: {e}")),
        }
    }
}

fn serve(listener: TcpListener, scripts: Vec<Script>, stop: Arc<AtomicBool>) -> ServerReport {
    let mut report = ServerReport::default();
    for (i, script) in scripts.into_iter().enumerate() {
        let tcp = match accept(&listener, &stop) {
            Ok(t) => t,
            Err(e) => {
                report.error = Some(format!("connection {}: {e}", i + 1));
                break;
            }
        };
        let _ = tcp.set_nonblocking(false);
        let _ = tcp.set_read_timeout(Some(READ_TIMEOUT));
        let _ = tcp.set_nodelay(true);
        let addr = |a: std::io::Result<std::net::SocketAddr>| {
            a.map(|a| format!("{};{}", a.ip(), a.port()))
                .unwrap_or_default()
        };
        let mut session = Session {
            local: addr(tcp.local_addr()),
            remote: addr(tcp.peer_addr()),
            transport: Transport::Plain(Sock {
                pre: Vec::new(),
                tcp,
            }),
            layer: None,
            rbuf: Vec::new(),
            timeout: READ_TIMEOUT,
            stop: stop.clone(),
            reset_is_eof: false,
            log: ConnLog::default(),
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_script(&mut session, script)
        }));
        let failed = match result {
            Ok(Ok(())) => {
                session.close();
                false
            }
            Ok(Err(e)) => {
                session.log.error = Some(e);
                true
            }
            Err(p) => {
                session.log.error = Some(format!("step panicked: {}", panic_text(&p)));
                true
            }
        };
        if failed {
            // Abrupt close: the client must not wait for anything else.
            session.layer = None;
            session.transport = Transport::Closed;
            session.log.events.push(Event::Closed);
        }
        report.conns.push(std::mem::take(&mut session.log));
        if failed {
            break;
        }
    }
    report
}

fn run_script(s: &mut Session, script: Script) -> Result<(), String> {
    let mut steps: VecDeque<Step> = script.into();
    let mut n = 0;
    while let Some(step) = steps.pop_front() {
        n += 1;
        let ctx = |e: String| format!("step {n}: {e}");
        match step {
            Step::Send(d) => s.send(&d).map_err(ctx)?,
            Step::ReadLine(expect) => {
                let line = s.read_line().map_err(ctx)?;
                expected("line", expect, &line).map_err(ctx)?;
            }
            Step::ReadExact(len, expect) => {
                let d = s.read_exact(len).map_err(ctx)?;
                expected("bytes", expect, &d).map_err(ctx)?;
            }
            Step::ReadToEof => s.read_to_eof(false).map(drop).map_err(ctx)?,
            Step::DiscardToEof => s.read_to_eof(true).map(drop).map_err(ctx)?,
            Step::DiscardSome => s.discard_some().map(drop).map_err(ctx)?,
            Step::Pause(d) => std::thread::sleep(d),
            Step::StartTls(cfg) => s.start_tls(&cfg).map_err(ctx)?,
            Step::StartDeflate => s.start_deflate().map_err(ctx)?,
            Step::Close => {
                s.close();
                return Ok(());
            }
            Step::Run(f) => f(s).map_err(ctx)?,
        }
    }
    Ok(())
}

/// A read step's check: what was read is what the step expects, if it expects anything.
fn expected(what: &str, want: Option<Vec<u8>>, got: &[u8]) -> Result<(), String> {
    match want {
        Some(x) if x != got => Err(format!(
            "expected {what} {:?}, got {:?}",
            String::from_utf8_lossy(&x),
            String::from_utf8_lossy(got)
        )),
        _ => Ok(()),
    }
}
