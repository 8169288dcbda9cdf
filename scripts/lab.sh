#!/usr/bin/env bash
# A throw-away mail lab on 127.0.0.1 high ports: Dovecot + Postfix + Cyrus, all state in one
# directory.
#
#   scripts/lab.sh up DIR [--watch PID]   start it (prints the ports), leaves it running;
#                                         with --watch, a watchdog runs `down DIR` once PID exits
#   scripts/lab.sh down DIR               stop everything started for DIR and remove DIR
#   scripts/lab.sh info DIR [BINARY]      print the ports and ready-to-paste command lines
#                                         (DIR/bin/<tool> are symlinks to BINARY, our imtest)
#   scripts/lab.sh token DIR USER [KIND]  print a bearer token (HS256 JWT, sub=USER) for
#                                         XOAUTH2/OAUTHBEARER; KIND: valid (default, 1 hour),
#                                         expired, badsig (signed with another key)
#
# Both are idempotent and serialised per DIR (flock on DIR itself): a second `up` of a running
# lab only prints its ports, `down` of a missing DIR does nothing. Different DIRs are
# independent (own ports, own processes, own state).
#
# DIR/ports (shell-sourceable VAR=port lines) lists every listener:
#   Dovecot   IMAP_PORT (STARTTLS) IMAPS_PORT (implicit TLS) IMAP_HAPROXY_PORT
#             IMAPS_HAPROXY_PORT POP3_PORT POP3S_PORT POP3_HAPROXY_PORT SIEVE_PORT
#             SIEVE_HAPROXY_PORT LMTP_PORT SUBMISSION_PORT SUBMISSIONS_PORT AUTH_PORT (SASL for
#             Postfix); the *_HAPROXY_* listeners require a PROXY header (trusted: 127.0.0.1)
#             (not a port) DIR/lmtp.sock: LMTP on a UNIX-domain socket, mode 0666
#   Postfix   SMTP_PORT (STARTTLS offered) SMTPS_PORT (implicit TLS, smtpd_tls_wrappermode)
#             SMTP_SUBMISSION_PORT (STARTTLS required, AUTH only after it)
#             SMTP_HAPROXY_PORT (smtpd_upstream_proxy_protocol=haproxy)
#             SMTPS_TLS13_PORT (implicit TLS, TLS 1.3 only)
#             SMTPS_WRONGHOST_PORT (implicit TLS, certificate for wrong.example)
#             SMTP_NOTLS_PORT (STARTTLS offered, refused with 454: its certificate is missing)
#   Cyrus     CYRUS_IMAP_PORT CYRUS_IMAPS_PORT CYRUS_POP3_PORT CYRUS_POP3S_PORT (APOP in the
#             banner) CYRUS_LMTP_PORT (AUTH offered) CYRUS_SIEVE_PORT (timsieved) NNTP_PORT
#             (STARTTLS) NNTPS_PORT HTTP_PORT HTTPS_PORT (CalDAV/CardDAV/WebDAV; DIR/cyrus/www
#             served at /) MUPDATE_PORT (mupdate master) SYNC_PORT (sync_server)
#
# Users (passwd-file, {PLAIN}): tim / tanstaaftanstaaf, bob / secret; master user
# master / masterpass (SASL authzid, or `user*master` as the login name). Mechanisms: PLAIN
# LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256 EXTERNAL (client certificate, CN = user)
# XOAUTH2 OAUTHBEARER (a token from `token`, checked by Dovecot's oauth2 passdb locally).
# Realms: lab.example other.example (the domain part of a login name is dropped).
# Cyrus (sasldb, realm lab.example): tim and bob as above, the admin cyrus / cyruspass (the only
# user mupdate and sync_server serve), otpuser / otppass for OTP. Mechanisms: PLAIN LOGIN
# CRAM-MD5 DIGEST-MD5 (with security layers) SCRAM-SHA-1 SCRAM-SHA-256 (-PLUS over TLS) OTP,
# APOP, HTTP Basic. Cyrus logs to syslog only.
# Files: DIR/ca.pem (throw-away CA), DIR/server.pem + server.key, DIR/tim.pem and DIR/bob.pem
# (client certificate then key, the form `-t FILE` takes), DIR/sni.pem (served by Dovecot for
# SNI name sni.example), DIR/wrong.pem (CN/SAN wrong.example). Logs: DIR/dovecot.log,
# DIR/postfix/maillog.
set -euo pipefail

