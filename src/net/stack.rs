//! The connection stack: a socket (TCP, or UNIX with `--unix`), optionally inside TLS,
//! optionally wrapped by a SASL security layer, optionally compressed — like Cyrus `prot`.
//! One owner reads and writes it (SSL and SASL objects are not safe for concurrent use).
//! Above the layers sits one input buffer that gives lines (the C tool's fixed-size line
//! readers) or raw chunks. With `--read-timeout`, a read that waits too long fails with
//! [`ReadError::TimedOut`].

use super::socket::{self, Socket};
use crate::ffi::memory::wipe;
use crate::ffi::sasl;
use crate::ffi::secret::grow_wiping;
use crate::ffi::sys;
use crate::ffi::zlib::{Deflate, Inflate};
use openssl::ssl::SslStream;
use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::time::Duration;

/// Line-reader sizes of the C tool (buffer size minus the NUL), docs/behaviour.md §1.3.
pub const LINE_MAX: usize = 1023;
pub const SASL_LINE_MAX: usize = 16383;

/// Largest raw read while a SASL layer is on (the C tool decodes at most 4096 at once).
const SASL_READ: usize = 4096;
/// Raw read size otherwise.
const PLAIN_READ: usize = 64 * 1024;

/// Why reading stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The server closed the connection.
    Eof,
    /// Anything else; the text is what `Protection error: ` is followed by.
    Broken(String),
    /// `--read-timeout`: nothing came from the server for this long.
    TimedOut(Duration),
}

enum Transport {
    Plain(Socket),
    Tls(Box<SslStream<Socket>>),
    /// Only while a TLS handshake has the socket.
    Moved,
}

/// A SASL security layer over the transport.
struct SaslLayer {
    conn: Rc<RefCell<sasl::Conn>>,
}

/// The C tool's output buffer size (Cyrus `prot`): with compression or a SASL layer, every
/// full buffer is compressed (with its own sync flush) and encoded as one unit, so the wire
/// bytes depend on this chunking.
const PROT_BUFSIZE: usize = 4096;

pub struct Stack {
    transport: Transport,
    sasl: Option<SaslLayer>,
    deflate: Option<Deflate>,
    inflate: Option<Inflate>,
    /// Plain text received and not yet consumed: `input[consumed..]`.
    input: Vec<u8>,
    consumed: usize,
    /// Plain text written and not yet flushed.
    output: Vec<u8>,
    /// With a layer on: the most plain text one unit carries (`PROT_BUFSIZE`, or less when
    /// the SASL layer's largest buffer is smaller).
    max_plain: usize,
    /// A write error met while flushing a full buffer inside `write`, reported by `flush`.
    write_error: Option<ReadError>,
    /// A read error or EOF seen by the last fill, reported once the buffer is empty.
    ended: Option<ReadError>,
    /// The raw read buffer, allocated once (not per read).
    raw: Vec<u8>,
    /// While `send_units` runs: the layered bytes of each unit, handed to the transport
    /// together at its end.
    held: Option<Vec<u8>>,
    held_buf: Vec<u8>,
    /// `--read-timeout`, set on the socket as its receive timeout.
    read_timeout: Option<Duration>,
}

impl Stack {
    pub fn new(socket: impl Into<Socket>) -> Stack {
        Stack {
            transport: Transport::Plain(socket.into()),
            sasl: None,
            deflate: None,
            inflate: None,
            input: Vec::new(),
            consumed: 0,
            output: Vec::new(),
            max_plain: PROT_BUFSIZE,
            write_error: None,
            ended: None,
            raw: Vec::new(),
            held: None,
            held_buf: Vec::new(),
            read_timeout: None,
        }
    }

    /// `--read-timeout`: every read that waits longer than `timeout` for the server fails
    /// with [`ReadError::TimedOut`]. Without it (the default) the socket is left untouched.
    pub fn set_read_timeout(&mut self, timeout: Duration) -> std::io::Result<()> {
        if let Some(socket) = self.socket() {
            socket.set_read_timeout(Some(timeout))?;
        }
        self.read_timeout = Some(timeout);
        Ok(())
    }

    pub fn read_timeout(&self) -> Option<Duration> {
        self.read_timeout
    }

