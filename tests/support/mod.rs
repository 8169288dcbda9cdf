//! Test-support layer shared by the integration tests (`mod support;` in each test file):
//! scripted fake servers, an in-process libsasl2 server, a throw-away PKI, process runners
//! (pipes or a pty, hard timeouts) and the transcript-case harness.
#![allow(dead_code)]

pub mod certs;
pub mod run;
pub mod sasl_server;
pub mod server;
pub mod tmp;
pub mod transcript;
pub mod wire;
