//! One run: `-n` rounds of connect → TLS → greeting/capabilities → STARTTLS → authenticate,
//! then COMPRESS and the interactive part on the last round's connection
//! (docs/behaviour.md §3.2, §7).

use crate::auth::exchange::Attempt;
use crate::bytes::starts_with_ci;
use crate::capabilities::{Caps, Learnt};
use crate::error::{Failure, Result, Stage};
use crate::ffi::sasl::{self, ClientConfig, Code, ConnFlags};
use crate::net::connect::{self, ip_semicolon_port};
use crate::net::haproxy;
use crate::net::socket;
use crate::net::stack::Stack;
use crate::net::tls;
use crate::oauth;
use crate::options::Options;
use crate::prompt::CliPrompter;
use crate::protocol::{self, Kind, Protocol};
use crate::replies;
use crate::transcript;
use std::cell::RefCell;
use std::rc::Rc;

/// The SASL layer's largest buffer we accept (visible as DIGEST-MD5's `maxbuf=1024`).
const SASL_MAXBUFSIZE: u32 = 1024;

/// State that outlives a round.
pub struct Run<'a> {
    pub options: &'a Options,
    pub protocol: &'static Protocol,
    pub tls: tls::Engine,
    pub prompter: CliPrompter,
    pub learnt: Learnt,
    /// The greeting is a capability source (switched off for good once it proves not to be).
    pub greeting_has_capabilities: bool,
    /// The server name of the current round (canonical name when the resolver gave one).
    pub host: String,
    /// The server's port in the current round (OAUTHBEARER's `port=`).
    pub port: u16,
    /// Sieve: the server did not resend capabilities after a security layer once.
    pub sieve_asks_after_layer: bool,
    /// Some round's authentication failed (for `--exit-status`).
    pub auth_failed: bool,
}

/// One connected, authenticated (or not) round.
pub struct Round {
    pub stack: Stack,
    pub conn: Rc<RefCell<sasl::Conn>>,
    pub caps: Caps,
    /// POP3: the APOP challenge from the greeting.
    pub apop_challenge: Option<Vec<u8>>,
    /// Cipher bits of TLS, added to the SASL SSF.
    pub external_ssf: u32,
}

/// The longest `ip;port` text handed to libsasl2: the C tool formats each address into a
/// fixed buffer and gives up on a text of 59 characters or more, ending the run with
/// `failure: SASL initialization` (docs/behaviour.md §3.1).
const SASL_ADDRESS_MAX: usize = 58;

/// What the rounds leave for the part after login.
pub struct Connected {
    /// The last round's connection stack, with whatever layers it negotiated.
    pub stack: Stack,
    /// Some round's authentication failed (for `--exit-status`).
    pub auth_failed: bool,
}

/// Every round of the session (`-n`), then COMPRESS (`-q`): the connection is left ready for
/// the relay, socket mode or stress test.
pub fn run(options: &Options) -> Result<Connected> {
    let protocol = options.protocol;
    sasl::client_init(ClientConfig {
        challenge_prompts: options.challenge_prompts,
        options: options.sasl_options.clone(),
    })
    .map_err(|_| Failure::new("SASL initialization"))?;
    if let Some(kind) = &options.haproxy {
        haproxy::check(kind, &options.extras).map_err(Failure::new)?;
    }
    let authname = options
        .authname
        .clone()
        .unwrap_or_else(crate::prompt::current_login_name);
    let mut run = Run {
        options,
        protocol,
        tls: tls::Engine::with_settings(options.verbose, tls::Settings::from_options(options))
            .map_err(Failure::new)?,
        prompter: CliPrompter {
            authname,
            authzid: options.authzid.clone(),
            password: options.password.clone(),
            realm: options.realm.clone(),
        },
        learnt: Learnt::default(),
        greeting_has_capabilities: protocol.banner.is_capability_source,
        sieve_asks_after_layer: false,
        auth_failed: false,
        host: String::from_utf8_lossy(&options.host).into_owned(),
        port: 0,
    };
    let mut round = start_round(&mut run)?;
    for _ in 1..options.rounds {
        end_round(&mut run, round)?;
        round = start_round(&mut run)?;
    }
    if options.compress {
        compress(&run, &mut round)?;
    }
    Ok(Connected {
        stack: round.stack,
        auth_failed: run.auth_failed,
    })
}