    /// The socket, for poll(2).
    pub fn fd(&self) -> RawFd {
        match &self.transport {
            Transport::Plain(socket) => socket.as_raw_fd(),
            Transport::Tls(tls) => tls.get_ref().as_raw_fd(),
            Transport::Moved => -1,
        }
    }

    pub fn socket(&self) -> Option<&Socket> {
        match &self.transport {
            Transport::Plain(socket) => Some(socket),
            Transport::Tls(tls) => Some(tls.get_ref()),
            Transport::Moved => None,
        }
    }

    /// Hands the plain socket to a TLS handshake. Pending input stays buffered.
    pub fn take_plain(&mut self) -> Option<Socket> {
        match std::mem::replace(&mut self.transport, Transport::Moved) {
            Transport::Plain(socket) => Some(socket),
            other => {
                self.transport = other;
                None
            }
        }
    }

    /// Puts a socket back (TLS set-up failed before the handshake).
    pub fn restore_plain(&mut self, socket: Socket) {
        self.transport = Transport::Plain(socket);
    }

    /// The TLS connection, when there is one.
    pub fn tls(&self) -> Option<&SslStream<Socket>> {
        match &self.transport {
            Transport::Tls(tls) => Some(tls),
            _ => None,
        }
    }

    /// Everything from now on goes through TLS.
    pub fn set_tls(&mut self, stream: SslStream<Socket>) {
        self.transport = Transport::Tls(Box::new(stream));
    }

    /// After a successful authentication (docs/behaviour.md §5.3): the output buffer takes the SASL
    /// connection's largest buffer as its size, as the C tool's does even without a layer
    /// (it shows when compression is on); with `encode`, everything is also wrapped by the
    /// security layer from now on.
    pub fn adopt_sasl(&mut self, conn: Rc<RefCell<sasl::Conn>>, encode: bool) {
        let _ = self.flush();
        let max_out = conn.borrow().max_out_buf().unwrap_or(0) as usize;
        self.max_plain = if max_out == 0 {
            PROT_BUFSIZE
        } else {
            max_out.min(PROT_BUFSIZE)
        };
        if encode {
            self.sasl = Some(SaslLayer { conn });
        }
    }

    /// Drops the SASL layer and compression (IMAP/Sieve UNAUTHENTICATE).
    pub fn clear_layers(&mut self) {
        self.sasl = None;
        self.deflate = None;
        self.inflate = None;
        self.max_plain = PROT_BUFSIZE;
    }

    /// Starts DEFLATE in both directions (docs/behaviour.md §7.5).
    pub fn start_compression(&mut self) -> Result<(), ReadError> {
        let broken = |_| ReadError::Broken("Error compressing data".into());
        self.flush()?;
        self.deflate = Some(Deflate::new().map_err(broken)?);
        self.inflate = Some(Inflate::new().map_err(broken)?);
        Ok(())
    }

    /// Compression or a SASL layer is on (chunking and flush points show on the wire).
    pub fn has_layers(&self) -> bool {
        self.deflate.is_some() || self.sasl.is_some()
    }

    /// Bytes received and not yet consumed.
    pub fn buffered(&self) -> usize {
        self.input.len() - self.consumed
    }

    /// Bytes OpenSSL has decrypted and not handed out yet; `None` without TLS.
    pub fn tls_pending(&self) -> Option<usize> {
        match &self.transport {
            Transport::Tls(tls) => Some(tls.ssl().pending()),
            _ => None,
        }
    }

    /// Plain text already received or decrypted, so poll(2) on the socket would miss it.
    pub fn has_buffered_plaintext(&self) -> bool {
        self.buffered() > 0 || self.tls_pending().is_some_and(|n| n > 0)
    }

    /// True when a read would find data without waiting: buffered text, TLS records
    /// already decrypted, or bytes waiting on the socket (docs/behaviour.md §1.3 "drain").
    pub fn has_pending(&self) -> bool {
        self.has_buffered_plaintext() || sys::readable_now(self.fd())
    }

