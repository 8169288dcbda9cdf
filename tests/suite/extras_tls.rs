//! The opt-in TLS options whose check needs Rust (the rest are case files:
//! `tests/cases/lab/extras/tls/` against the lab, `tests/cases/extras/tls/` against fake
//! servers):
//!
//! * against the lab (`scripts/lab.sh`: Dovecot and Postfix with the lab CA): `--capath` (a
//!   hashed directory made here), `--servername` and `--show-cert` (the lab's certificates are
//!   made per lab, so the printed chain is compared with them), `--no-plaintext-fallback`
//!   against Postfix refusing STARTTLS (its log shows no AUTH).
//!
//! `--cb` is case files too (`sasl-auth imap cb NAME`: the libsasl2 server binds to its own
//! side of the TLS session).

use crate::support::run::words;
use crate::support::run::{Command, Imp, Output};
use crate::support::wire::text;
use openssl::x509::X509;
use std::time::Duration;

const RUN_TIMEOUT: Duration = Duration::from_secs(10);
const TIM: [&str; 4] = ["-a", "tim", "-w", "tanstaaftanstaaf"];

// --- running against the lab --------------------------------------------------------------

/// Runs `tool` as `name` against the lab, its arguments filled by the engine (`{LAB:NAME}`,
/// `{LABDIR}`); the protocol's usual stdin line.
fn run_as(tool: Imp, name: &str, args: &[&str]) -> Output {
    let vars = crate::engine::Vars::default();
    let args: Vec<String> = args.iter().map(|a| crate::engine::fill(a, &vars)).collect();
    let stdin: &[u8] = if name == "imtest" {
        b"a1 NOOP\n"
    } else {
        b"NOOP\n"
    };
    Command::new(tool, name)
        .args(&args)
        .stdin_bytes(stdin)
        .timeout(RUN_TIMEOUT)
        .run_lab()
}

fn ours(name: &str, args: &[&str]) -> Output {
    run_as(Imp::Ours, name, args)
}

fn with_tim<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.splice(all.len() - 1..all.len() - 1, TIM);
    all
}

fn has_line(bytes: &[u8], line: &str) -> bool {
    text(bytes).lines().any(|l| l == line)
}

fn assert_success(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "{}", o.describe());
    assert!(o.stderr.is_empty(), "{}", o.describe());
    assert!(has_line(&o.stdout, "Authenticated."), "{}", o.describe());
}

/// A run that `--verify` stopped: the failure line, no established line, status 1 (3 with
/// `--exit-status`).
fn assert_verify_failure(o: &Output, status: i32, reason: &str, name: &str) {
    assert_eq!(
        text(&o.stderr),
        format!("failure: TLS certificate verification failed: {reason} (server name '{name}')\n"),
        "{}",
        o.describe()
    );
    assert_eq!(o.status.code(), Some(status), "{}", o.describe());
    assert!(
        !text(&o.stdout).contains("TLS connection established"),
        "{}",
        o.describe()
    );
    assert!(!text(&o.stdout).contains("S: "), "{}", o.describe());
}

// --- --verify, --cafile, --capath -------------------------------------------------------------

