#!/usr/bin/env python3
"""Prunes a `cargo vendor` tree of what the Debian build never uses, then rewrites each
crate's .cargo-checksum.json so that cargo accepts the pruned tree.

Removed: the C sources that sasl2-sys and libz-sys bundle for static builds (the package
links the system's libsasl2 and zlib), the Windows-only crates (reduced to a manifest and an
empty library), and test, bench, example and test-data directories. The "package" checksum stays: it
is the checksum of the .crate file that Cargo.lock pins.

    prune-vendor.py VENDOR_DIR
"""

import hashlib
import json
import os
import re
import shutil
import sys

# Paths inside a crate, by crate name, that only a bundled (static) build reads.
BUNDLED = {
    "sasl2-sys": ["sasl2", "patch", "update.sh"],
    "libz-sys": ["src/zlib", "src/zlib-ng"],
}
# Crates built for Windows targets only: kept as a manifest and an empty library.
WINDOWS_ONLY = re.compile(
    r"^(windows-sys|windows-link|windows-targets|windows_[a-z0-9_]+|anstyle-wincon)$"
)
KEEP_IN_STUB = re.compile(r"^(Cargo\.toml|LICENSE.*|license.*|COPYING.*)$")
EVERYWHERE = ["tests", "benches", "examples", "test-data"]


def crate_name(directory):
    with open(os.path.join(directory, "Cargo.toml"), encoding="utf-8") as manifest:
        in_package = False
        for line in manifest:
            line = line.strip()
            if line.startswith("["):
                in_package = line == "[package]"
            elif in_package and line.startswith("name"):
                return line.split("=", 1)[1].strip().strip('"')
    raise SystemExit(f"prune-vendor: no package name in {directory}/Cargo.toml")


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def manifest_mentions(directory, sub):
    """True when the manifest names a file under `sub` (an explicit target path)."""
    with open(os.path.join(directory, "Cargo.toml"), encoding="utf-8") as manifest:
        return re.search(r'path\s*=\s*"' + re.escape(sub) + "/", manifest.read()) is not None


def prune(directory):
    name = crate_name(directory)
    if WINDOWS_ONLY.match(name):
        for entry in os.listdir(directory):
            if entry != ".cargo-checksum.json" and not KEEP_IN_STUB.match(entry):
                remove(os.path.join(directory, entry))
        os.makedirs(os.path.join(directory, "src"))
        with open(os.path.join(directory, "src/lib.rs"), "w", encoding="utf-8") as lib:
            lib.write("// Emptied for the Debian source package: Windows-only crate.\n")
        drop_targets(directory)
    for sub in BUNDLED.get(name, []):
        remove(os.path.join(directory, sub))
    for sub in EVERYWHERE:
        if not manifest_mentions(directory, sub):
            remove(os.path.join(directory, sub))
    drop_targets(directory, only_missing=True)


def drop_targets(directory, only_missing=False):
    """Removes [[test]]/[[bench]]/[[example]] tables whose file is gone (cargo would
    otherwise refuse the manifest); with only_missing False, every such table."""
    path = os.path.join(directory, "Cargo.toml")
    with open(path, encoding="utf-8") as manifest:
        text = manifest.read()
    kinds = {"test": "tests", "bench": "benches", "example": "examples"}
    out, skipping = [], False
    for block in re.split(r"(?m)^(?=\[)", text):
        header = re.match(r"\[\[(test|bench|example)\]\]", block)
        if header:
            kind = header.group(1)
            explicit = re.search(r'(?m)^path\s*=\s*"([^"]+)"', block)
            named = re.search(r'(?m)^name\s*=\s*"([^"]+)"', block)
            target = explicit.group(1) if explicit else (
                f"{kinds[kind]}/{named.group(1)}.rs" if named else "")
            target_path = os.path.join(directory, target)
            gone = not (os.path.exists(target_path)
                        or os.path.exists(target_path[:-3] + "/main.rs"))
            if not only_missing or gone:
                continue
        out.append(block)
    new = "".join(out)
    if new != text:
        with open(path, "w", encoding="utf-8") as manifest:
            manifest.write(new)


def fix_checksums(directory):
    path = os.path.join(directory, ".cargo-checksum.json")
    with open(path, encoding="utf-8") as f:
        checksums = json.load(f)
    files = {}
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        for entry in sorted(names):
            full = os.path.join(root, entry)
            rel = os.path.relpath(full, directory)
            if rel == ".cargo-checksum.json":
                continue
            with open(full, "rb") as f:
                files[rel] = hashlib.sha256(f.read()).hexdigest()
    checksums["files"] = files
    with open(path, "w", encoding="utf-8") as f:
        json.dump(checksums, f, sort_keys=True, separators=(",", ":"))


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    vendor = sys.argv[1]
    for entry in sorted(os.listdir(vendor)):
        directory = os.path.join(vendor, entry)
        if os.path.isfile(os.path.join(directory, ".cargo-checksum.json")):
            prune(directory)
            fix_checksums(directory)


if __name__ == "__main__":
    main()