    /// Reads one line of at most `max` bytes (ending at `\n` or when `max` is reached),
    /// like prot_fgets. At EOF a partial line is returned; `Ok(None)` = nothing left.
    pub fn read_line(&mut self, max: usize) -> Result<Option<Vec<u8>>, ReadError> {
        loop {
            if let Some(line) = self.buffered_line(max) {
                return Ok(Some(line));
            }
            match self.fill() {
                Ok(()) => {}
                Err(ReadError::Eof) if self.buffered() > 0 => {
                    let n = self.buffered();
                    return Ok(Some(self.consume(n)));
                }
                Err(ReadError::Eof) => return Ok(None),
                Err(err) => return Err(err),
            }
        }
    }

    /// `read_line` on a stream the C tool has switched to non-blocking (its `prot_fgets`
    /// between `prot_NONBLOCK` and `prot_BLOCK`): reads only what arrives without waiting. A
    /// line without its newline comes back as it is once nothing more is there (an HTTP
    /// error page without a final newline, the start of a line sent in the same read as a
    /// STARTTLS reply); `Ok(None)` when nothing at all was there, or at the end of the
    /// connection with nothing buffered.
    pub fn read_line_now(&mut self, max: usize) -> Result<Option<Vec<u8>>, ReadError> {
        loop {
            if let Some(line) = self.buffered_line(max) {
                return Ok(Some(line));
            }
            let more = self.tls_pending().is_some_and(|n| n > 0)
                || (self.ended.is_none() && sys::readable_now(self.fd()));
            let filled = if more {
                self.fill()
            } else {
                Err(ReadError::Eof)
            };
            match filled {
                Ok(()) => {}
                Err(_) if self.buffered() > 0 => {
                    let n = self.buffered();
                    return Ok(Some(self.consume(n)));
                }
                Err(ReadError::Eof) => return Ok(None),
                Err(err) => return Err(err),
            }
        }
    }

    /// A whole line (to its `\n`) or `max` bytes, if the buffer holds that much.
    fn buffered_line(&mut self, max: usize) -> Option<Vec<u8>> {
        let pending = &self.input[self.consumed..];
        let limit = pending.len().min(max);
        if let Some(pos) = crate::bytes::find_byte(b'\n', &pending[..limit]) {
            return Some(self.consume(pos + 1));
        }
        (pending.len() >= max).then(|| self.consume(max))
    }

    /// Reads whatever is available, at most `max` bytes, waiting only if nothing is.
    pub fn read_chunk(&mut self, max: usize) -> Result<Vec<u8>, ReadError> {
        self.read_chunk_with(max, <[u8]>::to_vec)
    }