fn capath_is_a_trust_store_too() {
    // A hashed directory holding only the lab CA.
    let dir = std::env::temp_dir().join(format!("imtest-capath-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = std::fs::read(crate::lab::lab().path("ca.pem")).unwrap();
    let cert = X509::from_pem(&ca).unwrap();
    let subject_hash = {
        // OpenSSL's `-subject_hash`: the file name OpenSSL looks for in a CA directory.
        let out = std::process::Command::new("openssl")
            .args(words("x509 -noout -subject_hash -in"))
            .arg(crate::lab::lab().path("ca.pem"))
            .output()
            .expect("openssl x509");
        text(&out.stdout).trim().to_owned()
    };
    std::fs::write(
        dir.join(format!("{subject_hash}.0")),
        cert.to_pem().unwrap(),
    )
    .unwrap();
    let dir_text = dir.to_string_lossy().into_owned();
    let mut args = words("-s -p {LAB:IMAPS_PORT} -m plain --capath");
    args.extend([dir_text.as_str(), "127.0.0.1"]);
    let ok = ours("imtest", &with_tim(&args));
    let _ = std::fs::remove_dir_all(&dir);
    assert_success(&ok);
}

// --- --servername ----------------------------------------------------------------------------

/// The `subject:` lines of `--show-cert` output.
fn subjects(o: &Output) -> Vec<String> {
    text(&o.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("  subject: ").map(str::to_owned))
        .collect()
}

fn servername_sends_sni_and_is_the_name_checked() {
    let base = words("-s -p {LAB:IMAPS_PORT} -m plain --show-cert --cafile {LABDIR}/ca.pem");
    let mut args = base.to_vec();
    args.extend_from_slice(&["--servername", "sni.example", "127.0.0.1"]);
    let sni = ours("imtest", &with_tim(&args));
    assert_success(&sni);
    assert_eq!(subjects(&sni)[0], "CN=sni.example", "{}", sni.describe());

    // Without SNI (the C tool's way) Dovecot serves its default certificate.
    let mut args = base.to_vec();
    args.push("127.0.0.1");
    let plain = ours("imtest", &with_tim(&args));
    assert_success(&plain);
    assert_eq!(subjects(&plain)[0], "CN=localhost", "{}", plain.describe());

    // A name the served certificate does not carry.
    let mut args = base.to_vec();
    args.extend_from_slice(&["--servername", "other.example", "127.0.0.1"]);
    let wrong = ours("imtest", &with_tim(&args));
    assert_eq!(subjects(&wrong)[0], "CN=localhost", "{}", wrong.describe());
    assert!(
        has_line(&wrong.stdout, "verify error:num=62:hostname mismatch"),
        "{}",
        wrong.describe()
    );
    assert_verify_failure(&wrong, 1, "hostname mismatch", "other.example");
}

fn servername_without_verify_only_changes_sni() {
    // The name is not checked without --verify: the C tool's verify line, and on we go.
    let o = ours(
        "imtest",
        &with_tim(&words(
            "-s -p {LAB:IMAPS_PORT} -m plain --show-cert --servername sni.example 127.0.0.1",
        )),
    );
    assert_success(&o);
    assert_eq!(subjects(&o)[0], "CN=sni.example", "{}", o.describe());
    assert!(has_line(
        &o.stdout,
        "verify error:num=19:self-signed certificate in certificate chain"
    ));
}

// --- --show-cert -------------------------------------------------------------------------------

/// The PEM blocks of `text`, parsed.
fn pem_certificates(text: &str) -> Vec<X509> {
    let mut certs = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let end_marker = "-----END CERTIFICATE-----\n";
        let end = rest[start..].find(end_marker).expect("PEM end") + start + end_marker.len();
        certs.push(X509::from_pem(&rest.as_bytes()[start..end]).expect("PEM parses"));
        rest = &rest[end..];
    }
    certs
}

fn show_cert_prints_the_chain() {
    let lab = crate::lab::lab();
    let o = ours(
        "imtest",
        &with_tim(&words(
            "-s -p {LAB:IMAPS_PORT} -m plain --show-cert 127.0.0.1",
        )),
    );
    assert_success(&o);
    let stdout = text(&o.stdout);
    let certs = pem_certificates(&stdout);
    let server = X509::from_pem(&std::fs::read(lab.path("server.pem")).unwrap()).unwrap();
    let ca = X509::from_pem(&std::fs::read(lab.path("ca.pem")).unwrap()).unwrap();
    assert_eq!(certs.len(), 2, "{stdout}");
    assert_eq!(certs[0].to_der().unwrap(), server.to_der().unwrap());
    assert_eq!(certs[1].to_der().unwrap(), ca.to_der().unwrap());
    // The header lines, before the C tool's established line.
    let before = &stdout[..stdout.find("TLS connection established").unwrap()];
    let headers: Vec<&str> = before.lines().collect();
    assert!(before.starts_with("verify error:num=19:"), "{stdout}");
    assert!(headers.contains(&"Certificate 0:"), "{stdout}");
    assert!(headers.contains(&"  subject: CN=localhost"), "{stdout}");
    assert!(headers.contains(&"  issuer: CN=imtest lab CA"), "{stdout}");
    assert!(headers.contains(&"Certificate 1:"), "{stdout}");
    assert!(headers.contains(&"  subject: CN=imtest lab CA"), "{stdout}");
    assert!(
        headers.contains(&format!("  notBefore: {}", server.not_before()).as_str()),
        "{stdout}"
    );
    assert!(
        headers.contains(&format!("  notAfter: {}", server.not_after()).as_str()),
        "{stdout}"
    );
}

// --- --no-plaintext-fallback against the lab (the fake-server cases are case files) ----

/// The smtpd process of a Postfix log line.
fn smtpd_pid(line: &str) -> Option<&str> {
    line.split("postfix/smtpd[").nth(1)?.split(']').next()
}

/// The sessions the lab's `SMTP_NOTLS_PORT` listener logged, oldest first: its smtpd
/// processes are those that warned about the missing certificate, and each session ends with
/// a `disconnect from` line that lists the commands the server received (`ehlo=1
/// starttls=0/1 auth=1 ...`). Waits up to 5 s for at least `count`.
fn notls_sessions(count: usize) -> Vec<String> {
    let start = std::time::Instant::now();
    loop {
        let log =
            text(&std::fs::read(crate::lab::lab().path("postfix/maillog")).unwrap_or_default());
        let pids: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("missing.pem"))
            .filter_map(smtpd_pid)
            .collect();
        let sessions: Vec<String> = log
            .lines()
            .filter(|l| l.contains(" disconnect from "))
            .filter(|l| smtpd_pid(l).is_some_and(|pid| pids.contains(&pid)))
            .map(str::to_owned)
            .collect();
        if sessions.len() >= count || start.elapsed() > Duration::from_secs(5) {
            return sessions;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A real server that refuses STARTTLS: Postfix without its certificate offers STARTTLS and
/// answers it with 454. The C tool then sends the password in clear text (Postfix logs
/// `auth=1`); with the option ours stops, and Postfix's record of the session shows no AUTH.
fn no_plaintext_fallback_against_postfix_refusing_starttls() {
    let mut args = vec!["-t", ""];
    args.extend(words("-p {LAB:SMTP_NOTLS_PORT} -m plain 127.0.0.1"));
    let args = with_tim(&args);
    let before = notls_sessions(0).len();
    let c = run_as(Imp::Oracle, "smtptest", &args);
    assert!(
        text(&c.stdout).contains("S: 454 4.7.0 TLS not available due to local problem"),
        "{}",
        c.describe()
    );
    assert!(
        text(&c.stdout).contains("C: AUTH PLAIN "),
        "{}",
        c.describe()
    );
    let sessions = notls_sessions(before + 1);
    assert!(
        sessions.get(before).is_some_and(|l| l.contains(" auth=1")),
        "{sessions:?}"
    );

    let mut with_option = vec!["--no-plaintext-fallback", "--exit-status"];
    with_option.extend(&args);
    let o = ours("smtptest", &with_option);
    assert_eq!(
        text(&o.stderr),
        "failure: STARTTLS refused by the server (--no-plaintext-fallback): \
         454 4.7.0 TLS not available due to local problem\n",
        "{}",
        o.describe()
    );
    assert_eq!(o.status.code(), Some(3), "{}", o.describe());
    assert!(!text(&o.stdout).contains("C: AUTH"), "{}", o.describe());
    let sessions = notls_sessions(before + 2);
    let ours_session = sessions.get(before + 1).map(String::as_str).unwrap_or("");
    assert!(
        ours_session.contains(" starttls=0/1") && !ours_session.contains("auth="),
        "Postfix's record of our session: {ours_session:?}"
    );
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    crate::listed!(
        "extras/tls/",
        capath_is_a_trust_store_too,
        servername_sends_sni_and_is_the_name_checked,
        servername_without_verify_only_changes_sni,
        show_cert_prints_the_chain,
        no_plaintext_fallback_against_postfix_refusing_starttls,
    )
}
