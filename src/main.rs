//! imtest and its siblings: one binary, the protocol taken from the name it was called by
//! (or `-P`). Everything lives in the library; this only hands over argv and exits.
//!
//! The entry is the C `main` itself (glibc's `argc`/`argv`), not std's: the library masks the
//! `-w` password in the process's real argv memory, which only these pointers reach. std's
//! own argument list keeps working (glibc hands it argv through `.init_array`), and the
//! library repeats the start-up std would have done (SIGPIPE ignored, fds 0-2 open).
//! This function is the one place outside `src/ffi/` where `unsafe` is allowed.
// The test harness (`cargo test` builds this file too) brings its own main.
#![cfg_attr(not(test), no_main)]
#![deny(unsafe_code)]

#[cfg(not(test))]
use std::ffi::{c_char, c_int};

#[cfg(not(test))]
#[allow(unsafe_code)]
#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *mut c_char) -> c_int {
    // SAFETY: argc and argv are the C runtime's own, passed to main untouched; nothing else
    // in the process writes to the argv strings.
    let argv = unsafe { imtest::Argv::from_c_main(argc, argv) };
    let code = imtest::run_process(argv);
    // Like std's runtime after main: flush std's stdout, then exit.
    std::process::exit(code)
}