    /// Like `read_chunk`, but lends the bytes to `use_chunk` instead of copying them out
    /// (the relay's hot path).
    pub fn read_chunk_with<R>(
        &mut self,
        max: usize,
        use_chunk: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, ReadError> {
        while self.buffered() == 0 {
            self.fill()?;
        }
        let n = self.buffered().min(max);
        let result = use_chunk(&self.input[self.consumed..self.consumed + n]);
        self.advance(n);
        Ok(result)
    }

    fn consume(&mut self, n: usize) -> Vec<u8> {
        let taken = self.input[self.consumed..self.consumed + n].to_vec();
        self.advance(n);
        taken
    }

    fn advance(&mut self, n: usize) {
        self.consumed += n;
        if self.consumed == self.input.len() {
            self.input.clear();
            self.consumed = 0;
        }
    }

    /// One raw read, decoded through the layers into `input`. May add nothing (a partial
    /// SASL packet, a TLS record without application data).
    fn fill(&mut self) -> Result<(), ReadError> {
        if let Some(ended) = &self.ended {
            return Err(ended.clone());
        }
        let size = if self.sasl.is_some() {
            SASL_READ
        } else {
            PLAIN_READ
        };
        // One buffer for every read: a fresh zeroed 64 KiB per read cost a memset each.
        let mut raw = std::mem::take(&mut self.raw);
        if raw.len() < PLAIN_READ {
            raw = vec![0u8; PLAIN_READ];
        }
        let result = self.decode_into_input(&mut raw, size);
        self.raw = raw;
        result
    }

    /// `fill` with the raw buffer lent out of `self`.
    fn decode_into_input(&mut self, raw: &mut [u8], size: usize) -> Result<(), ReadError> {
        let n = match self.raw_read(&mut raw[..size]) {
            Ok(0) => {
                self.ended = Some(ReadError::Eof);
                return Err(ReadError::Eof);
            }
            Ok(n) => n,
            Err(err) => {
                self.ended = Some(err.clone());
                return Err(err);
            }
        };
        let raw = &raw[..n];
        let decoded_sasl;
        let decoded: &[u8] = match &self.sasl {
            Some(layer) => {
                let mut conn = layer.conn.borrow_mut();
                match conn.decode(raw) {
                    Ok(data) => {
                        decoded_sasl = data;
                        &decoded_sasl
                    }
                    Err(code) => {
                        let detail = conn.errdetail().unwrap_or_else(|| "no detail".into());
                        let err = ReadError::Broken(format!(
                            "decoding error: {}; {}",
                            sasl::errstring(code),
                            detail
                        ));
                        self.ended = Some(err.clone());
                        return Err(err);
                    }
                }
            }
            None => raw,
        };
        if self.consumed > 0 {
            self.input.drain(..self.consumed);
            self.consumed = 0;
        }
        match &mut self.inflate {
            Some(inflate) => {
                if inflate.decompress(decoded, &mut self.input).is_err() {
                    let err = ReadError::Broken("Error decompressing data".into());
                    self.ended = Some(err.clone());
                    return Err(err);
                }
            }
            None => self.input.extend_from_slice(decoded),
        }
        Ok(())
    }

    fn raw_read(&mut self, buf: &mut [u8]) -> Result<usize, ReadError> {
        loop {
            socket::take_timed_out();
            let result = match &mut self.transport {
                Transport::Plain(socket) => socket.read(buf),
                Transport::Tls(tls) => match tls.ssl_read(buf) {
                    Ok(n) => Ok(n),
                    Err(err) if err.code() == openssl::ssl::ErrorCode::ZERO_RETURN => Ok(0),
                    Err(err) => match err.into_io_error() {
                        // A socket error under TLS is reported as such.
                        Ok(io) => Err(io),
                        // A TLS-level failure (OpenSSL 3's unexpected EOF among them):
                        // the relay sees the end of the connection (docs/behaviour.md §4.4).
                        Err(_) => Ok(0),
                    },
                },
                Transport::Moved => Ok(0),
            };
            // However TLS reported it, a read that ran into the receive timeout is one.
            if let (true, Some(timeout)) = (socket::take_timed_out(), self.read_timeout) {
                return Err(ReadError::TimedOut(timeout));
            }
            match result {
                Ok(n) => return Ok(n),
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(err) => return Err(ReadError::Broken(sys::io_error_text(&err))),
            }
        }
    }

    /// Queues plain text for the server. With a layer on, every time the buffer fills it is
    /// sent as one unit, exactly where the C tool's buffer would send it.
    /// The queue may hold a credential (a LOGIN line, a SASL response): it grows without
    /// leaving a copy behind and is wiped after each flush.
    pub fn write(&mut self, mut data: &[u8]) {
        if !self.has_layers() {
            grow_wiping(&mut self.output, data.len());
            self.output.extend_from_slice(data);
            return;
        }
        while self.output.len() + data.len() >= self.max_plain {
            let room = self.max_plain - self.output.len();
            grow_wiping(&mut self.output, room);
            self.output.extend_from_slice(&data[..room]);
            data = &data[room..];
            if let Err(err) = self.flush() {
                self.write_error.get_or_insert(err);
            }
        }
        grow_wiping(&mut self.output, data.len());
        self.output.extend_from_slice(data);
    }

    /// Sends what was queued through compression, the SASL layer and TLS.
    pub fn flush(&mut self) -> Result<(), ReadError> {
        if let Some(err) = self.write_error.take() {
            wipe(&mut self.output);
            self.output.clear();
            return Err(err);
        }
        if self.output.is_empty() {
            return Ok(());
        }
        // The queue keeps its capacity from one flush to the next (the relay sends 64 KiB
        // at a time); it is empty afterwards whether the send worked or not.
        let mut plain = std::mem::take(&mut self.output);
        let result = self.send_through_layers(&plain);
        wipe(&mut plain);
        plain.clear();
        self.output = plain;
        result
    }

    fn send_through_layers(&mut self, plain: &[u8]) -> Result<(), ReadError> {
        let compressed_buf;
        let compressed: &[u8] = match &mut self.deflate {
            Some(deflate) => {
                let mut out = Vec::with_capacity(plain.len() / 2 + 64);
                deflate
                    .compress_sync(plain, &mut out)
                    .map_err(|_| ReadError::Broken("Error compressing data".into()))?;
                compressed_buf = out;
                &compressed_buf
            }
            None => plain,
        };
        let wire_buf;
        let wire: &[u8] = match &self.sasl {
            Some(layer) => {
                let mut conn = layer.conn.borrow_mut();
                wire_buf = conn.encode(compressed).map_err(|code| {
                    let detail = conn.errdetail().unwrap_or_else(|| "no detail".into());
                    ReadError::Broken(format!(
                        "encoding error: {}; {}",
                        sasl::errstring(code),
                        detail
                    ))
                })?;
                &wire_buf
            }
            None => compressed,
        };
        if let Some(held) = &mut self.held {
            held.extend_from_slice(wire);
            return Ok(());
        }
        self.write_transport(wire)
    }

    fn write_transport(&mut self, wire: &[u8]) -> Result<(), ReadError> {
        let result = match &mut self.transport {
            Transport::Plain(socket) => socket.write_all(wire).and_then(|_| socket.flush()),
            Transport::Tls(tls) => tls.write_all(wire).and_then(|_| tls.flush()),
            Transport::Moved => Ok(()),
        };
        result.map_err(|err| ReadError::Broken(sys::io_error_text(&err)))
    }

    /// `send` for each piece in turn — each is compressed with its own sync flush and
    /// SASL-encoded on its own, exactly as separate sends would do — but the resulting
    /// bytes reach the transport in one write instead of one per piece (under TLS: a few
    /// full records instead of one small record and one send(2) per piece). The byte stream
    /// is the same. Errors as with the last failing `send`.
    pub fn send_units<'a>(
        &mut self,
        pieces: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), ReadError> {
        self.held = Some(std::mem::take(&mut self.held_buf));
        let mut result = Ok(());
        for piece in pieces {
            if let Err(err) = self.send(piece) {
                result = Err(err);
            }
        }
        let mut held = self.held.take().unwrap_or_default();
        if !held.is_empty() {
            if let Err(err) = self.write_transport(&held) {
                result = Err(err);
            }
        }
        held.clear();
        self.held_buf = held;
        result
    }

