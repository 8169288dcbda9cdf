//! The only place with `unsafe`: thin wrappers around C libraries, each with a safe API
//! (among them `secret`, the buffer type that wipes itself with `explicit_bzero`).

pub mod getopt;
pub mod memory;
pub mod process;
pub mod sasl;
pub mod secret;
pub mod sys;
pub mod term;
pub mod tls;
pub mod user;
pub mod zlib;
