//! imtest and its siblings: one binary, the protocol taken from the name it was called by.

mod cli;
mod ffi;
mod options;
mod prompt;
mod protocol;
mod tls;

fn main() {
    let code = match cli::parse(std::env::args_os().collect()) {
        cli::Parsed::Exit(code) => code,
        cli::Parsed::Run(_options) => 0,
    };
    std::process::exit(code);
}
