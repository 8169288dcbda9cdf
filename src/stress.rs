//! `-z` (docs/behaviour.md §8.5): IMAP throughput test — ten rounds of CREATE, five APPENDs of
//! growing size sent without waiting for the continuation, DELETE — then `took N seconds`.
//! No logout and no `Connection closed.`, as in the C tool.

use crate::error::Result;
use crate::net::stack::Stack;
use crate::replies;
use crate::transcript;
use std::time::{SystemTime, UNIX_EPOCH};

const MAILBOX: &str = "inbox.imtest";
/// The C tool's header block: every header after the first starts with a space (they are
/// folded continuation lines of `Date:`), kept for identical wire bytes.
const HEADERS: &str = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n From: Fred Foobar <foobar@Blurdybloop.COM>\r\n Subject: afternoon meeting\r\n To: mooch@owatagu.siam.edu\r\n Message-Id: <B27397-0100000@Blurdybloop.COM>\r\n MIME-Version: 1.0\r\n Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n";
const BODY_SIZES: [usize; 5] = [200, 2000, 20000, 200000, 2000000];

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub fn run(stack: &mut Stack) -> Result<i32> {
    let start = now_seconds();
    for _ in 0..10 {
        replies::send(stack, format!("C01 CREATE {MAILBOX}\r\n").as_bytes())?;
        replies::waitfor(stack, &["C01"], true)?;
        for size in BODY_SIZES {
            append(stack, size)?;
        }
        replies::send(stack, format!("D01 DELETE {MAILBOX}\r\n").as_bytes())?;
        replies::waitfor(stack, &["D01"], true)?;
    }
    transcript::message(&format!(
        "took {} seconds",
        now_seconds().saturating_sub(start)
    ));
    Ok(0)
}

fn append(stack: &mut Stack, size: usize) -> Result<()> {
    let mut message = format!(
        "A003 APPEND {MAILBOX} (\\Seen) {{{}}}\r\n{HEADERS}",
        size + HEADERS.len()
    )
    .into_bytes();
    message.reserve(size + 2);
    for _ in 0..size / 10 {
        message.extend_from_slice(b"0123456789");
    }
    message.extend_from_slice(b"\r\n");
    replies::send(stack, &message)?;
    replies::waitfor(stack, &["A003"], true)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::HEADERS;

    #[test]
    fn header_block_is_261_bytes() {
        assert_eq!(HEADERS.len(), 261);
    }
}
