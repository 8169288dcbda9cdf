//! Declared deviations that an edit of the C tool's run cannot say, judged in Rust: a case
//! file names one with `deviate: judge NAME` under its `deviation:` (the reason). Each gets
//! the C tool's and ours' outcomes (normalised) and accepts exactly the declared difference.

use crate::engine::Outcome;
use crate::support::wire::text;

/// A judgement of a declared difference between the C tool's run and ours.
pub type Judge = fn(&Outcome, &Outcome) -> Result<(), String>;

/// The judgement called `name` in a case file.
pub fn by_name(name: &str) -> Option<Judge> {
    Some(match name {
        "http-scram-sha1-logs-in" => http_scram_sha1_logs_in,
        "http-scram-sha1-refused" => http_scram_sha1_refused,
        "c-rejects-h-ours-logs-in" => c_rejects_h_ours_logs_in,
        _ => return None,
    })
}

/// httptest SCRAM-SHA-1 with the right password: 3.6.1 fails on its own base64 handling,
/// ours logs in (master's parsing); the rest of the output is the same up to that point.
fn http_scram_sha1_logs_in(c: &Outcome, ours: &Outcome) -> Result<(), String> {
    scram_sha1_c_failure(c)?;
    if ours.status != 0 || !text(&ours.stdout).contains("\nAuthenticated.\n") {
        return Err("ours did not log in".to_owned());
    }
    same_until_decoding_error(c, ours)
}

/// httptest SCRAM-SHA-1 with a wrong password: 3.6.1 fails on its own base64 handling, ours
/// sends the proof and the server refuses it.
fn http_scram_sha1_refused(c: &Outcome, ours: &Outcome) -> Result<(), String> {
    scram_sha1_c_failure(c)?;
    let stdout = text(&ours.stdout);
    if stdout.contains("base64 decoding error") || stdout.contains("\nAuthenticated.\n") {
        return Err("ours did not end with the server's refusal".to_owned());
    }
    same_until_decoding_error(c, ours)
}

fn scram_sha1_c_failure(c: &Outcome) -> Result<(), String> {
    if !text(&c.stdout)
        .contains("base64 decoding error: -5\nAuthentication failed. generic failure\n")
    {
        return Err("the C tool did not fail with its base64 decoding error".to_owned());
    }
    Ok(())
}

/// Both outputs agree up to where the C tool printed its decoding error.
fn same_until_decoding_error(c: &Outcome, ours: &Outcome) -> Result<(), String> {
    let c_text = text(&c.stdout);
    let at = c_text.find("base64 decoding error").unwrap_or(0);
    if !text(&ours.stdout).starts_with(&c_text[..at]) {
        return Err("ours differs before the C tool's decoding error".to_owned());
    }
    if c.stderr != ours.stderr {
        return Err("stderr differs".to_owned());
    }
    Ok(())
}

/// The C 3.6.1 tool rejects `-H` (usage, exit 1); ours sends the header and logs in.
fn c_rejects_h_ours_logs_in(c: &Outcome, ours: &Outcome) -> Result<(), String> {
    if c.status != 1
        || !text(&c.stderr).contains("invalid option -- 'H'")
        || !text(&c.stdout).starts_with("Usage: imtest")
    {
        return Err("the C tool did not reject -H with its usage text".to_owned());
    }
    if ours.status != 0 || !text(&ours.stdout).contains("\nAuthenticated.\n") {
        return Err("ours did not log in through the HAProxy listener".to_owned());
    }
    Ok(())
}
