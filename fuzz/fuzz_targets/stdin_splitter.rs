//! The relay's stdin line splitter: the input is cut into successive reads at 0xFF bytes.
//! The pieces must not depend on how stdin happened to be read, hold no NUL, stay within
//! the C tool's 2046-byte reads (+1 for an added CR), and end a converted line in CR LF.
#![no_main]

use imtest::parsers;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let reads: Vec<&[u8]> = data.split(|&b| b == 0xff).collect();
    let pieces = parsers::stdin_pieces(&reads);
    let whole: Vec<u8> = reads.concat();
    assert_eq!(
        pieces,
        parsers::stdin_pieces(&[&whole]),
        "depends on read sizes"
    );
    for piece in &pieces {
        assert!(piece.len() <= 2047, "piece of {} bytes", piece.len());
        assert!(!piece.contains(&0), "NUL sent");
        if let Some(lf) = piece.iter().position(|&b| b == b'\n') {
            assert_eq!(lf, piece.len() - 1, "LF inside a piece");
        }
    }
    let input_lines = whole.iter().filter(|&&b| b == b'\n').count();
    let sent_lines: usize = pieces.iter().filter(|p| p.ends_with(b"\n")).count();
    // A NUL before a line end cuts the LF off with the rest of the piece.
    assert!(sent_lines <= input_lines, "lines invented");
});
