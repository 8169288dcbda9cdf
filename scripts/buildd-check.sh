#!/usr/bin/env bash
# A buildd-like check of the source package in dist/ (make dist), in a clean Debian 13
# (trixie) chroot:
#   1. a minbase chroot from debootstrap, kept pristine in CACHE between runs (a fresh copy
#      each run; downloaded .debs are kept in CACHE too);
#   2. the build dependencies from the .dsc, then dpkg-buildpackage as an unprivileged user
#      in a network namespace with only loopback, HOME=/nonexistent;
#   3. trixie's lintian on the .changes: no error or warning tags;
#   4. next to the C tools: cyrus-clients + cyrus-murder installed and checksummed, ours
#      installed beside them, the switch package installed (real STARTTLS + SCRAM session
#      through /usr/lib/cyrus/bin/imtest against a Dovecot in the chroot), removed again,
#      and the C tools' files compared with the checksums taken before;
#   5. the autopkgtest (debian/tests) with autopkgtest's null runner inside the chroot.
# Every chroot command runs in its own mount and PID namespace: /proc, /dev and /sys go
# away with it, and so does any daemon it started.
#
#   scripts/buildd-check.sh [DIST_DIR]       (root; needs debootstrap, util-linux, iproute2)
# Environment: BUILDD_CACHE (/var/cache/imtest-rs-buildd), BUILDD_MIRROR (the Debian
# mirror apt uses here, else http://deb.debian.org/debian), BUILDD_KEEP=1 keeps the work
# directory for a look afterwards.
set -euo pipefail
{ # The whole script is read before it runs (so that editing it cannot change a running check).

top=$(cd "$(dirname "$0")/.." && pwd)
dist=$(cd "${1:-$top/dist}" && pwd)
suite=trixie
cache=${BUILDD_CACHE:-/var/cache/imtest-rs-buildd}
arch=$(dpkg --print-architecture)
base=$cache/$suite-$arch-minbase.tar
dsc=$(ls "$dist"/imtest-rs_*.dsc | tail -n1)

say() { printf '\n=== buildd-check: %s (%ds)\n' "$*" "$SECONDS"; }
die() { echo "buildd-check: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot, namespaces)"
[ -f "$dsc" ] || die "no .dsc in $dist: run make dist"
for tool in debootstrap unshare ip; do
  command -v "$tool" >/dev/null || die "$tool missing (make deps installs it)"
done

mirror=${BUILDD_MIRROR:-}
if [ -z "$mirror" ]; then
  # The Debian mirror apt already uses (deb822 or one-line sources), else the CDN.
  mirror=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
    /etc/apt/sources.list.d/*.list | grep -oE 'https?://[^ ]+/debian/?( |$)' |
    grep -v -- '-security' | head -n1 | tr -d ' ' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi

mkdir -p "$cache/archives/partial"
exec 8>"$cache/lock"
flock 8 # one run at a time uses the cache

work=$(mktemp -d /var/tmp/imtest-buildd.XXXXXX)
root=$work/root
child=
cleanup() {
  local rc=$?
  # A namespace still running (the check was interrupted): its init process dies with
  # unshare (--kill-child), and every process in the namespace with it. SIGKILL, since
  # unshare holds back SIGTERM while its child runs.
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -KILL "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  # Mounts live in the namespaces only; this is a last guard before deleting the tree.
  if findmnt -rn -o TARGET | grep -qF "$work/"; then
    findmnt -rn -o TARGET | grep -F "$work/" | sort -r | xargs -r -n1 umount -l || true
  fi
  if [ "${BUILDD_KEEP:-}" = 1 ]; then
    echo "buildd-check: work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Runs a command in the chroot, in new mount and PID namespaces (and with --offline a
# network namespace that has only loopback). Everything it starts dies with it: the
# namespace's init is a root shell that waits for the command (an init that changed its
# user would lose unshare's kill-on-parent-death signal). unshare runs in the background so
# that a signal to this script is handled at once.
run() {
  local net=()
  if [ "$1" = --offline ]; then
    net=(--net)
    shift
  fi
  unshare --mount --pid --fork --kill-child "${net[@]}" -- /bin/bash -c '
    set -e
    root=$1 archives=$2 offline=$3
    shift 3
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --rbind /dev "$root/dev"
    mount --bind "$archives" "$root/var/cache/apt/archives"
    if [ "$offline" = 1 ]; then ip link set lo up; fi
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
      HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive TERM=dumb "$@"
  ' buildd-run "$root" "$cache/archives" "$([ ${#net[@]} -gt 0 ] && echo 1 || echo 0)" "$@" &
  child=$!
  local rc=0
  wait "$child" || rc=$?
  child=
  return $rc
}
# apt-get's output goes to a log, shown when it fails.
apt_get() {
  run apt-get -q -y -o Dpkg::Use-Pty=0 "$@" >"$work/apt.log" 2>&1 ||
    { tail -n 40 "$work/apt.log" >&2; die "apt-get $* failed"; }
}
# dpkg likewise; the lines that say what it did are shown.
dpkg_do() {
  run --offline dpkg "$@" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; die "dpkg $* failed"; }
  grep -E "^(Setting up|Removing) " "$work/dpkg.log" | grep -v "^Removing 'diversion" || true
  echo "$(grep -c "diversion of" "$work/dpkg.log" || true) diversions added or removed"
}

if [ ! -f "$base" ]; then
  say "debootstrap --variant=minbase $suite from $mirror (cached in $base)"
  staging=$work/debootstrap
  debootstrap --variant=minbase --arch="$arch" "$suite" "$staging" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  tar -C "$staging" --numeric-owner -cf "$base.tmp" .
  mv "$base.tmp" "$base"
  rm -rf "$staging"
fi

say "fresh copy of the pristine $suite base"
mkdir -p "$root"
tar -C "$root" --numeric-owner -xf "$base"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
# As on a buildd: no recommends, no daemons started by maintainer scripts, no fsync.
cat >"$root/etc/apt/apt.conf.d/90buildd" <<'EOF'
APT::Install-Recommends "false";
APT::Keep-Downloaded-Packages "true";
Acquire::Languages "none";
EOF
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/buildd-unsafe-io"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
echo 'man-db man-db/auto-update boolean false' | chroot "$root" debconf-set-selections
chmod 755 "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/build"
cp "$dsc" "$root/build/"
for f in $(sed -n '/^Files:/,/^[^ ]/s/^ [0-9a-f]* [0-9]* //p' "$dsc"); do
  cp "$dist/$f" "$root/build/"
done
dsc_name=$(basename "$dsc")

say "apt-get update; build dependencies from $dsc_name"
apt_get update
apt_get install --no-install-recommends build-essential fakeroot dpkg-dev
run sh -c "cd /build && dpkg-source -x $dsc_name src >/dev/null"
apt_get build-dep --no-install-recommends "./build/$dsc_name"
run sh -c 'rustc --version; cargo --version'

say "dpkg-buildpackage as an unprivileged user, offline (loopback only), HOME=/nonexistent"
run sh -c 'useradd --system --no-create-home --home-dir /nonexistent builder && chown -R builder: /build'
run --offline setpriv --reuid=builder --regid=builder --init-groups /bin/sh -c '
  set -e
  cd /build/src
  echo "network interfaces: $(ls /sys/class/net)"
  HOME=/nonexistent DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -us -uc -sa \
    >/build/build.log 2>&1 || { tail -n 60 /build/build.log; exit 1; }
  grep -E "^(dpkg-deb: building|   Compiling imtest|    Finished|test result)" /build/build.log
'
changes=$(cd "$root/build" && ls imtest-rs_*_"$arch".changes)

say "lintian on $changes"
apt_get install --no-install-recommends lintian
run --offline setpriv --reuid=builder --regid=builder --init-groups env HOME=/nonexistent lintian --fail-on error,warning --display-info --tag-display-limit 0 \
  "/build/$changes" || die "lintian reports errors or warnings"

say "cyrus-clients + cyrus-murder, then ours next to them"
# cyrus-murder needs cyrus-imapd and cyrus-pop3d, which conflict with dovecot-imapd and
# dovecot-pop3d: Dovecot's IMAP and POP3 programs are unpacked beside, not installed.
apt_get install --no-install-recommends cyrus-clients cyrus-murder dovecot-core openssl \
  libsasl2-modules
run sh -c 'set -e; mkdir -p /srv/dovecot-debs /srv/dovecot; cd /srv/dovecot-debs
  apt-get download -q -o APT::Sandbox::User=root dovecot-imapd dovecot-pop3d >/dev/null
  for deb in *.deb; do dpkg -x "$deb" /srv/dovecot/; done'
services=/srv/dovecot/usr/lib/dovecot
sums() {
  # Every file and symlink of the two packages (trixie's sibling names are links to
  # imtest), with its checksum or target, as it really is on disk.
  run sh -c 'dpkg -L cyrus-clients cyrus-murder | sort -u | while read -r f; do
    if [ -L "$f" ]; then echo "link:$(readlink "$f")  $f"
    elif [ -f "$f" ]; then sha256sum "$f"; fi; done'
}
sums >"$work/sums.before"
echo "files checksummed: $(grep -vc '^link:' "$work/sums.before"), links: $(grep -c '^link:' "$work/sums.before")"
debs=$(cd "$root/build" && ls imtest-rs_*_"$arch".deb)
names_deb=$(cd "$root/build" && ls imtest-rs-cyrus-names_*_all.deb)
dpkg_do -i "/build/$debs"
# --remap-path-prefix: the build directory is nowhere in the binary.
! grep -aq /build/src "$root/usr/lib/imtest-rs/bin/imtest" || die "build path in the binary"
run sh -c 'dpkg -s cyrus-clients cyrus-murder imtest-rs | grep -E "^(Package|Status):"'
run --offline env DOVECOT_SERVICES=$services /build/src/debian/tests/session

say "switch: $names_deb (/usr/lib/cyrus/bin and cyrus-*(1) run ours)"
dpkg_do -i "/build/$names_deb"
run --offline sh -c 'set -e
  dpkg-divert --list imtest-rs-cyrus-names | grep -c . | sed "s/$/ diversions in place/"
  readlink -f /usr/lib/cyrus/bin/imtest /usr/lib/cyrus/bin/mupdatetest \
    /usr/share/man/man1/cyrus-imtest.1.gz
  /usr/lib/cyrus/bin/mupdatetest --version
  DOVECOT_SERVICES='"$services"' /build/src/debian/tests/session /usr/lib/cyrus/bin'

say "switch back: remove $names_deb, compare the C tools' files"
dpkg_do -r imtest-rs-cyrus-names
[ -z "$(run dpkg-divert --list imtest-rs-cyrus-names)" ] || die "diversions left"
sums >"$work/sums.after"
diff -u "$work/sums.before" "$work/sums.after" || die "the C tools' files changed"
run sh -c 'dpkg --verify cyrus-clients cyrus-murder' || die "dpkg --verify"
echo "cyrus-clients and cyrus-murder: every file as before"
[ ! -L "$root/usr/lib/cyrus/bin/imtest" ] || die "/usr/lib/cyrus/bin/imtest is still a link"

say "autopkgtest (null runner, inside the chroot)"
# Its dependencies (dovecot-imapd, dovecot-pop3d) conflict with cyrus-murder's servers.
apt_get purge cyrus-murder cyrus-imapd cyrus-pop3d
apt_get install --no-install-recommends autopkgtest
run autopkgtest "/build/$changes" -- null >"$work/autopkgtest.log" 2>&1 ||
  { cat "$work/autopkgtest.log" >&2; die "autopkgtest failed"; }
sed -n '/@@@@ summary/,$p' "$work/autopkgtest.log" | grep -E '^[a-z0-9-]+ +(PASS|FAIL|SKIP)'

say "all passed"
exit 0
}
