#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the demo need, if any is missing.
# Daemons are kept from starting on their standard ports while installing (policy-rc.d),
# and Postfix's debconf question is answered ("No configuration"): the tests run their own.
# The Cyrus daemons the lab runs (cyrus-imapd, -pop3d, -nntpd, -caldav, -murder,
# -replication, the version of the installed cyrus-common) conflict with Dovecot's packages:
# they are downloaded and unpacked, never installed, into /var/cache/imtest/cyrus-<version>
# (or $IMTEST_CYRUS_ROOT), once.
set -euo pipefail

packages=(
  build-essential pkg-config libssl-dev libsasl2-dev zlib1g-dev
  libsasl2-modules libsasl2-modules-otp sasl2-bin openssl
  cyrus-clients postfix valgrind libshp2
  debhelper dpkg-dev mandoc groff-base
  dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-managesieved dovecot-submissiond
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
cyrus_packages=(cyrus-imapd cyrus-pop3d cyrus-nntpd cyrus-caldav cyrus-murder cyrus-replication)
cyrus_tree() {
  local version
  version=$(dpkg-query -W -f='${Version}' cyrus-common 2>/dev/null || true)
  echo "${IMTEST_CYRUS_ROOT:-/var/cache/imtest/cyrus-$version}"
}
# The unpacked daemons, if the tree is missing (cyrus-common must be installed first).
unpack_cyrus() {
  local tree version tmp p
  tree=$(cyrus_tree)
  [ -x "$tree/usr/lib/cyrus/bin/httpd" ] && return 0
  if [ "$(id -u)" -ne 0 ] && [ ! -w "$(dirname "$tree")" ]; then
    echo "install-deps: the Cyrus daemons are missing in $tree (run as root)" >&2
    exit 1
  fi
  version=$(dpkg-query -W -f='${Version}' cyrus-common)
  echo "install-deps: unpacking ${cyrus_packages[*]} $version into $tree"
  tmp=$(mktemp -d)
  chmod 755 "$tmp"
  local wanted=()
  for p in "${cyrus_packages[@]}"; do wanted+=("$p=$version"); done
  if ! (cd "$tmp" && apt-get download -q "${wanted[@]}" >/dev/null 2>&1); then
    apt-get update -q >/dev/null
    (cd "$tmp" && apt-get download -q "${wanted[@]}" >/dev/null)
  fi
  mkdir -p "$tmp/root"
  for p in "$tmp"/*.deb; do dpkg -x "$p" "$tmp/root"; done
  mkdir -p "$(dirname "$tree")"
  rm -rf "$tree"
  mv "$tmp/root" "$tree"
  rm -rf "$tmp"
}

if [ ${#missing[@]} -eq 0 ]; then
  unpack_cyrus
  exit 0
fi

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
unpack_cyrus
