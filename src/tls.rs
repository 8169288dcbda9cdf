//! STUB — interface only; the real TLS module replaces this file.
#![allow(dead_code, unused_variables)]

use openssl::ssl::SslStream;
use std::net::TcpStream;

/// Why a TLS start failed; the C tool's stdout lines were already printed.
#[derive(Debug)]
pub enum Failure {
    /// Context/certificate set-up failed (spec §4.1): the plain socket comes back so the
    /// caller can carry on in clear, as the C tool does after STARTTLS.
    Engine(TcpStream),
    /// Handshake failed (`SSL_connect error <n>`, `SSL session removed` already printed).
    Handshake,
}

/// A finished handshake and what the SASL layer needs from it (spec §4.3).
pub struct Established {
    pub stream: SslStream<TcpStream>,
    /// Cipher bits in use: SASL external SSF.
    pub usebits: u32,
    /// Server certificate subject CN: SASL external auth id (C tool's behaviour).
    pub peer_cn: Option<String>,
    /// tls-unique channel-binding data.
    pub tls_unique: Option<Vec<u8>>,
}

/// One per process: keeps the saved session for resumption in the next `-n` round.
pub struct Engine {}

impl Engine {
    pub fn new(verbose: bool) -> Engine {
        todo!()
    }

    /// Fresh context (client cert from `keyfile` when `Some(non-empty)`), handshake on `tcp`,
    /// prints verify lines and `TLS connection established: ...`.
    pub fn connect(
        &mut self,
        tcp: TcpStream,
        keyfile: Option<&str>,
    ) -> Result<Established, Failure> {
        todo!()
    }
}