fn start_round(run: &mut Run) -> Result<Round> {
    let options = run.options;
    let protocol = run.protocol;
    let connected = connect::open(options)?;
    run.host = connected.host.clone();
    // Over a UNIX-domain socket SASL gets no addresses (libsasl2 takes NULL for both), and
    // there is no port (0: OAUTHBEARER then sends no `port=`).
    run.port = connected.ends.map_or(0, |(_, remote)| remote.port());
    let addresses = connected
        .ends
        .map(|(local, remote)| (ip_semicolon_port(&local), ip_semicolon_port(&remote)));
    if let Some((local, remote)) = &addresses {
        if local.len() > SASL_ADDRESS_MAX || remote.len() > SASL_ADDRESS_MAX {
            return Err(Failure::new("SASL initialization"));
        }
    }
    let need_proxy = match (&options.authzid, &options.authname) {
        (Some(authzid), Some(authname)) => authzid != authname,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let flags = ConnFlags {
        need_proxy,
        success_data: protocol
            .sasl
            .is_some_and(|s| s.success_data != protocol::SuccessData::None),
        need_http: protocol.kind == Kind::Http,
    };
    let (local, remote) = match &addresses {
        Some((local, remote)) => (Some(local.as_str()), Some(remote.as_str())),
        None => (None, None),
    };
    let mut conn = sasl::Conn::new(
        protocol.sasl_service,
        Some(&connected.host),
        local,
        remote,
        flags,
    )
    .map_err(|_| Failure::new("SASL initialization"))?;
    conn.set_security(options.min_ssf, options.max_ssf, SASL_MAXBUFSIZE)
        .map_err(|_| Failure::new("SASL initialization"))?;
    let mut round = Round {
        stack: Stack::new(connected.socket),
        conn: Rc::new(RefCell::new(conn)),
        caps: Caps::default(),
        apop_challenge: None,
        external_ssf: 0,
    };
    if let Some(timeout) = options.extras.read_timeout {
        round
            .stack
            .set_read_timeout(timeout)
            .map_err(|_| Failure::new("cannot set the read timeout").at(Stage::Connect))?;
    }
    if let Some(kind) = &options.haproxy {
        let header = haproxy::build(kind, connected.ends, &options.extras).map_err(Failure::new)?;
        replies::send(&mut round.stack, &header)?;
    }
    if options.implicit_tls {
        match start_tls(run, &mut round, None)? {
            TlsOutcome::Up => {}
            TlsOutcome::EngineFailed => {
                return Err(Failure::new("Start TLS engine failed\n").at(Stage::Tls))
            }
            TlsOutcome::HandshakeFailed(reason) => return Err(negotiation_failed(reason)),
        }
    }
    round.caps = read_greeting(run, &mut round)?;
    if let Some(keyfile) = &options.starttls_keyfile {
        starttls(run, &mut round, keyfile)?;
    }
    if tls_required(run) && round.stack.tls().is_none() {
        // Whatever way led here: no credential goes out in clear text.
        return Err(no_tls(run));
    }
    let code = authenticate(run, &mut round)?;
    report(run, &mut round, code)?;
    Ok(round)
}

/// Greeting and first capability read (docs/behaviour.md §3.5).
fn read_greeting(run: &mut Run, round: &mut Round) -> Result<Caps> {
    let protocol = run.protocol;
    let stack = &mut round.stack;
    if run.greeting_has_capabilities {
        let caps = replies::capabilities(stack, protocol, protocol.banner.end, &mut run.learnt)?;
        let no_mechs = caps.mechs.as_ref().is_none_or(|m| m.is_empty());
        if !no_mechs || caps.starttls {
            return Ok(caps);
        }
        run.greeting_has_capabilities = false;
        return ask_capabilities(run, stack);
    }
    // Without a greeting end (IMAP after the switch, HTTP) nothing is read before the
    // capability command: IMAP's greeting then shows up in the CAPABILITY response.
    if let Some(end) = protocol.banner.end {
        loop {
            let line = replies::line(stack, crate::net::stack::LINE_MAX)?;
            transcript::server_line(&line);
            if protocol.kind == Kind::Pop3 {
                // Like the C tool, the last greeting line decides.
                round.apop_challenge = crate::auth::pop3::apop_challenge(&line);
            }
            if starts_with_ci(&line, end) {
                break;
            }
        }
    }
    ask_capabilities(run, stack)
}

/// Sends the capability command (if the protocol has one) and reads the response.
fn ask_capabilities(run: &mut Run, stack: &mut Stack) -> Result<Caps> {
    let protocol = run.protocol;
    let Some(command) = protocol.capabilities.command else {
        let mut caps = Caps::fresh(protocol);
        caps.mechs = None;
        return Ok(caps);
    };
    replies::command(stack, command.replace("%s", &run.host))?;
    replies::capabilities(stack, protocol, protocol.capabilities.end, &mut run.learnt)
}

/// After STARTTLS: protocols whose server resends capabilities are just read, the
/// others are asked again (docs/behaviour.md §3.4).
fn capabilities_after_tls(run: &mut Run, stack: &mut Stack) -> Result<Caps> {
    let protocol = run.protocol;
    if run.options.verbose {
        transcript::message("Asking for capabilities again since they might have changed");
    }
    if protocol
        .starttls
        .is_some_and(|s| s.server_resends_capabilities)
    {
        return replies::capabilities(stack, protocol, protocol.capabilities.end, &mut run.learnt);
    }
    ask_capabilities(run, stack)
}

/// After a SASL security layer (docs/behaviour.md §7.3): the capability command where there is one;
/// sieve first waits 250 ms to see whether the server sends them by itself.
fn capabilities_after_layer(run: &mut Run, stack: &mut Stack) -> Result<Caps> {
    let protocol = run.protocol;
    if run.options.verbose {
        transcript::message("Asking for capabilities again since they might have changed");
    }
    if protocol.kind == Kind::Sieve && !run.sieve_asks_after_layer {
        std::thread::sleep(std::time::Duration::from_millis(250));
        if !stack.has_pending() {
            run.sieve_asks_after_layer = true;
        }
    }
    if protocol.kind == Kind::Sieve && !run.sieve_asks_after_layer {
        return replies::capabilities(stack, protocol, protocol.capabilities.end, &mut run.learnt);
    }
    ask_capabilities(run, stack)
}

/// How a TLS start went; failures' messages were printed by the TLS engine.
enum TlsOutcome {
    Up,
    EngineFailed,
    /// With OpenSSL's reason when an opt-in TLS option is in effect.
    HandshakeFailed(Option<String>),
}

/// The C tool's `TLS negotiation failed!` (and its empty line); with an opt-in TLS option,
/// one line with OpenSSL's reason instead.
fn negotiation_failed(reason: Option<String>) -> Failure {
    match reason {
        None => Failure::new("TLS negotiation failed!\n"),
        Some(reason) => Failure::new(format!("TLS negotiation failed: {reason}")),
    }
    .at(Stage::Tls)
}

/// Whether `--no-plaintext-fallback` or `--verify` (or `--cafile`/`--capath`) was given: then the
/// session must not go on without TLS where the C tool would.
fn tls_required(run: &Run) -> bool {
    run.options.extras.no_plaintext_fallback || run.options.extras.verify
}

/// What a run that must not go on without TLS says when TLS is not up.
fn no_tls(run: &Run) -> Failure {
    let message = if run.options.extras.no_plaintext_fallback {
        "no TLS, so no credential is sent (--no-plaintext-fallback)"
    } else {
        "no TLS, so no certificate to verify (--verify)"
    };
    Failure::new(message).at(Stage::Tls)
}

/// The answer to STARTTLS. The C tool waits for the protocol's OK or NO line only (an IMAP
/// `BAD` leaves it waiting for ever); when TLS is required any final reply ends the wait.
fn starttls_reply(run: &Run, stack: &mut Stack, exchange: &protocol::StartTls) -> Result<Vec<u8>> {
    if !tls_required(run) {
        return replies::waitfor(stack, &[exchange.ok, exchange.fail], true);
    }
    loop {
        let line = replies::line(stack, crate::net::stack::LINE_MAX)?;
        transcript::server_line(&line);
        if exchange.is_final_reply(&line) {
            replies::drain(stack);
            return Ok(line);
        }
    }
}

/// TLS on the round's socket and the SASL properties that follow from it (docs/behaviour.md §4.3).
fn start_tls(run: &mut Run, round: &mut Round, keyfile: Option<&[u8]>) -> Result<TlsOutcome> {
    let Some(plain) = round.stack.take_plain() else {
        return Ok(TlsOutcome::HandshakeFailed(None));
    };
    socket::take_timed_out();
    let established = match run.tls.connect(plain, keyfile) {
        Ok(established) => established,
        Err(tls::Failure::Engine(plain)) => {
            round.stack.restore_plain(plain);
            return Ok(TlsOutcome::EngineFailed);
        }
        Err(tls::Failure::Handshake(reason)) => {
            // `--read-timeout` expired during the handshake: say that, not "negotiation
            // failed" (the engine's own lines are already out).
            if let (true, Some(timeout)) =
                (socket::take_timed_out(), run.options.extras.read_timeout)
            {
                return Err(replies::silent_server(timeout));
            }
            return Ok(TlsOutcome::HandshakeFailed(reason));
        }
        Err(tls::Failure::Fatal(message)) => return Err(Failure::new(message).at(Stage::Tls)),
    };
    round.stack.set_tls(established.stream);
    round.external_ssf = established.usebits;
    let fail = |what: &str| Failure::new(format!("Error setting SASL property ({what})"));
    let mut conn = round.conn.borrow_mut();
    conn.set_external_ssf(established.usebits)
        .map_err(|_| fail("external ssf"))?;
    conn.set_external_auth_id(established.peer_cn.as_deref())
        .map_err(|_| fail("external auth_id"))?;
    let binding = &established.binding;
    conn.set_channel_binding(binding.name, false, &binding.data)
        .map_err(|_| fail("channel binding"))?;
    Ok(TlsOutcome::Up)
}

/// `-t`: STARTTLS if advertised (docs/behaviour.md §3.4).
fn starttls(run: &mut Run, round: &mut Round, keyfile: &[u8]) -> Result<()> {
    let not_supported = || Failure::new("STARTTLS not supported by the server!\n").at(Stage::Tls);
    let Some(exchange) = run.protocol.starttls else {
        return Err(not_supported());
    };
    if !round.caps.starttls {
        return Err(not_supported());
    }
    if run.options.implicit_tls {
        return Ok(());
    }
    replies::command(&mut round.stack, exchange.command.replace("%s", &run.host))?;
    let reply = starttls_reply(run, &mut round.stack, &exchange)?;
    if !starts_with_ci(&reply, exchange.ok) {
        if tls_required(run) {
            let why: &[u8] = if run.options.extras.no_plaintext_fallback {
                b"STARTTLS refused by the server (--no-plaintext-fallback): "
            } else {
                b"STARTTLS refused by the server (--verify needs TLS): "
            };
            return Err(Failure::bytes([why, trim_eol(&reply)].concat(), Stage::Tls));
        }
        return Ok(());
    }
    let keyfile = if keyfile.is_empty() {
        None
    } else {
        Some(keyfile)
    };
    match start_tls(run, round, keyfile)? {
        TlsOutcome::Up => {}
        // The C tool carries on in clear text as if TLS had been set up (docs/behaviour.md §3.4).
        TlsOutcome::EngineFailed => {
            transcript::message("Start TLS engine failed");
            if tls_required(run) {
                return Err(no_tls(run));
            }
        }
        TlsOutcome::HandshakeFailed(reason) => return Err(negotiation_failed(reason)),
    }
    round.caps = capabilities_after_tls(run, &mut round.stack)?;
    Ok(())
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn authenticate(run: &mut Run, round: &mut Round) -> Result<Code> {
    let protocol = run.protocol;
    let options = run.options;
    let mut limit = protocol.sasl.map_or(0, |s| s.initial_response_limit);
    if protocol.kind == Kind::Imap && run.learnt.imap_sasl_ir {
        limit = 65535;
    }
    if options.no_initial_response {
        limit = 0;
    }
    let authname = run.prompter.authname.clone();
    let mechanism = options.mechanism.as_deref();
    let caps = &round.caps;
    let oauth = bearer_mechanism(run, caps, &authname);
    let mut attempt = Attempt {
        stack: &mut round.stack,
        conn: &round.conn,
        oauth,
        prompter: &mut run.prompter,
        initial_response_limit: limit,
    };
    match protocol.kind {
        Kind::Imap => {
            crate::auth::imap::authenticate(&mut attempt, protocol, caps, mechanism, &authname)
        }
        Kind::Pop3 => {
            // Without a challenge in the greeting the C tool digests the server name.
            let challenge = round
                .apop_challenge
                .clone()
                .unwrap_or_else(|| run.host.clone().into_bytes());
            crate::auth::pop3::authenticate(
                &mut attempt,
                protocol,
                caps,
                mechanism,
                &authname,
                &challenge,
            )
        }
        Kind::Nntp => {
            crate::auth::nntp::authenticate(&mut attempt, protocol, caps, mechanism, &authname)
        }
        Kind::Http => {
            crate::auth::http::authenticate(&mut attempt, caps, mechanism, &authname, &run.host)
        }
        Kind::Smtp | Kind::Lmtp | Kind::Mupdate | Kind::Sieve | Kind::Csync => {
            let Some(framing) = protocol.sasl.as_ref() else {
                return Ok(sasl::SASL_FAIL);
            };
            match (mechanism, &caps.mechs) {
                (Some(mech), _) => crate::auth::exchange::exchange(&mut attempt, framing, mech),
                (None, Some(list)) => {
                    crate::auth::exchange::exchange(&mut attempt, framing, list.clone().as_bytes())
                }
                (None, None) => Ok(sasl::SASL_FAIL),
            }
        }
    }
}

/// XOAUTH2 or OAUTHBEARER when `-m` names one or a token was given (`oauth::select`).
fn bearer_mechanism(run: &Run, caps: &Caps, authname: &[u8]) -> Option<oauth::Mechanism> {
    let options = run.options;
    let token = options.extras.oauth_token.as_ref();
    let advertised = caps.mechs.as_ref().map(|list| list.as_bytes());
    let kind = oauth::select(options.mechanism.as_deref(), advertised, token.is_some())?;
    let credentials = oauth::Credentials {
        authname,
        authzid: options.authzid.as_deref(),
        host: &run.host,
        port: run.port,
        token: token?.as_slice(),
    };
    Some(oauth::Mechanism::new(kind, &credentials))
}

/// Result and SSF lines; a security layer and the capability re-read (docs/behaviour.md §7.1–§7.3).
fn report(run: &mut Run, round: &mut Round, code: Code) -> Result<()> {
    if code == sasl::SASL_OK {
        transcript::message("Authenticated.");
    } else {
        transcript::message(&format!("Authentication failed. {}", sasl::errstring(code)));
        run.auth_failed = true;
    }
    let ssf = round.conn.borrow().ssf();
    let sasl_ssf = match ssf {
        Ok(ssf) => {
            transcript::message(&format!(
                "Security strength factor: {}",
                round.external_ssf + ssf
            ));
            ssf
        }
        Err(err) => {
            transcript::message(&format!("SSF: unable to determine (SASL ERROR {err})"));
            0
        }
    };
    if code == sasl::SASL_OK {
        round.stack.adopt_sasl(Rc::clone(&round.conn), sasl_ssf > 0);
    }
    if sasl_ssf > 0 {
        let before = round.caps.mechs.clone().unwrap_or_default();
        round.caps = capabilities_after_layer(run, &mut round.stack)?;
        if round.caps.mechs.as_ref().is_some_and(|now| *now != before) {
            transcript::message(
                "WARNING: possible MITM attack: list of available SASL mechanisms changed",
            );
        }
    }
    Ok(())
}

/// Between `-n` rounds: log out, wait for the reply, close (docs/behaviour.md §7.4).
fn end_round(run: &mut Run, mut round: Round) -> Result<()> {
    if let Some(logout) = run.protocol.logout {
        replies::command(&mut round.stack, logout.command)?;
        replies::waitfor(&mut round.stack, &[logout.reply], true)?;
    }
    if let Some(tls) = round.stack.tls() {
        run.tls.keep_latest_session(tls);
    }
    transcript::message("Connection closed.\n");
    round.stack.close_between_rounds();
    Ok(())
}

/// `-q`: COMPRESS after the last round if the latest capabilities offered it
/// (docs/behaviour.md §7.5).
fn compress(run: &Run, round: &mut Round) -> Result<()> {
    let Some(exchange) = run.protocol.compress else {
        return Ok(());
    };
    if !round.caps.compress {
        return Ok(());
    }
    replies::command(&mut round.stack, exchange.command)?;
    let reply = replies::waitfor(&mut round.stack, &[exchange.ok, exchange.fail], true)?;
    if starts_with_ci(&reply, exchange.ok) {
        round
            .stack
            .start_compression()
            .map_err(|_| Failure::new("Error compressing data").at(Stage::Protocol))?;
    }
    Ok(())
}
