#!/usr/bin/env bash
# Writes the Debian source package into dist/: format 3.0 (quilt), the project's
# .orig.tar.xz, a second component .orig-vendor.tar.xz holding the locked crates
# (`cargo vendor --locked`, pruned of what the build never uses, checksums fixed so that
# cargo accepts the pruned tree), the .debian.tar.xz and the .dsc. After this, building the
# package needs no network (see docs/packaging.md).
#
#   scripts/dist.sh [OUTDIR]        OUTDIR defaults to dist/
#
# Needs: cargo (any version that reads Cargo.lock; the crates come from the registry or
# cargo's cache), dpkg-dev, xz-utils, python3. Tarballs are reproducible: sorted names,
# owner root, times set to the date of the newest debian/changelog entry.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/dist}
cd "$top"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
debversion=$(dpkg-parsechangelog -S Version)
[ "${debversion%-*}" = "$version" ] || {
  echo "dist: debian/changelog is at $debversion, Cargo.toml at $version" >&2
  exit 1
}
epoch=$(dpkg-parsechangelog -S Timestamp)
name=imtest-rs
tar_opts=(--sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch"
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime)

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/imtest-dist.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -f "$out/${name}_${version}"[.-]*

# 1. The project's own files: what git tracks (as they are in the working tree), or every
#    file when there is no git checkout; debian/ goes into its own tarball.
src="$work/$name-$version"
mkdir -p "$src"
if git rev-parse --git-dir >/dev/null 2>&1; then
  git ls-files -z | while IFS= read -r -d '' f; do
    [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
  done
else
  find . \( -path ./target -o -path ./dist -o -path ./vendor -o -path ./.git \) -prune \
    -o \( -type f -o -type l \) -print0 | sed -z 's|^\./||'
fi | grep -zv '^debian/' | tar -C "$top" --null -T - -cf - | tar -C "$src" -xf -
tar -C "$work" "${tar_opts[@]}" -cf - "$name-$version" | xz -6 -T1 >"$out/${name}_$version.orig.tar.xz"

# 2. The crates, exactly as Cargo.lock pins them.
vendor="$work/vendor"
cargo vendor --quiet --locked --versioned-dirs --manifest-path "$top/Cargo.toml" "$vendor" >/dev/null
"$top/scripts/prune-vendor.py" "$vendor"
tar -C "$work" "${tar_opts[@]}" -cf - vendor | xz -6 -T1 >"$out/${name}_$version.orig-vendor.tar.xz"

# 3. debian/ and the .dsc, made by dpkg-source from the unpacked tree.
mv "$vendor" "$src/vendor"
cp -a "$top/debian" "$src/debian"
ln -s "$out/${name}_$version.orig.tar.xz" "$out/${name}_$version.orig-vendor.tar.xz" "$work/"
(cd "$work" && SOURCE_DATE_EPOCH=$epoch dpkg-source -b "$name-$version" >/dev/null)
mv "$work/${name}_$debversion.debian.tar.xz" "$work/${name}_$debversion.dsc" "$out/"
echo "dist: $out/${name}_$debversion.dsc"
