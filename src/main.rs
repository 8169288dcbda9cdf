//! imtest and its siblings: one binary, the protocol taken from the name it was called by
//! (or `-P`). `main` parses the command line, runs the session, and turns the one fatal
//! error type into the C tool's `failure: ...` line and exit status.

mod auth;
mod capabilities;
mod cli;
mod error;
mod ffi;
mod net;
mod options;
mod prompt;
mod protocol;
mod relay;
mod replies;
mod session;
mod socket_mode;
mod stress;
mod tls;
mod transcript;

fn main() {
    ffi::term::unbuffer_stdio();
    let code = match cli::parse(std::env::args_os().collect()) {
        cli::Parsed::Exit(code) => code,
        cli::Parsed::Run(options) => match session::run(&options) {
            Ok(code) => code,
            Err(failure) => {
                transcript::err(format!("{failure}\n").as_bytes());
                1
            }
        },
    };
    std::process::exit(code);
}
