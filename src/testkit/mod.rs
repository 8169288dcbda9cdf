//! Test fixtures shared by the unit tests and the integration suite (built for `cargo test`
//! and with the `testkit` feature, which the suite's dev-dependency on this package turns on;
//! never in the tool): the in-process libsasl2 server and the throw-away PKI.

pub use crate::ffi::sasl::test_server as sasl;
pub mod pki;
