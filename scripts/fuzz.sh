#!/usr/bin/env bash
# The fuzz targets in fuzz/ (cargo-fuzz / libFuzzer), over the parsers of server data.
#
#   scripts/fuzz.sh smoke [SECONDS]   each target SECONDS (default 4) from the saved corpus
#                                     fuzz/corpus/<target>; new inputs go to a temp dir, so the
#                                     tree is not touched (what `make test` runs)
#   scripts/fuzz.sh long [SECONDS]    each target SECONDS (default 60); new inputs are added to
#                                     fuzz/corpus/<target> (what `make fuzz` runs)
#
# FUZZ_TARGETS="a b" limits the targets; FUZZ_RUNS=N stops each target after N executions
# (whichever of time and runs comes first). Installs cargo-fuzz if missing; uses the nightly
# toolchain when there is one, otherwise the stable one with RUSTC_BOOTSTRAP=1 (no toolchain
# can be fetched on a fresh machine). A crash fails the run and leaves the input in
# fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-smoke}
case "$mode" in
  smoke) seconds=${2:-4} ;;
  long) seconds=${2:-60} ;;
  *) echo "usage: $0 smoke|long [SECONDS]" >&2; exit 2 ;;
esac

if ! command -v cargo-fuzz >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo-fuzz" ]; then
  echo "fuzz: installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi
export PATH="$HOME/.cargo/bin:$PATH"

if rustup run nightly rustc --version >/dev/null 2>&1; then
  cargo=(cargo +nightly)
else
  export RUSTC_BOOTSTRAP=1
  cargo=(cargo)
fi

targets=${FUZZ_TARGETS:-"capability_lines apop_greeting http_challenge haproxy_header stdin_splitter sasl_reply"}
triple=$(rustc -vV | sed -n 's/^host: //p')
(cd fuzz && "${cargo[@]}" fuzz build -O)
bin=fuzz/target/$triple/release

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
runs_flag=()
[ -n "${FUZZ_RUNS:-}" ] && runs_flag=(-runs="$FUZZ_RUNS")

status=0
for t in $targets; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  if [ "$mode" = smoke ]; then
    dirs=("$scratch/$t" "fuzz/corpus/$t")
    mkdir -p "$scratch/$t"
  else
    dirs=("fuzz/corpus/$t")
  fi
  log=$scratch/$t.log
  if "$bin/$t" -max_total_time="$seconds" "${runs_flag[@]}" -print_final_stats=1 \
      -artifact_prefix="fuzz/artifacts/$t/" "${dirs[@]}" >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  printf 'fuzz %-17s %s: %s executions in %s s, saved corpus %s inputs\n' \
    "$t" "$result" "${runs:-?}" "${secs:-?}" "$corpus"
  if [ $result = FAILED ]; then
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -20 >&2 || tail -30 "$log" >&2
  fi
done
exit $status
