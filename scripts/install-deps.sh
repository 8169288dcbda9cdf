#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the demo need, if any is missing.
# Daemons are kept from starting on their standard ports while installing (policy-rc.d),
# and Postfix's debconf question is answered ("No configuration"): the tests run their own.
set -euo pipefail

packages=(
  build-essential pkg-config libssl-dev libsasl2-dev zlib1g-dev
  libsasl2-modules libsasl2-modules-otp sasl2-bin openssl
  cyrus-clients postfix valgrind
  debhelper dpkg-dev mandoc groff-base
  debootstrap iproute2 util-linux xz-utils python3
  dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-managesieved dovecot-submissiond
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]} (run as root or install them)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
trap '[ $created_policy -eq 1 ] && rm -f "$policy"' EXIT
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
