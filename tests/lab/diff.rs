//! A small line-based unified diff (longest common subsequence), for mismatch reports.
//! Carriage returns are shown as `\r` so CR LF versus LF differences are visible.

/// `diff -u` of `old` and `new` with `context` lines around each change; empty if equal.
pub fn unified(old_label: &str, new_label: &str, old: &str, new: &str, context: usize) -> String {
    if old == new {
        return String::new();
    }
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let ops = edit_script(&a, &b);

    let mut out = format!("--- {old_label}\n+++ {new_label}\n");
    // Indices of ops that are changes; group them into hunks with context.
    let changes: Vec<usize> = (0..ops.len())
        .filter(|&k| !matches!(ops[k], Op::Same(..)))
        .collect();
    let mut k = 0;
    while k < changes.len() {
        let start = changes[k].saturating_sub(context);
        let mut end = changes[k];
        while k < changes.len() && changes[k] <= end + 2 * context + 1 {
            end = changes[k];
            k += 1;
        }
        let end = (end + context + 1).min(ops.len());
        let hunk = &ops[start..end];
        let (a0, b0) = position(&ops[..start]);
        let a_len = hunk.iter().filter(|o| !matches!(o, Op::Insert(_))).count();
        let b_len = hunk.iter().filter(|o| !matches!(o, Op::Delete(_))).count();
        out.push_str(&format!(
            "@@ -{},{a_len} +{},{b_len} @@\n",
            a0 + usize::from(a_len > 0),
            b0 + usize::from(b_len > 0)
        ));
        for op in hunk {
            let (mark, line) = match *op {
                Op::Same(i, _) => (' ', a[i]),
                Op::Delete(i) => ('-', a[i]),
                Op::Insert(j) => ('+', b[j]),
            };
            out.push(mark);
            out.push_str(&show(line));
            out.push('\n');
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Same(usize, usize),
    Delete(usize),
    Insert(usize),
}

/// Lines of `a` and `b` consumed before `ops`.
fn position(ops: &[Op]) -> (usize, usize) {
    ops.iter().fold((0, 0), |(i, j), op| match op {
        Op::Same(..) => (i + 1, j + 1),
        Op::Delete(_) => (i + 1, j),
        Op::Insert(_) => (i, j + 1),
    })
}

fn edit_script(a: &[&str], b: &[&str]) -> Vec<Op> {
    // Common prefix and suffix first: keeps the quadratic part small.
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut ops: Vec<Op> = (0..prefix).map(|i| Op::Same(i, i)).collect();
    if am.len().saturating_mul(bm.len()) > 4_000_000 {
        // Too big to align: everything in the middle changed.
        ops.extend((0..am.len()).map(|i| Op::Delete(prefix + i)));
        ops.extend((0..bm.len()).map(|j| Op::Insert(prefix + j)));
    } else {
        // lcs[i][j] = length of the LCS of am[i..] and bm[j..]
        let (n, m) = (am.len(), bm.len());
        let mut lcs = vec![0u32; (n + 1) * (m + 1)];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * (m + 1) + j] = if am[i] == bm[j] {
                    lcs[(i + 1) * (m + 1) + j + 1] + 1
                } else {
                    lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && am[i] == bm[j] {
                ops.push(Op::Same(prefix + i, prefix + j));
                i += 1;
                j += 1;
            } else if i < n && (j == m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
                ops.push(Op::Delete(prefix + i));
                i += 1;
            } else {
                ops.push(Op::Insert(prefix + j));
                j += 1;
            }
        }
    }
    let (a_tail, b_tail) = (a.len() - suffix, b.len() - suffix);
    ops.extend((0..suffix).map(|k| Op::Same(a_tail + k, b_tail + k)));
    ops
}

/// A line without its `\n`, CR shown as `\r`; a missing final newline is marked.
fn show(line: &str) -> String {
    match line.strip_suffix('\n') {
        Some(body) => body.replace('\r', "\\r"),
        None => format!("{}\\ (no newline at end)", line.replace('\r', "\\r")),
    }
}

/// Self-tests, listed by the suite as `lab::<file>::<name>`.
pub mod self_tests {
    use super::unified;

    pub fn equal_is_empty() {
        assert_eq!(unified("a", "b", "x\ny\n", "x\ny\n", 3), "");
    }

    pub fn one_change_with_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\r\n6\n7\n8\n9\n";
        assert_eq!(
            unified("C", "ours", old, new, 2),
            "--- C\n+++ ours\n@@ -3,5 +3,5 @@\n 3\n 4\n-5\n+five\\r\n 6\n 7\n"
        );
    }

    pub fn insertions_deletions_and_separate_hunks() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
        let new = "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk";
        let d = unified("C", "ours", old, new, 1);
        assert_eq!(
            d,
            "--- C\n+++ ours\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n@@ -10,1 +10,2 @@\n j\n+k\\ (no newline at end)\n"
        );
        assert!(unified("C", "ours", "", "x\n", 3).contains("@@ -0,0 +1,1 @@\n+x\n"));
    }
}
