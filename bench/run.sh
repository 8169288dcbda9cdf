#!/usr/bin/env bash
# `make bench`: ours (target/release/imtest) against the C tool on a throw-away Dovecot.
# Installs hyperfine and GNU time if missing, starts the lab, runs bench/bench.py (which
# writes bench/RESULTS.md) and stops the lab again, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

ours=${BENCH_OURS:-target/release/imtest}
c_tool=${BENCH_C:-/usr/lib/cyrus/bin/imtest}
[ -x "$ours" ] || { echo "bench: $ours missing (make release)" >&2; exit 1; }
[ -x "$c_tool" ] || { echo "bench: $c_tool missing (cyrus-clients)" >&2; exit 1; }

missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bench: missing packages: ${missing[*]} (run as root or install them)" >&2
    exit 1
  fi
  echo "bench: installing ${missing[*]}" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi

lab=$(mktemp -d /tmp/imtest-bench-lab.XXXXXX)
trap 'scripts/lab.sh down "$lab" >/dev/null 2>&1 || true' EXIT
scripts/lab.sh up "$lab" >/dev/null
python3 bench/bench.py --lab "$lab" --ours "$ours" --c "$c_tool" --out bench/RESULTS.md
