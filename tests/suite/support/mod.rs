//! Test-support layer of the integration suite (`mod support;` in `tests/suite/main.rs`).
//!
//! * [`server`] — scripted fake server on 127.0.0.1:0: one [`server::Script`] (a list of
//!   [`server::Step`]s) per accepted connection, server-side TLS (openssl), a per-connection
//!   [`server::ConnLog`] of `Recv`/`Sent`/`TlsHandshake`/`SaslLayer`/`Closed` events; every
//!   read times out, so nothing hangs.
//! * [`sasl_server`] — in-process libsasl2 server over a `saslpasswd2` sasldb, with the
//!   IMAP `AUTHENTICATE` / `LOGIN` steps, every other protocol's SASL command
//!   ([`sasl_server::proto_auth`] with [`sasl_server::framing`]), SASL over HTTP
//!   ([`sasl_server::http_sasl`]) and SASL security layers.
//! * [`deflate`] — the server side of COMPRESS=DEFLATE ([`server::start_deflate`]).
//! * [`certs`] — throw-away CA, server certificates (CA-signed, self-signed), client
//!   certificates as `-t FILE` PEMs.
//! * [`run`] — runs the C oracle or our binary under a chosen argv[0] (symlink), with stdin
//!   bytes, a live stdin feed, or a pty; hard timeout; no controlling terminal otherwise.
//! * [`held`] — a session of ours held open once authenticated, to look at its `/proc`.
//! * [`tap`] — a recording TCP tap in front of a real server.
//! * [`wire`] — the spec's notation for output and wire logs, base64.
//!
//! The integration suite (`tests/suite/`) builds its engine on these; see `tests/README.md`.

pub mod certs;
pub mod deflate;
pub mod held;
pub mod run;
pub mod sasl_server;
pub mod server;
pub mod tap;
pub mod tmp;
pub mod wire;
