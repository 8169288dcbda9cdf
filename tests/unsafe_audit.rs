//! Every `unsafe { ... }` block and `unsafe impl` in src/ carries a `// SAFETY:` reason: in the
//! comment lines right above the line it is on (or at the end of that line).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether this line opens an unsafe block or an unsafe impl (outside a comment).
fn opens_unsafe(line: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    code.contains("unsafe {") || code.trim_start().starts_with("unsafe impl")
}

/// The lines of the file that need a reason and have none: (line number, text).
fn missing_reasons(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut missing = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !opens_unsafe(line) || line.contains("SAFETY:") {
            continue;
        }
        // A statement rustfmt broke before the block (`let x =` / `f(` on the line above)
        // keeps its reason above its first line.
        let mut start = i;
        while start > 0 {
            let above = lines[start - 1].trim_end();
            let continues = ['=', '(', ','].iter().any(|&c| above.ends_with(c));
            if !continues || above.trim_start().starts_with("//") {
                break;
            }
            start -= 1;
        }
        let reason = lines[..start]
            .iter()
            .rev()
            .take_while(|l| l.trim_start().starts_with("//"))
            .any(|l| l.contains("SAFETY:"));
        if !reason {
            missing.push((i + 1, line.trim().to_string()));
        }
    }
    missing
}

#[test]
fn the_check_itself() {
    assert!(missing_reasons("// SAFETY: fine\nlet x = unsafe { f() };\n").is_empty());
    assert!(missing_reasons("// SAFETY: fine\n// more words\nunsafe {\n").is_empty());
    assert!(missing_reasons("unsafe { f() }; // SAFETY: inline\n").is_empty());
    assert_eq!(missing_reasons("let a = 1;\nunsafe { f() };\n").len(), 1);
    assert_eq!(
        missing_reasons("// SAFETY: one\nunsafe { f() };\nunsafe { g() };\n").len(),
        1
    );
    assert_eq!(missing_reasons("unsafe impl Send for X {}\n").len(), 1);
    assert!(missing_reasons("// SAFETY: split\nlet rc =\n    unsafe { f() };\n").is_empty());
    assert_eq!(
        missing_reasons("let a = 1;\nlet rc =\n    unsafe { f() };\n").len(),
        1
    );
    assert!(missing_reasons("// unsafe { in a comment }\nunsafe fn f() {}\n").is_empty());
}

#[test]
fn every_unsafe_block_in_src_has_a_safety_comment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    let mut report = Vec::new();
    let mut blocks = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable source");
        blocks += text.lines().filter(|l| opens_unsafe(l)).count();
        for (n, line) in missing_reasons(&text) {
            let name = file.strip_prefix(root).unwrap_or(file).display();
            report.push(format!("{name}:{n}: {line}"));
        }
    }
    assert!(blocks > 0, "no unsafe blocks found: is the scan broken?");
    assert!(
        report.is_empty(),
        "unsafe without a `// SAFETY:` reason right above:\n{}",
        report.join("\n")
    );
}