    /// Queues and flushes.
    pub fn send(&mut self, data: &[u8]) -> Result<(), ReadError> {
        self.write(data);
        self.flush()
    }

    /// Ends the connection as the C tool does at the end of a session: the socket is closed
    /// without a TLS close_notify of our own (the C tool sends one only between `-n`
    /// rounds, see [`Stack::close_between_rounds`]).
    pub fn close(&mut self) {
        if let Some(socket) = self.socket() {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Between `-n` rounds: TLS close_notify (not waited for), so the session can be taken
    /// again, then the socket is closed.
    pub fn close_between_rounds(&mut self) {
        if let Transport::Tls(tls) = &mut self.transport {
            crate::net::tls::Engine::shutdown(tls);
        }
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    /// What the peer receives when `send_some` drives a compressing stack.
    fn wire_of(send_some: impl FnOnce(&mut Stack)) -> Vec<u8> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        let mut stack = Stack::new(client);
        stack.start_compression().unwrap();
        send_some(&mut stack);
        stack.close();
        drop(stack);
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        got
    }

    #[test]
    fn send_units_gives_the_bytes_of_one_send_per_piece() {
        let long = vec![b'x'; 9000];
        let pieces: [&[u8]; 4] = [b"a1 NOOP\r\n", b"", &long, b"a2 NOOP\r\n"];
        let one_by_one = wire_of(|stack| {
            for piece in pieces {
                stack.send(piece).unwrap();
            }
        });
        let together = wire_of(|stack| stack.send_units(pieces).unwrap());
        assert_eq!(together, one_by_one);
        // Each piece ended in its own sync flush: more bytes than one flush for all.
        let single = wire_of(|stack| stack.send(&pieces.concat()).unwrap());
        assert!(one_by_one.len() > single.len());
    }
}
