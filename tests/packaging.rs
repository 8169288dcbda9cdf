//! Packaging: the manual lints clean and documents every option, `make install` lays out the
//! binary, its eight sibling links and the manual pages, and the Debian packages build from
//! the source package of `make dist` with `dpkg-buildpackage` (once per run, with this test's
//! toolchain), unpack with `dpkg -x` and work from the unpacked tree — usage text, `--version`
//! under every name, and real sessions against the throw-away mail lab of `scripts/lab.sh`
//! (`tests/lab`); the switch package's links and diversions are checked as shipped. Installing
//! them for real, next to cyrus-clients, is `scripts/buildd-check.sh`'s job (in a chroot).
//! Nothing here skips: a missing tool fails with the package to install (`make deps`).

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod lab;
// Throw-away directories, shared with the suite.
#[allow(dead_code)]
#[path = "suite/support/tmp.rs"]
mod tmp;
use tmp::TempDir;

const OURS: &str = env!("CARGO_BIN_EXE_imtest");
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The nine program names: imtest, then its eight siblings (links to it).
const NAMES: &str =
    "imtest pop3test smtptest lmtptest sivtest nntptest mupdatetest httptest synctest";
const DEB_BINDIR: &str = "usr/lib/imtest-rs/bin";
const CYRUS_BINDIR: &str = "usr/lib/cyrus/bin";
const DEB_MANDIR: &str = "usr/share/man/man1";

fn siblings() -> impl Iterator<Item = &'static str> {
    NAMES.split(' ').skip(1)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `command` in its own process group with `input` on stdin; after `limit` the whole