usage() {
  echo "usage: $0 up DIR [--watch PID] | down DIR | info DIR [BINARY] | token DIR USER [KIND]" >&2
  exit 2
}
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || usage
watch=
binary=
if [ "$cmd" = token ]; then
  [ $# -ge 3 ] && [ $# -le 4 ] || usage
  key=$dir/oauth2-keys/default/HS256/default
  [ -s "$key" ] || { echo "lab: no lab in $dir (run: $0 up $dir)" >&2; exit 1; }
  exec python3 - "$key" "$3" "${4:-valid}" <<'PY'
import base64, hashlib, hmac, json, sys, time
key_file, user, kind = sys.argv[1:]
if kind not in ("valid", "expired", "badsig"):
    sys.exit(f"lab: token kind {kind!r} is not valid, expired or badsig")
key = base64.b64decode(open(key_file).read())
if kind == "badsig":
    key = hashlib.sha256(b"not the lab key" + key).digest()
now = int(time.time())
claims = {"sub": user, "iat": now - 60, "exp": now + 3600}
if kind == "expired":
    claims.update(iat=now - 7200, exp=now - 3600)
def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
def part(obj):
    return b64url(json.dumps(obj, separators=(",", ":")).encode())
signed = part({"alg": "HS256", "typ": "JWT"}) + "." + part(claims)
signature = hmac.new(key, signed.encode(), hashlib.sha256).digest()
print(signed + "." + b64url(signature))
PY
fi
if [ $# -gt 2 ]; then
  if [ "$cmd" = info ] && [ $# -eq 3 ]; then
    binary=$3
  else
    [ "$cmd" = up ] && [ "${3:-}" = --watch ] && [ -n "${4:-}" ] && [ $# -eq 4 ] || usage
    watch=$4
  fi
fi
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

USERS=(tim bob)
# Cyrus: the installed cyrus-common, the unpacked daemons (see write_cyrus_conf).
CYRUS_BIN=/usr/lib/cyrus/bin
CYRUS_ADMIN=cyrus
CYRUS_ADMIN_PASS=cyruspass
OTP_USER=otpuser
OTP_PASS=otppass
# One OTP user per test that uses OTP (a user is locked while an exchange is under way, and
# the library re-initialises the sequence after 9 logins); the last two are admins.
OTP_USERS=(otpuser otpimap otppop3 otpnntp otpsieve otplmtp otpmupdate otpsync)

cyrus_tree() {
  local version
  version=$(dpkg-query -W -f='${Version}' cyrus-common 2>/dev/null || true)
  echo "${IMTEST_CYRUS_ROOT:-/var/cache/imtest/cyrus-$version}"
}

MASTER_USER=master
MASTER_PASS=masterpass
REALMS="lab.example other.example"
PORT_NAMES=(IMAP_PORT IMAPS_PORT IMAP_HAPROXY_PORT IMAPS_HAPROXY_PORT POP3_PORT POP3S_PORT
  POP3_HAPROXY_PORT SIEVE_PORT SIEVE_HAPROXY_PORT LMTP_PORT SUBMISSION_PORT SUBMISSIONS_PORT
  AUTH_PORT SMTP_PORT SMTPS_PORT SMTP_SUBMISSION_PORT SMTP_HAPROXY_PORT SMTPS_TLS13_PORT
  SMTPS_WRONGHOST_PORT SMTP_NOTLS_PORT CYRUS_IMAP_PORT CYRUS_IMAPS_PORT CYRUS_POP3_PORT
  CYRUS_POP3S_PORT CYRUS_LMTP_PORT CYRUS_SIEVE_PORT NNTP_PORT NNTPS_PORT HTTP_PORT HTTPS_PORT
  MUPDATE_PORT SYNC_PORT)

# --- process helpers (only processes started for this DIR, by pid / session id) -----------

# A zombie counts as gone (this machine's init may reap late).
alive() { [ -n "${1:-}" ] && ps -o stat= -p "$1" 2>/dev/null | grep -q '^[^Z]'; }

pid_from() { [ -s "$1" ] && tr -dc 0-9 <"$1" || true; }

# The daemons and the watchdog are started with the lock descriptor (9) closed, or they would
# hold DIR's lock for their lifetime.
# Both masters daemonise with setsid(), so their session id is their pid and every child
# process they fork stays in that session.
session_members() { ps -e -o pid= -o sid= -o stat= | awk -v s="$1" '$2 == s && $3 !~ /^Z/ { print $1 }'; }

# stop_session PID: SIGTERM the master, wait, then end whatever is left of its session.
stop_session() {
  local pid=$1 left
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
  for sig in TERM KILL; do
    left=$(session_members "$pid")
    [ -n "$left" ] || return 0
    # shellcheck disable=SC2086
    kill -"$sig" $left 2>/dev/null || true
    for _ in $(seq 20); do [ -n "$(session_members "$pid")" ] || return 0; sleep 0.1; done
  done
}

stop_all() {
  # The watchdog, unless we are it.
  local w
  w=$(pid_from "$dir/watch.pid")
  if [ -n "$w" ] && [ "${LAB_WATCHDOG:-}" != "$w" ]; then kill -TERM "$w" 2>/dev/null || true; fi
  stop_session "$(pid_from "$dir/postfix-queue/pid/master.pid")"
  stop_session "$(pid_from "$dir/run/master.pid")"
  stop_session "$(pid_from "$dir/cyrus/run/master.pid")"
  # Belt and braces, should a pid file be missing: the sessions of processes that run with
  # this DIR's own configuration (Postfix passes MAIL_CONFIG to all its processes; Dovecot's
  # master has `-c DIR/dovecot.conf` on its command line).
  local sid
  for sid in $(own_sessions); do stop_session "$sid"; done
}

own_sessions() {
  python3 - "$dir" <<'PY'
import os, sys
d = sys.argv[1]
env_mark = f"MAIL_CONFIG={d}/postfix".encode()
cmd_marks = [f"\0-c\0{d}/dovecot.conf\0".encode(), f"\0-C\0{d}/cyrus/imapd.conf\0".encode()]
sids = set()
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        with open(f"/proc/{p}/environ", "rb") as f:
            env = f.read().split(b"\0")
        with open(f"/proc/{p}/cmdline", "rb") as f:
            cmd = b"\0" + f.read()
        if env_mark in env or any(m in cmd for m in cmd_marks):
            sids.add(os.getsid(int(p)))
    except OSError:
        pass
print(" ".join(str(s) for s in sids))
PY
}

case "$cmd" in
up | down | info) ;;
*) usage ;;
esac

if [ "$cmd" = info ]; then
  [ -s "$dir/ports" ] || { echo "lab: no lab in $dir (run: $0 up $dir)" >&2; exit 1; }
  dir=$(cd "$dir" && pwd)
  # shellcheck disable=SC1091
  . "$dir/ports"
  b=/usr/lib/cyrus/bin
  if [ -n "$binary" ]; then
    [ -x "$binary" ] || echo "lab: warning: $binary does not exist yet" >&2
    mkdir -p "$dir/bin"
    for name in imtest pop3test smtptest lmtptest sivtest nntptest httptest mupdatetest synctest; do
      ln -sfn "$binary" "$dir/bin/$name"
    done
    b=$dir/bin
  fi
  tim="-a tim -w tanstaaftanstaaf"
  echo "lab in $dir (users tim/tanstaaftanstaaf, bob/secret, master user master/masterpass;"
  echo "client certificates $dir/tim.pem, $dir/bob.pem; logs $dir/dovecot.log, $dir/postfix/maillog;"
  echo "Cyrus admin cyrus/cyruspass, OTP user otpuser/otppass)"
  sed 's/^/  /' "$dir/ports"
  echo
  echo "Ready to paste ($b/<tool>; the C tools are /usr/lib/cyrus/bin/<tool>):"
  cat <<LINES
  printf 'a1 NOOP\n' | $b/imtest -p $IMAP_PORT $tim 127.0.0.1
  printf 'a1 NOOP\n' | $b/imtest -p $IMAP_PORT -t '' -m plain $tim 127.0.0.1
  printf 'a1 NOOP\n' | $b/imtest -p $IMAPS_PORT -s -m login $tim 127.0.0.1
  printf 'a1 NOOP\n' | $b/imtest -p $IMAP_PORT -t $dir/tim.pem -m external 127.0.0.1
  printf 'a1 NOOP\n' | $b/imtest -p $IMAP_PORT -a master -w masterpass -u tim -m plain 127.0.0.1
  printf 'a1 NOOP\n' | $b/imtest -p $IMAP_PORT -m digest-md5 -r other.example -a bob -w secret 127.0.0.1
  printf 'a1 NOOP\n' | $b/imtest -p $IMAP_PORT -q -n 2 -m plain $tim 127.0.0.1
  printf 'a1 NOOP\n' | $b/imtest -p $IMAP_HAPROXY_PORT -H 192.0.2.7 $tim 127.0.0.1   # -H: ours only
  printf 'a1 NOOP\n' | $b/imtest -p $IMAP_PORT -a tim --oauth-token-file <($self token $dir tim) 127.0.0.1   # ours only
  printf 'STAT\n' | $b/pop3test -p $POP3_PORT -t '' -m user $tim 127.0.0.1
  printf 'STAT\n' | $b/pop3test -p $POP3S_PORT -s $tim 127.0.0.1
  printf 'NOOP\n' | $b/smtptest -p $SMTP_PORT -t '' $tim 127.0.0.1
  printf 'NOOP\n' | $b/smtptest -p $SMTPS_PORT -s -m plain $tim 127.0.0.1
  printf 'NOOP\n' | $b/smtptest -p $SMTP_SUBMISSION_PORT -t '' $tim 127.0.0.1
  printf 'NOOP\n' | $b/smtptest -p $SUBMISSION_PORT -t $dir/tim.pem -m external 127.0.0.1
  printf 'NOOP\n' | $b/lmtptest -p $LMTP_PORT -t '' 127.0.0.1
  printf 'NOOP\n' | $b/lmtptest --unix $dir/lmtp.sock -t ''   # --unix: ours only
  printf 'LISTSCRIPTS\n' | $b/sivtest -p $SIEVE_PORT -t '' -m plain $tim 127.0.0.1
  # TLS extras (ours only): SNI certificate, name mismatch, TLS-1.3-only listener
  printf 'a1 NOOP\n' | $b/imtest -p $IMAPS_PORT -s --servername sni.example --cafile $dir/ca.pem --show-cert $tim 127.0.0.1
  printf 'NOOP\n' | $b/smtptest -p $SMTPS_WRONGHOST_PORT -s --cafile $dir/ca.pem $tim 127.0.0.1
  printf 'NOOP\n' | $b/smtptest -p $SMTPS_TLS13_PORT -s --tls-max 1.2 $tim 127.0.0.1
  # Cyrus 3.6.1 (mupdatetest: the C one is a link named mupdatetest to imtest)
  printf 'a1 NOOP\n' | $b/imtest -p $CYRUS_IMAP_PORT -a otpuser -w otppass -m otp 127.0.0.1
  printf 'STAT\n' | $b/pop3test -p $CYRUS_POP3_PORT -m apop $tim 127.0.0.1
  printf 'LIST\n' | $b/nntptest -p $NNTP_PORT -t '' $tim 127.0.0.1
  printf 'GET / HTTP/1.1\nHost: x\nConnection: close\n\n' | $b/httptest -p $HTTP_PORT -m basic $tim 127.0.0.1
  printf 'N01 NOOP\n' | $b/mupdatetest -p $MUPDATE_PORT -a cyrus -w cyruspass 127.0.0.1
  printf 'NOOP\n' | $b/synctest -p $SYNC_PORT -a cyrus -w cyruspass 127.0.0.1
LINES
  echo
  echo "Stop it with: make lab-down (or $0 down $dir)"
  exit 0
fi

if [ "$cmd" = down ]; then
  [ -d "$dir" ] || exit 0
  exec 9<"$dir"
  flock 9
  stop_all
  rm -rf "$dir"
  exit 0
fi

# --- up --------------------------------------------------------------------------------------

[ -x "$(cyrus_tree)/usr/lib/cyrus/bin/httpd" ] || "$(dirname "$self")/install-deps.sh"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
exec 9<"$dir"
flock 9

print_ports() {
  echo "lab up in $dir:"
  sed 's/^/  /' "$dir/ports"
}

# Already running? Then this is a no-op.
if [ -s "$dir/ports" ] && alive "$(pid_from "$dir/run/master.pid")" &&
  alive "$(pid_from "$dir/postfix-queue/pid/master.pid")" &&
  alive "$(pid_from "$dir/cyrus/run/master.pid")"; then
  print_ports
  exit 0
fi
# A half-started or dead lab: clean it out, keeping DIR itself (we hold its lock).
stop_all
find "$dir" -mindepth 1 -delete
# The unprivileged daemons (mail, dovenull, postfix) must be able to traverse DIR.
chmod 755 "$dir"
mkdir -p "$dir"/{run,state,home,postfix,postfix-queue,postfix-data}
chown postfix "$dir/postfix-data"

# Certificates: a CA, a server certificate for localhost/127.0.0.1, client certs for the users.
(
  cd "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 7 \
    -subj "/CN=imtest lab CA" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n' >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
    -days 7 -extfile server.ext 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  for u in "${USERS[@]}"; do
    openssl req -newkey rsa:2048 -nodes -keyout "$u.key" -out "$u.csr" -subj "/CN=$u" 2>/dev/null
    openssl x509 -req -in "$u.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$u.crt" \
      -days 7 -extfile client.ext 2>/dev/null
    cat "$u.crt" "$u.key" >"$u.pem"
    rm -f "$u.csr"
  done
  rm -f server.csr
  # Two more server certificates from the same CA, for the TLS extras (--servername, --verify):
  # sni.example (Dovecot serves it to clients that send that SNI name) and wrong.example (served
  # by the SMTPS_WRONGHOST_PORT listener, a host-name mismatch for 127.0.0.1/localhost).
  for name in sni wrong; do
    openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" \
      -subj "/CN=$name.example" 2>/dev/null
    printf 'subjectAltName=DNS:%s.example\n' "$name" >"$name.ext"
    openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$name.pem" \
      -days 7 -extfile "$name.ext" 2>/dev/null
    rm -f "$name.csr"
  done
  chmod 644 ./*.pem
)

cat >"$dir/users" <<USERS
tim:{PLAIN}tanstaaftanstaaf
bob:{PLAIN}secret
USERS
echo "$MASTER_USER:{PLAIN}$MASTER_PASS" >"$dir/masters"
# OAuth2: one HS256 key (base64, no newline) in an fs dict, looked up by Dovecot as
# shared/<azp>/<alg>/<kid> = default/HS256/default for tokens without azp and kid.
mkdir -p "$dir/oauth2-keys/default/HS256"
openssl rand -base64 32 | tr -d '\n' >"$dir/oauth2-keys/default/HS256/default"
chmod -R a+rX "$dir/oauth2-keys"
cat >"$dir/oauth2.conf.ext" <<OAUTH
introspection_mode = local
local_validation_key_dict = fs:posix:prefix=$dir/oauth2-keys/
username_attribute = sub
username_format = %Ln
OAUTH
chown mail:mail "$dir/home"

# Free ports: all sockets are bound at once (so they are distinct), then released for the
# daemons. Another process may grab one in between; starting then fails and is retried.
alloc_ports() {
  python3 - "${#PORT_NAMES[@]}" <<'PY' >"$dir/ports.new"
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
  read -r -a nums <"$dir/ports.new"
  : >"$dir/ports.new"
  local i
  for i in "${!PORT_NAMES[@]}"; do
    printf -v "${PORT_NAMES[$i]}" '%s' "${nums[$i]}"
    echo "${PORT_NAMES[$i]}=${nums[$i]}" >>"$dir/ports.new"
  done
}

write_dovecot_conf() {
  cat >"$dir/dovecot.conf" <<CONF
instance_name = imtest-lab-$IMAP_PORT
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
listen = 127.0.0.1
hostname = lab.example
protocols = imap pop3 lmtp sieve submission
ssl = yes
ssl_cert = <$dir/server.pem
ssl_key = <$dir/server.key
# Client certificates are requested (and verified against the lab CA) but not required.
ssl_ca = <$dir/ca.pem
ssl_verify_client_cert = yes
ssl_require_crl = no
auth_ssl_username_from_cert = yes
ssl_cert_username_field = commonName
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 digest-md5 scram-sha-1 scram-sha-256 external xoauth2 oauthbearer
auth_realms = $REALMS
auth_username_format = %Ln
auth_master_user_separator = *
auth_failure_delay = 0
auth_verbose = yes
haproxy_trusted_networks = 127.0.0.1/32
mail_location = maildir:~/Maildir
mail_uid = mail
mail_gid = mail
first_valid_uid = 1
mail_max_userip_connections = 1000
mail_plugins = \$mail_plugins zlib
# COMPRESS=DEFLATE before login too: imtest never re-reads capabilities after authenticating.
imap_capability = +COMPRESS=DEFLATE
protocol imap {
  mail_plugins = \$mail_plugins imap_zlib
}
submission_relay_host = 127.0.0.1
submission_relay_port = $SMTP_PORT
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
}
passdb {
  driver = passwd-file
  args = $dir/masters
  master = yes
  pass = yes
}
passdb {
  driver = static
  args = nopassword=y
  mechanisms = external
}
# Bearer tokens: HS256 JWTs checked locally (key in DIR/oauth2-keys; lab.sh token
# mints them), for these two mechanisms only; a refused token is final (no other passdb
# tries it as a password).
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $dir/oauth2.conf.ext
  result_failure = return-fail
  result_internalfail = return-fail
}
passdb {
  driver = passwd-file
  args = $dir/users
}
userdb {
  driver = static
  args = home=$dir/home/%u allow_all_users=yes
}
# The TLS extras' --servername: a client sending SNI sni.example gets another certificate.
local_name sni.example {
  ssl_cert = <$dir/sni.pem
  ssl_key = <$dir/sni.key
}
service imap-login {
  process_min_avail = 1
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = $IMAPS_PORT
    ssl = yes
  }
  inet_listener imap_haproxy {
    port = $IMAP_HAPROXY_PORT
    haproxy = yes
  }
  inet_listener imaps_haproxy {
    port = $IMAPS_HAPROXY_PORT
    ssl = yes
    haproxy = yes
  }
}
service pop3-login {
  process_min_avail = 1
  inet_listener pop3 {
    port = $POP3_PORT
  }
  inet_listener pop3s {
    port = $POP3S_PORT
    ssl = yes
  }
  inet_listener pop3_haproxy {
    port = $POP3_HAPROXY_PORT
    haproxy = yes
  }
}
service managesieve-login {
  process_min_avail = 1
  inet_listener sieve {
    port = $SIEVE_PORT
  }
  inet_listener sieve_haproxy {
    port = $SIEVE_HAPROXY_PORT
    haproxy = yes
  }
}
service submission-login {
  process_min_avail = 1
  inet_listener submission {
    port = $SUBMISSION_PORT
  }
  inet_listener submissions {
    port = $SUBMISSIONS_PORT
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    port = $LMTP_PORT
  }
  unix_listener $dir/lmtp.sock {
    mode = 0666
  }
}
service auth {
  inet_listener auth_postfix {
    port = $AUTH_PORT
  }
}
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
CONF
  [ -f /usr/share/dovecot/dh.pem ] && echo "ssl_dh = </usr/share/dovecot/dh.pem" >>"$dir/dovecot.conf"
  return 0
}

write_postfix_conf() {
  local pf=$dir/postfix
  cat >"$pf/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $dir/postfix-queue
data_directory = $dir/postfix-data
meta_directory = /etc/postfix
maillog_file_prefixes = $pf
maillog_file = $pf/maillog
mail_owner = postfix
setgid_group = postdrop
myhostname = lab.example
mydomain = lab.example
myorigin = \$myhostname
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
relayhost =
default_transport = discard:lab
relay_transport = discard:lab
local_transport = discard:lab
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtpd_banner = \$myhostname ESMTP Postfix lab
smtpd_tls_cert_file = $dir/server.pem
smtpd_tls_key_file = $dir/server.key
smtpd_tls_security_level = may
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:$AUTH_PORT
smtpd_relay_restrictions = permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination
CONF
  cat >"$pf/master.cf" <<CONF
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
127.0.0.1:$SMTPS_PORT inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
127.0.0.1:$SMTP_SUBMISSION_PORT inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
127.0.0.1:$SMTP_HAPROXY_PORT inet n - n - - smtpd
  -o smtpd_upstream_proxy_protocol=haproxy
127.0.0.1:$SMTPS_TLS13_PORT inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_protocols=>=TLSv1.3
  -o smtpd_tls_mandatory_protocols=>=TLSv1.3
127.0.0.1:$SMTPS_WRONGHOST_PORT inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_cert_file=$dir/wrong.pem
  -o smtpd_tls_key_file=$dir/wrong.key
127.0.0.1:$SMTP_NOTLS_PORT inet n - n - - smtpd
  -o smtpd_tls_cert_file=$dir/missing.pem
  -o smtpd_tls_key_file=$dir/missing.key
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CONF
}

# wait_ready SPEC...: SPEC is PORT (accepts a connection) or PORT:PREFIX (sends a banner line
# starting with PREFIX). Gives up after 30 s.
wait_ready() {
  python3 - "$@" <<'PY'
import socket, sys, time
deadline = time.time() + 30
for spec in sys.argv[1:]:
    port, _, prefix = spec.partition(":")
    while True:
        try:
            with socket.create_connection(("127.0.0.1", int(port)), 1) as s:
                if not prefix:
                    break
                s.settimeout(5)
                if s.recv(200).startswith(prefix.encode()):
                    break
        except OSError:
            pass
        if time.time() > deadline:
            sys.exit(f"lab: port {port} not ready")
        time.sleep(0.1)
PY
}

# --- Cyrus 3.6.1 (Debian's packages, unpacked, not installed) ------------------------------
# cyrus-common (installed with cyrus-clients) brings master, lmtpd, timsieved; the daemons of
# cyrus-imapd, -pop3d, -nntpd, -caldav, -murder and -replication come from the tree that
# scripts/install-deps.sh unpacks (they conflict with Dovecot's packages, so they are never
# installed). Everything runs as the cyrus user with its state in DIR/cyrus.


write_cyrus_conf() {
  local c=$dir/cyrus tree
  tree=$(cyrus_tree)
  local ub=$tree/usr/lib/cyrus/bin
  mkdir -p "$c"/{lib,spool,sieve,www,run}
  mkdir -p "$c"/lib/{db,socket,proc,log,msg,user,quota,sync,ptclient,lock}
  # The daemons run as cyrus: their own copy of the server key.
  cp "$dir/server.key" "$c/server.key"
  chmod 600 "$c/server.key"
  # A fixed page with a fixed mtime, so ETag and Last-Modified are the same in every run.
  printf '<html><body>imtest lab</body></html>\n' >"$c/www/index.html"
  touch -d '2020-01-01 00:00:00 UTC' "$c/www/index.html"
  cat >"$c/imapd.conf" <<CONF
configdirectory: $c/lib
defaultpartition: default
partition-default: $c/spool
sievedir: $c/sieve
servername: lab.example
admins: $CYRUS_ADMIN otpmupdate otpsync
allowplaintext: yes
allowapop: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $c/sasldb2
sasl_mech_list: PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-256-PLUS OTP
tls_server_cert: $dir/server.pem
tls_server_key: $c/server.key
tls_client_ca_file: $dir/ca.pem
delete_mode: immediate
expunge_mode: immediate
failedloginpause: 0
autocreate_quota: 0
lmtpsocket: $c/lib/socket/lmtp
idlesocket: $c/lib/socket/idle
notifysocket: $c/lib/socket/notify
httpmodules: caldav carddav webdav
httpdocroot: $c/www
httpallowcompress: no
syslog_prefix: imtest-lab-cyrus
CONF
  local conf="-C $c/imapd.conf" at=127.0.0.1
  cat >"$c/cyrus.conf" <<CONF
START {
  recover cmd="$CYRUS_BIN/ctl_cyrusdb $conf -r"
}
SERVICES {
  imap cmd="$ub/imapd $conf" listen="$at:$CYRUS_IMAP_PORT" prefork=0
  imaps cmd="$ub/imapd -s $conf" listen="$at:$CYRUS_IMAPS_PORT" prefork=0
  pop3 cmd="$ub/pop3d $conf" listen="$at:$CYRUS_POP3_PORT" prefork=0
  pop3s cmd="$ub/pop3d -s $conf" listen="$at:$CYRUS_POP3S_PORT" prefork=0
  lmtp cmd="$CYRUS_BIN/lmtpd $conf" listen="$at:$CYRUS_LMTP_PORT" prefork=0
  sieve cmd="$CYRUS_BIN/timsieved $conf" listen="$at:$CYRUS_SIEVE_PORT" prefork=0
  nntp cmd="$ub/nntpd $conf" listen="$at:$NNTP_PORT" prefork=0
  nntps cmd="$ub/nntpd -s $conf" listen="$at:$NNTPS_PORT" prefork=0
  http cmd="$ub/httpd $conf" listen="$at:$HTTP_PORT" prefork=0
  https cmd="$ub/httpd -s $conf" listen="$at:$HTTPS_PORT" prefork=0
  mupdate cmd="$ub/mupdate -m $conf" listen="$at:$MUPDATE_PORT" prefork=1 maxchild=1
  syncserver cmd="$ub/sync_server $conf" listen="$at:$SYNC_PORT" prefork=0
}
EVENTS {
}
DAEMON {
}
CONF
  # Users in a sasldb: secrets in the clear (PLAIN, LOGIN, CRAM-MD5, DIGEST-MD5 with layers,
  # SCRAM, APOP) and an OTP secret; the realm is the servername.
  rm -f "$c/sasldb2"
  local pair
  for pair in tim:tanstaaftanstaaf bob:secret "$CYRUS_ADMIN:$CYRUS_ADMIN_PASS" \
    "${OTP_USERS[@]/%/:$OTP_PASS}"; do
    printf '%s' "${pair#*:}" | saslpasswd2 -f "$c/sasldb2" -u lab.example -p -c "${pair%%:*}"
  done
  chown -R cyrus:mail "$c"
}

start_cyrus() {
  # A clean environment; master logs to syslog only (its own -L for what it prints).
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$CYRUS_BIN/master" -C "$dir/cyrus/imapd.conf" \
    -M "$dir/cyrus/cyrus.conf" -p "$dir/cyrus/run/master.pid" -d -L "$dir/cyrus/master.log" \
    </dev/null >>"$dir/start.log" 2>&1 9<&- || return 1
  wait_ready "$CYRUS_IMAP_PORT:* OK" "$CYRUS_POP3_PORT:+OK" "$CYRUS_LMTP_PORT:220 " \
    "$CYRUS_SIEVE_PORT:\"IMPLEMENTATION\"" "$NNTP_PORT:20" "$MUPDATE_PORT:* AUTH" \
    "$SYNC_PORT:* SASL" "$HTTP_PORT" "$HTTPS_PORT" "$CYRUS_IMAPS_PORT" "$CYRUS_POP3S_PORT" \
    "$NNTPS_PORT" || return 1
  # Every user's INBOX now (created at the first login), and tim's and bob's DAV collections
  # (created at the first HTTP login), not by whichever tests log in first: httpd drops the
  # connection of a user without an INBOX once SCRAM succeeds, and fails assertions when two
  # first logins of a user run at once.
  python3 - "$CYRUS_IMAP_PORT" "$HTTP_PORT" tim:tanstaaftanstaaf bob:secret \
    "${OTP_USERS[@]/%/:$OTP_PASS}" <<'PY'
import base64, socket, sys
port, http_port = int(sys.argv[1]), int(sys.argv[2])
for pair in sys.argv[3:]:
    user, password = pair.split(":", 1)
    with socket.create_connection(("127.0.0.1", port), 10) as s:
        f = s.makefile("rb")
        f.readline()
        s.sendall(f"a LOGIN {user} {password}\r\nb LOGOUT\r\n".encode())
        while True:
            line = f.readline()
            if not line or line.startswith(b"a "):
                break
        if not line.startswith(b"a OK"):
            sys.exit(f"lab: Cyrus login of {user} failed: {line!r}")
for pair in sys.argv[3:5]:
    creds = base64.b64encode(pair.encode()).decode()
    with socket.create_connection(("127.0.0.1", http_port), 10) as s:
        s.sendall(f"OPTIONS * HTTP/1.1\r\nHost: lab.example\r\nAuthorization: Basic {creds}\r\n"
                  "Connection: close\r\n\r\n".encode())
        reply = s.makefile("rb").read()
        if not reply.startswith(b"HTTP/1.1 200"):
            sys.exit(f"lab: Cyrus HTTP login of {pair.split(':')[0]} failed: {reply[:80]!r}")
PY
}

start_all() {
  # Dovecot first: smtpd that finds no SASL listener is throttled by the Postfix master.
  if ! dovecot -c "$dir/dovecot.conf" 2>>"$dir/start.log" 9<&-; then
    return 1
  fi
  wait_ready "$IMAP_PORT:* OK" "$POP3_PORT:+OK" "$SIEVE_PORT:\"IMPLEMENTATION\"" \
    "$LMTP_PORT:220 " "$SUBMISSION_PORT:220 " "$AUTH_PORT" "$IMAPS_PORT" "$POP3S_PORT" \
    "$SUBMISSIONS_PORT" || return 1
  [ -S "$dir/lmtp.sock" ] || return 1
  # Banners come before the auth service is ready: wait for a real authentication.
  local n
  for n in $(seq 100); do
    doveadm -c "$dir/dovecot.conf" auth test tim tanstaaftanstaaf >/dev/null 2>&1 9<&- && break
    [ "$n" -lt 100 ] || return 1
    sleep 0.1
  done
  postfix -c "$dir/postfix" check >>"$dir/start.log" 2>&1 || true
  if ! postfix -c "$dir/postfix" start >>"$dir/start.log" 2>&1 9<&-; then
    return 1
  fi
  wait_ready "$SMTP_PORT:220 " "$SMTP_SUBMISSION_PORT:220 " "$SMTPS_PORT" "$SMTPS_TLS13_PORT" \
    "$SMTPS_WRONGHOST_PORT" || return 1
  start_cyrus
}

ok=0
for attempt in 1 2 3 4 5; do
  alloc_ports
  write_dovecot_conf
  write_postfix_conf
  write_cyrus_conf
  if start_all; then
    ok=1
    break
  fi
  echo "lab: start attempt $attempt failed (see $dir/start.log), retrying" >&2
  stop_all
  rm -rf "$dir/run" "$dir/state" "$dir/postfix-queue" "$dir/postfix-data" "$dir/cyrus"
  mkdir -p "$dir"/{run,state,postfix-queue,postfix-data}
  chown postfix "$dir/postfix-data"
done
if [ $ok -ne 1 ]; then
  echo "lab: could not start, see $dir/start.log and $dir/dovecot.log" >&2
  tail -n 20 "$dir/start.log" "$dir/dovecot.log" "$dir/postfix/maillog" >&2 2>/dev/null || true
  stop_all
  exit 1
fi
mv "$dir/ports.new" "$dir/ports"

if [ -n "$watch" ]; then
  # Detached from the caller's session and pipes: stops the lab once PID is gone.
  LAB_WATCH_PID=$watch LAB_SELF=$self LAB_DIR=$dir setsid bash -c '
    export LAB_WATCHDOG=$$
    while kill -0 "$LAB_WATCH_PID" 2>/dev/null; do sleep 1; done
    "$LAB_SELF" down "$LAB_DIR"' </dev/null >/dev/null 2>&1 9<&- &
  echo $! >"$dir/watch.pid"
fi
print_ports
