#!/usr/bin/env bash
# A throw-away Dovecot on 127.0.0.1 high ports, all state in one directory.
#   scripts/lab.sh up DIR     start it (prints the ports and users), leaves it running
#   scripts/lab.sh down DIR   stop it and remove DIR
# Users: tim / tanstaaftanstaaf and bob / secret, all mechanisms Dovecot offers,
# a throw-away CA ($DIR/ca.pem) and a client certificate for tim ($DIR/tim.pem).
set -euo pipefail

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 up|down DIR" >&2; exit 2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

case "$cmd" in
down)
  if [ -f "$dir/dovecot.conf" ]; then
    doveadm -c "$dir/dovecot.conf" stop 2>/dev/null || true
    for _ in $(seq 50); do [ -e "$dir/run/master.pid" ] || break; sleep 0.1; done
  fi
  rm -rf "$dir"
  exit 0
  ;;
up) ;;
*) echo "usage: $0 up|down DIR" >&2; exit 2 ;;
esac

mkdir -p "$dir"/{run,state,mail}
dir=$(cd "$dir" && pwd)
# Dovecot's unprivileged auth process must reach the passwd-file (mktemp -d makes 0700).
chmod 755 "$dir"
chown mail:mail "$dir/mail"

# Certificates: a CA, a server certificate for localhost/127.0.0.1, a client cert for tim.
(
  cd "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=imtest lab CA" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n' >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
    -days 2 -extfile server.ext 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout tim.key -out tim.csr -subj "/CN=tim" 2>/dev/null
  openssl x509 -req -in tim.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out tim.crt -days 2 2>/dev/null
  cat tim.crt tim.key >tim.pem
)

imap=$(free_port); imaps=$(free_port)
cat >"$dir/users" <<USERS
tim:{PLAIN}tanstaaftanstaaf
bob:{PLAIN}secret
USERS

cat >"$dir/dovecot.conf" <<CONF
instance_name = imtest-lab-$imap
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = yes
ssl_cert = <$dir/server.pem
ssl_key = <$dir/server.key
ssl_ca = <$dir/ca.pem
ssl_verify_client_cert = no
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 digest-md5 scram-sha-1 scram-sha-256
auth_failure_delay = 0
mail_location = maildir:$dir/mail/%u
mail_uid = mail
mail_gid = mail
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = $dir/users
}
userdb {
  driver = static
  args = allow_all_users=yes
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps
    ssl = yes
  }
}
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
CONF
[ -f /usr/share/dovecot/dh.pem ] && echo "ssl_dh = </usr/share/dovecot/dh.pem" >>"$dir/dovecot.conf"

dovecot -c "$dir/dovecot.conf"
for _ in $(seq 100); do
  if python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$imap),1); sys.exit(0 if s.recv(100).startswith(b'* OK') else 1)" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
# The banner comes before the auth service is ready: wait for a real authentication.
for _ in $(seq 100); do
  doveadm -c "$dir/dovecot.conf" auth test tim tanstaaftanstaaf >/dev/null 2>&1 && break
  sleep 0.1
done
cat >"$dir/ports" <<PORTS
IMAP_PORT=$imap
IMAPS_PORT=$imaps
PORTS
echo "Dovecot up in $dir: IMAP 127.0.0.1:$imap (STARTTLS), IMAPS 127.0.0.1:$imaps"
