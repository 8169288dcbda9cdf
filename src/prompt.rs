//! The interaction filler (docs/behaviour.md §5.5): answers what libsasl2 (or a built-in login such
//! as IMAP LOGIN) asks for, from `-w`/`-a`/`-u`/`-r` when given, otherwise by prompting on stdout
//! and reading the terminal (no echo) or a line of stdin.
//!
//! Printing of protocol lines and the exchange itself live elsewhere; this only talks to the
//! user.

use crate::ffi::sasl::{PromptKind, PromptRequest, Prompter};
use crate::ffi::secret::Secret;
use crate::ffi::{term, user};

/// Longest echo answer read: the C tool reads with `fgets` into 1023 bytes.
const ECHO_LINE_MAX: usize = 1022;

/// The prompt text the C tool uses for its own password requests (LOGIN, USER, APOP, ...).
pub const PASSWORD_PROMPT: &str = "Please enter your password";

/// Answers from the command line, prompts for the rest.
pub struct CliPrompter {
    /// `-a`, or the current login name (bytes: the C tool passes them on as given).
    pub authname: Vec<u8>,
    /// `-u`.
    pub authzid: Option<Vec<u8>>,
    /// `-w` (bytes, wiped when dropped).
    pub password: Option<Secret>,
    /// `-r`.
    pub realm: Option<Vec<u8>>,
}

/// Where prompts go and answers come from; the real one is the terminal.
trait Console {
    /// Writes `text` to stdout at once.
    fn show(&mut self, text: &[u8]);
    /// A no-echo read (glibc `getpass("")`).
    fn read_hidden(&mut self) -> Secret;
    /// One raw line from stdin, at most `max` bytes, newline included if read.
    fn read_line(&mut self, max: usize) -> Secret;
}

struct Terminal;

impl Console for Terminal {
    fn show(&mut self, text: &[u8]) {
        // Like the C tool's printf, output errors are not reported.
        crate::transcript::out(text);
    }

    fn read_hidden(&mut self) -> Secret {
        term::getpass()
    }

    fn read_line(&mut self, max: usize) -> Secret {
        term::read_echo_line(max)
    }
}

/// The C tool's echo answer: the line as a C string with its last character dropped
/// (meant to be the newline; at end of input without one a real character goes).
fn echo_answer(mut line: Secret) -> Secret {
    line.truncate(crate::bytes::c_str(&line).len());
    line.truncate(line.len().saturating_sub(1));
    line
}

impl CliPrompter {
    fn respond(&self, request: &PromptRequest, console: &mut dyn Console) -> Secret {
        let given: Option<&[u8]> = match request.kind {
            PromptKind::Pass => self.password.as_deref(),
            PromptKind::User => Some(self.authzid.as_deref().unwrap_or_default()),
            PromptKind::AuthName => Some(self.authname.as_slice()),
            PromptKind::GetRealm => self.realm.as_deref(),
            PromptKind::EchoPrompt | PromptKind::NoEchoPrompt => None,
        };
        if let Some(value) = given {
            return Secret::concat(&[value]);
        }
        let challenge_prompt = matches!(
            request.kind,
            PromptKind::EchoPrompt | PromptKind::NoEchoPrompt
        );
        if let (true, Some(challenge)) = (challenge_prompt, request.challenge) {
            console.show(format!("Server challenge: {challenge}\n").as_bytes());
        }
        console.show(format!("{}: ", request.prompt).as_bytes());
        match request.kind {
            PromptKind::Pass | PromptKind::NoEchoPrompt => console.read_hidden(),
            _ => echo_answer(console.read_line(ECHO_LINE_MAX)),
        }
    }
}

impl Prompter for CliPrompter {
    fn answer(&mut self, request: &PromptRequest) -> Secret {
        self.respond(request, &mut Terminal)
    }
}

/// A request that did not come from libsasl2 (the C tool's own LOGIN/USER/APOP/...).
pub fn ask(prompter: &mut dyn Prompter, kind: PromptKind, prompt: &str) -> Secret {
    prompter.answer(&PromptRequest {
        kind,
        challenge: None,
        prompt,
    })
}

/// `-w`, or `Please enter your password: ` and a no-echo read (wiped when dropped).
pub fn password(prompter: &mut dyn Prompter) -> Secret {
    ask(prompter, PromptKind::Pass, PASSWORD_PROMPT)
}

/// The current user's login name (`getpwuid(getuid())`), the default `-a`; empty when the
/// user id has no password entry (where the C tool would crash).
pub fn current_login_name() -> Vec<u8> {
    user::login_name().unwrap_or_default()
}

#[cfg(test)]
mod tests;
