#!/usr/bin/env bash
# `make demo`: a real session against a throw-away Dovecot on loopback — STARTTLS,
# SCRAM-SHA-256, CAPABILITY, SELECT INBOX, LOGOUT — printing the transcript.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${IMTEST:-target/release/imtest}
lab=$(mktemp -d /tmp/imtest-demo.XXXXXX)
trap 'scripts/lab.sh down "$lab" >/dev/null 2>&1 || true' EXIT
scripts/lab.sh up "$lab"
. "$lab/ports"
echo
echo "\$ printf 'a1 CAPABILITY\\na2 SELECT INBOX\\n' | imtest -t \"\" -m scram-sha-256 -a tim -w tanstaaftanstaaf -p $IMAP_PORT 127.0.0.1"
printf 'a1 CAPABILITY\na2 SELECT INBOX\n' |
  timeout 30 "$bin" -t "" -m scram-sha-256 -a tim -w tanstaaftanstaaf -p "$IMAP_PORT" 127.0.0.1
