//! imtest and its siblings: one binary, the protocol taken from the name it was called by
//! (or `-P`). Everything lives in the library; this only hands over argv and exits.

fn main() {
    std::process::exit(imtest::run(std::env::args_os().collect()));
}
