//! Base64 helpers under their old path, for the test binaries not yet moved into the suite
//! (the suite's engine is `tests/suite/engine.rs`); goes when they move.

#[allow(unused_imports)]
pub use super::wire::{b64decode, b64encode};