/// group is killed and the test fails.
fn run(command: &mut Command, input: &[u8], limit: Duration) -> Output {
    let shown = format!("{command:?}");
    let mut child = command
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin pipe");
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = reader(Box::new(child.stdout.take().expect("stdout pipe")));
    let stderr = reader(Box::new(child.stderr.take().expect("stderr pipe")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.wait();
            panic!("{shown} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = feeder.join();
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Runs a tool that must exist and succeed (else: which Debian package to install).
fn tool(program: &str, args: &[&str], package: &str) -> Output {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install the Debian package `{package}` (make deps)")
        });
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {:?}\n{}{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

/// Rendered manual text without the overstrike (`X\x08X`, `_\x08X`) of bold and underline.
fn plain(bytes: &[u8]) -> String {
    let mut out: Vec<char> = Vec::new();
    for c in text(bytes).chars() {
        if c == '\x08' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out.into_iter().collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every long option name in `src/cli.rs`'s table (`long(c"name", ...)`), and our
/// `--version` (taken in full before getopt, like the other options we add).
fn long_options() -> Vec<String> {
    let source = std::fs::read_to_string(repo().join("src/cli.rs")).expect("read src/cli.rs");
    let mut names: Vec<String> = source
        .split("long(c\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect();
    assert!(names.len() >= 23, "long option table not found: {names:?}");
    names.push("version".to_owned());
    names
}

/// The short options of the C option string (`SHORT_OPTIONS` in `src/cli.rs`).
fn short_options() -> Vec<char> {
    let source = std::fs::read_to_string(repo().join("src/cli.rs")).expect("read src/cli.rs");
    let start = source
        .find("const SHORT_OPTIONS: &str = \"")
        .expect("SHORT_OPTIONS in src/cli.rs")
        + "const SHORT_OPTIONS: &str = \"".len();
    let spec = &source[start..];
    let spec = &spec[..spec.find('"').expect("end of SHORT_OPTIONS")];
    spec.chars().filter(|c| *c != ':').collect()
}

#[test]
fn manual_lints_clean_and_documents_every_option() {
    let man = repo().join("man");
    let page = man.join("imtest.1");
    for name in siblings() {
        let link = man.join(format!("{name}.1"));
        assert_eq!(
            std::fs::read_link(&link).ok(),
            Some(PathBuf::from("imtest.1")),
            "{} must be a symlink to imtest.1",
            link.display()
        );
    }
    let page_arg = page.to_str().expect("utf-8 path");
    let groff = tool("groff", &["-ww", "-man", "-z", page_arg], "groff-base");
    assert_eq!(text(&groff.stderr), "", "groff warnings");
    for name in NAMES.split(' ') {
        let path = man.join(format!("{name}.1"));
        let lint = tool(
            "mandoc",
            &["-T", "lint", path.to_str().expect("utf-8 path")],
            "mandoc",
        );
        assert_eq!(
            text(&lint.stdout) + &text(&lint.stderr),
            "",
            "mandoc -T lint {name}.1"
        );
    }

    // Every option has an entry: the tag line after a `.TP` (or `.TQ`) names it.
    let source = std::fs::read_to_string(&page).expect("read man page");
    let lines: Vec<&str> = source.lines().collect();
    let tags: Vec<&str> = lines
        .windows(2)
        .filter(|pair| pair[0] == ".TP" || pair[0] == ".TQ")
        .map(|pair| pair[1])
        .collect();
    let tagged = |roff: &str| {
        tags.iter().any(|tag| {
            tag.match_indices(roff).any(|(at, _)| {
                matches!(
                    tag[at + roff.len()..].chars().next(),
                    None | Some(' ' | '"' | '=')
                )
            })
        })
    };
    for long in long_options() {
        let roff = format!("\\-\\-{}", long.replace('-', "\\-"));
        assert!(tagged(&roff), "--{long} has no entry in the manual");
    }
    for short in short_options() {
        assert!(
            tagged(&format!("\\-{short}")),
            "-{short} has no entry in the manual"
        );
    }
    for section in include_str!("cases/packaging/expected/man-sections.txt").lines() {
        let bare = section.replace('"', "");
        assert!(
            source.contains(section) || source.contains(&bare),
            "{section} missing"
        );
    }
    // The page names every program it covers.
    for name in NAMES.split(' ') {
        assert!(
            source.contains(&format!(".BR {name} ")),
            "{name} in PROTOCOLS"
        );
    }
}

/// Every regular file, symlink (with target) and directory under `root`, relative, sorted.
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .display()
                .to_string();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).expect("readlink");
                out.push(format!("{rel} -> {}", target.display()));
            } else if meta.is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &path, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

/// What an install of the nine names looks like: `bindir` and `mandir` relative to the root.
fn expected_files(bindir: &str, mandir: &str, man_suffix: &str) -> Vec<String> {
    let mut expected = vec![format!("{bindir}/imtest")];
    expected.extend(siblings().map(|n| format!("{bindir}/{n} -> imtest")));
    expected.push(format!("{mandir}/imtest.1{man_suffix}"));
    expected
        .extend(siblings().map(|n| format!("{mandir}/{n}.1{man_suffix} -> imtest.1{man_suffix}")));
    expected.sort();
    expected
}

/// Checks the nine installed names: `--version` through every link, `-h` is the usage text.
fn check_installed_names(bindir: &Path) {
    let quick = |command: &mut Command| run(command, b"", Duration::from_secs(20));
    for name in NAMES.split(' ') {
        let got = quick(Command::new(bindir.join(name)).arg("--version"));
        assert_eq!(
            (text(&got.stdout), text(&got.stderr), got.status.code()),
            (
                format!("{name} (imtest-rs) {VERSION}\n"),
                String::new(),
                Some(0)
            ),
            "{name} --version"
        );
    }
    let installed = quick(Command::new(bindir.join("imtest")).arg("-h"));
    let reference = quick(Command::new(OURS).arg0("imtest").arg("-h"));
    assert_eq!(installed.status.code(), Some(1));
    assert!(text(&installed.stdout).starts_with("Usage: imtest [options] hostname\n"));
    assert_eq!(text(&installed.stdout), text(&reference.stdout));
}

#[test]
fn make_install_and_uninstall() {
    let scratch = TempDir::new("make-install");
    for (prefix, bindir, mandir) in [
        ("/usr/local", "usr/local/bin", "usr/local/share/man/man1"),
        ("/usr", DEB_BINDIR, DEB_MANDIR),
    ] {
        let destdir = scratch.join(&prefix.trim_start_matches('/').replace('/', "_"));
        let mut args = vec![
            "-s".to_owned(),
            "-C".to_owned(),
            repo().display().to_string(),
            "install".to_owned(),
            format!("DESTDIR={}", destdir.display()),
            format!("PREFIX={prefix}"),
            // The test binary, so that no second cargo build runs inside `cargo test`.
            format!("BIN={OURS}"),
        ];
        if prefix == "/usr" {
            args.push(format!("BINDIR=/{DEB_BINDIR}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tool("make", &args, "make");

        let files: Vec<String> = tree(&destdir)
            .into_iter()
            .filter(|entry| !entry.ends_with('/'))
            .collect();
        assert_eq!(files, expected_files(bindir, mandir, ""), "{prefix}");
        let binary = destdir.join(bindir).join("imtest");
        assert_eq!(
            std::fs::read(&binary).expect("installed binary"),
            std::fs::read(OURS).expect("built binary")
        );
        let mode = std::fs::metadata(&binary)
            .expect("mode")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            std::fs::read(destdir.join(mandir).join("imtest.1")).expect("installed page"),
            std::fs::read(repo().join("man/imtest.1")).expect("page")
        );
        check_installed_names(&destdir.join(bindir));

        // Installing twice is harmless; uninstall removes every file and link.
        tool("make", &args, "make");
        let mut uninstall = args.clone();
        uninstall[3] = "uninstall";
        tool("make", &uninstall, "make");
        let left: Vec<String> = tree(&destdir)
            .into_iter()
            .filter(|entry| !entry.ends_with('/'))
            .collect();
        assert!(left.is_empty(), "left after uninstall: {left:?}");
    }
}

/// Builds the packages the way a distribution does, from the source package of `make dist`
/// (`scripts/dist.sh`, crates from cargo's cache, no network): `dpkg-source -x`, then
/// `dpkg-buildpackage -b` with this test's toolchain first on PATH (debian/rules takes the
/// `cargo` and `rustc` it finds; the Debian 13 toolchain is `make buildd-check`'s job) and a
/// target dir under the test target dir, so that the cache survives between runs. The unit
/// tests are `cargo test`'s job here (`nocheck`). Returns the `.deb`s, by package name.
fn build_debs(work: &Path) -> Vec<(String, PathBuf)> {
    let dist = work.join("dist");
    let source = work.join(format!("imtest-rs-{VERSION}"));
    let _ = std::fs::remove_dir_all(&dist);
    let _ = std::fs::remove_dir_all(&source);
    for entry in std::fs::read_dir(work).expect("read work dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("imtest-rs") && path.is_file() {
            std::fs::remove_file(&path).expect("remove old build output");
        }
    }
    let toolchain = Path::new(env!("CARGO"))
        .parent()
        .expect("cargo's directory");
    let path = format!(
        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        toolchain.display()
    );
    let started = Instant::now();
    let mut command = Command::new(repo().join("scripts/dist.sh"));
    command
        .arg(&dist)
        .env("PATH", &path)
        .env("CARGO_NET_OFFLINE", "true");
    let output = run(&mut command, b"", Duration::from_secs(300));
    assert!(
        output.status.success(),
        "scripts/dist.sh failed:\n{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let dsc = dist.join(format!("imtest-rs_{VERSION}-1.dsc"));
    tool(
        "dpkg-source",
        &[
            "-x",
            dsc.to_str().expect("utf-8"),
            source.to_str().expect("utf-8"),
        ],
        "dpkg-dev",
    );

    // -d: Debian 12 has no cargo >= 1.85 package; the toolchain on PATH stands in for it.
    let mut command = Command::new("dpkg-buildpackage");
    command
        .args(["-us", "-uc", "-b", "-d"])
        .current_dir(&source)
        .env("PATH", &path)
        .env("CARGO_TARGET_DIR", work.join("cargo"))
        .env("DEB_BUILD_OPTIONS", "nocheck")
        .env_remove("CARGO")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("RUSTUP_TOOLCHAIN");
    let output = run(&mut command, b"", Duration::from_secs(600));
    let log = text(&output.stdout) + &text(&output.stderr);
    std::fs::write(work.join("build.log"), &log).expect("write build log");
    assert!(
        output.status.success(),
        "dpkg-buildpackage failed ({:?}; debhelper and dpkg-dev: make deps):\n{log}",
        output.status
    );
    eprintln!(
        "packaging: make dist + dpkg-buildpackage took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut debs: Vec<(String, PathBuf)> = std::fs::read_dir(work)
        .expect("read work dir")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_owned();
            let package = name.strip_suffix(".deb")?.split('_').next()?.to_owned();
            Some((package, p))
        })
        .collect();
    debs.sort();
    let names: Vec<&str> = debs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["imtest-rs", "imtest-rs-cyrus-names", "imtest-rs-dbgsym"],
        "{log}"
    );
    debs
}

#[test]
fn debian_package_builds_unpacks_and_runs() {
    // The lab starts (≈ 4 s) while the package builds.
    let lab_starting = std::thread::spawn(lab::lab);
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("packaging");
    std::fs::create_dir_all(&work).expect("create packaging dir");
    let debs = build_debs(&work);
    let deb_of = |package: &str| {
        debs.iter()
            .find(|(name, _)| name == package)
            .map(|(_, path)| path.to_str().expect("utf-8").to_owned())
            .expect("deb")
    };
    let deb = deb_of("imtest-rs");
    let names_deb = deb_of("imtest-rs-cyrus-names");

    // Control fields: shared-library dependencies from dpkg-shlibdeps; nothing of
    // cyrus-clients replaced (the two install side by side).
    let field = |deb: &str, name: &str| {
        text(&tool("dpkg-deb", &["-f", deb, name], "dpkg").stdout)
            .trim()
            .to_owned()
    };
    assert_eq!(field(&deb, "Package"), "imtest-rs");
    assert_eq!(field(&deb, "Version"), format!("{VERSION}-1"));
    let depends = field(&deb, "Depends");
    for library in ["libc6", "libssl3", "libsasl2-2", "zlib1g"] {
        assert!(depends.contains(library), "Depends: {depends}");
    }
    for relation in ["Conflicts", "Replaces", "Provides", "Breaks"] {
        assert_eq!(field(&deb, relation), "", "{relation}");
        assert_eq!(field(&names_deb, relation), "", "{relation}");
    }
    assert_eq!(
        field(&names_deb, "Depends"),
        format!("imtest-rs (>= {VERSION}-1)")
    );

    let root = TempDir::new("deb-root");
    let root_arg = root.path().to_str().expect("utf-8");
    tool("dpkg", &["-x", &deb, root_arg], "dpkg");
    let files: Vec<String> = tree(root.path())
        .into_iter()
        .filter(|entry| !entry.ends_with('/') && !entry.starts_with("usr/share/doc/"))
        .filter(|entry| !entry.starts_with("usr/share/lintian/"))
        .collect();
    assert_eq!(files, expected_files(DEB_BINDIR, DEB_MANDIR, ".gz"));
    assert!(tree(root.path()).contains(&"usr/share/doc/imtest-rs/copyright".to_owned()));

    // The switch package: the cyrus-clients names as links to ours, diverted in preinst.
    let names_root = TempDir::new("names-root");
    let names_arg = names_root.path().to_str().expect("utf-8");
    tool("dpkg", &["-x", &names_deb, names_arg], "dpkg");
    let links = tree(names_root.path());
    let preinst = text(&tool("dpkg-deb", &["-I", &names_deb, "preinst"], "dpkg").stdout);
    let postrm = text(&tool("dpkg-deb", &["-I", &names_deb, "postrm"], "dpkg").stdout);
    for name in NAMES.split(' ') {
        for (file, target) in [
            (
                format!("{CYRUS_BINDIR}/{name}"),
                format!("../../imtest-rs/bin/{name}"),
            ),
            (
                format!("{DEB_MANDIR}/cyrus-{name}.1.gz"),
                "imtest.1.gz".to_owned(),
            ),
        ] {
            let link = format!("{file} -> {target}");
            assert!(links.contains(&link), "{link} missing: {links:?}");
            for (script, op) in [(&preinst, "add"), (&postrm, "remove")] {
                let line = format!(
                    "dpkg-divert --package imtest-rs-cyrus-names --{op} --rename --divert /{file}.cyrus /{file}\n"
                );
                assert!(script.contains(&line), "{line} missing:\n{script}");
            }
        }
    }

    let bindir = root.join(DEB_BINDIR);
    check_installed_names(&bindir);

    // The packaged manual renders through a sibling's link.
    let page = root.join(DEB_MANDIR).join("sivtest.1.gz");
    let rendered = tool(
        "mandoc",
        &["-T", "utf8", page.to_str().expect("utf-8")],
        "mandoc",
    );
    assert!(plain(&rendered.stdout).contains("DIFFERENCES FROM THE CYRUS C TOOLS"));

    // Real sessions from the unpacked tree against the lab's Dovecot: STARTTLS + SCRAM, a
    // client certificate (EXTERNAL), POP3 over implicit TLS under its own name, a HAProxy header.
    let lab = lab_starting.join().expect("lab start");
    let (user, password) = lab::TIM;
    let port = |name: &str| lab.port(name).to_string();
    let tim_pem = lab.path("tim.pem").display().to_string();
    let session = |program: &str, args: &[String], input: &[u8], reply: &str| {
        let output = run(
            Command::new(bindir.join(program))
                .args(args)
                .arg("127.0.0.1"),
            input,
            Duration::from_secs(30),
        );
        let stdout = text(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{program} {args:?}:\n{stdout}{}",
            text(&output.stderr)
        );
        for expected in ["\nAuthenticated.\n", reply, "Connection closed.\n"] {
            assert!(
                stdout.contains(expected),
                "{program} {args:?}: no {expected:?} in\n{stdout}"
            );
        }
        stdout
    };
    let imap_port = port("IMAP_PORT");
    let login = |before: &[&'static str], port: &str| -> Vec<String> {
        let tail = ["-a", user, "-w", password, "-p", port];
        before.iter().chain(&tail).map(|a| a.to_string()).collect()
    };
    let scram = session(
        "imtest",
        &login(&["-t", "", "-m", "scram-sha-256"], &imap_port),
        b"a1 NOOP\n",
        "a1 OK",
    );
    assert!(scram.contains("C: S01 STARTTLS\r\nS: S01 OK"), "{scram}");
    assert!(scram.contains("\nTLS connection established: "), "{scram}");
    assert!(
        scram.contains("C: A01 AUTHENTICATE SCRAM-SHA-256 "),
        "{scram}"
    );
    let external = session(
        "imtest",
        &["-t", tim_pem.as_str(), "-m", "external", "-p", &imap_port].map(str::to_string),
        b"a1 NOOP\n",
        "a1 OK",
    );
    assert!(
        external.contains("C: A01 AUTHENTICATE EXTERNAL ="),
        "{external}"
    );
    let pop3 = session(
        "pop3test",
        &login(&["-s", "-m", "plain"], &port("POP3S_PORT")),
        b"NOOP\n",
        "C: QUIT\r\n",
    );
    assert!(pop3.contains("\nTLS connection established: "), "{pop3}");
    assert!(pop3.contains("C: AUTH PLAIN "), "{pop3}");
    let haproxy = session(
        "imtest",
        &login(
            &["-H", "192.0.2.7", "-m", "plain"],
            &port("IMAP_HAPROXY_PORT"),
        ),
        b"a1 NOOP\n",
        "a1 OK",
    );
    assert!(haproxy.contains("C: A01 AUTHENTICATE PLAIN "), "{haproxy}");
}
