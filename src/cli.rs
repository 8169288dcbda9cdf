//! STUB — interface only; the real command-line module replaces this file.
#![allow(dead_code, unused_variables)]

use crate::options::Options;
use crate::protocol::Protocol;
use std::ffi::OsString;

/// What `main` does after parsing.
pub enum Parsed {
    Run(Box<Options>),
    /// Everything was already printed (usage, getopt complaints, `failure: ...`).
    Exit(i32),
}

/// Parses argv the C tool's way (spec §2) and runs every check up to the pid file.
pub fn parse(args: Vec<OsString>) -> Parsed {
    todo!()
}

/// The usage text for `prog` speaking `protocol` (spec §2.3).
pub fn usage(prog: &str, protocol: &Protocol) -> String {
    todo!()
}
