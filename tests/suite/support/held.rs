//! A session of ours held open once it is authenticated, to look at the process then
//! (`/proc/PID/...`): the one way the secrets and hardening tests do it.

use super::run::{Command, Input, Output};
use super::server::*;
use std::sync::mpsc;
use std::time::Duration;

/// `\0tim\0s3cr3t-Pw` in base64, what [`plain_server`] expects.
pub const PLAIN: &str = "A01 AUTHENTICATE PLAIN AHRpbQBzM2NyM3QtUHc=\r\n";

/// The step that tells `authed` the session got this far.
pub fn tell(authed: mpsc::Sender<()>) -> Step {
    run(move |_| {
        let _ = authed.send(());
        Ok(())
    })
}

/// A server that accepts PLAIN for tim (password `s3cr3t-Pw`), tells `authed` and then holds
/// the session until the client logs out.
pub fn plain_server(authed: mpsc::Sender<()>) -> FakeServer {
    FakeServer::start(vec![vec![
        send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake\r\n"),
        expect_line(PLAIN),
        send("A01 OK done\r\n"),
        tell(authed),
        expect_line("Q01 LOGOUT\r\n"),
        send("* BYE\r\nQ01 OK bye\r\n"),
    ]])
}

/// Starts `command(port)` (ours) with its stdin held open against `server(authed)`; once
/// `authed` is told, `inspect(pid)`; then closes stdin, waits for the run and checks that the
/// server's script was followed.
pub fn when_authed<T>(
    server: impl FnOnce(mpsc::Sender<()>) -> FakeServer,
    command: impl FnOnce(&str) -> Command,
    inspect: impl FnOnce(i32) -> T,
) -> (T, Output) {
    let (authed_tx, authed_rx) = mpsc::channel();
    let server = server(authed_tx);
    let (stdin_tx, stdin_rx) = mpsc::channel::<Vec<u8>>();
    let child = command(&server.port().to_string())
        .stdin(Input::Feed(stdin_rx))
        .spawn();
    authed_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the client authenticated");
    let seen = inspect(child.pid());
    drop(stdin_tx);
    let output = child.wait();
    server.finish().assert_ok();
    (seen, output)
}
