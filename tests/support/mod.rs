//! Test-support layer shared by the integration tests (`mod support;` in each test file).
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
//! * [`differ`] — one byte-exact C-vs-ours check of a command line against a scripted server.
//! * [`run`] — runs the C oracle or our binary under a chosen argv[0] (symlink), with stdin
//!   bytes, a live stdin feed, or a pty; hard timeout; no controlling terminal otherwise.
//! * [`transcript`] — spec §13A cases ([`transcript::Case`]): run the C oracle and ours,
//!   compare with the spec and with each other (`Case::deviation` declares where ours
//!   follows upstream master instead; `TRANSCRIPT_DUMP=1` prints the C tool's run in the
//!   spec's notation); [`wire`] — the spec's notation.
//!
//! ```ignore
//! use support::server::*;
//! use support::transcript::Case;
//!
//! crate::transcript_case!(
//!     a03_cram_md5,                       // → tests a03_cram_md5::oracle and ::ours
//!     Case::new("13A.3", "imtest")
//!         .args(&["-p", "{PORT}", "-a", "tim", "-w", "tanstaaftanstaaf", "127.0.0.1"])
//!         .server(|| vec![vec![           // one script per connection
//!             send("* OK [CAPABILITY IMAP4rev1 AUTH=CRAM-MD5] fake ready\r\n"),
//!             expect_line("A01 AUTHENTICATE CRAM-MD5\r\n"),
//!             send("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+\r\n"),
//!             read_line(),
//!             send("A01 OK done\r\n"),
//!             expect_line("Q01 LOGOUT\r\n"),
//!         ]])
//!         .stdout("S: * OK ...\\r\n...")     // the spec block: `\r` marks CR LF lines
//!         .stderr("(empty)")
//!         .status(0)
//!         .wire("(new TCP connection)\nS->C '...'\nC->S b'...'\n")
//! );
//! ```
#![allow(dead_code)]

pub mod certs;
pub mod deflate;
pub mod differ;
pub mod run;
pub mod sasl_server;
pub mod server;
pub mod tmp;
pub mod transcript;
pub mod wire;
