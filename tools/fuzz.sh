#!/usr/bin/env bash
# Builds and runs pyml's two fuzzers with clang + ASan:
#   - build/fuzz/pyml_decode_fuzzer: libFuzzer over the C++ decode + preprocess (ASan + UBSan)
#   - tests/reliability/fuzz_native.py: atheris over the Python module's decode,
#     batch preprocess and postprocess, on a coverage-instrumented ASan build of pyml._native
#
#   bash tools/fuzz.sh smoke            # a few thousand inputs each (the test suite runs this)
#   bash tools/fuzz.sh long [RUNS]      # RUNS inputs each (default 1,000,000); corpora kept in build/fuzz-corpus
#   FUZZ_MAX_SECONDS=1800 bash tools/fuzz.sh long   # ...or stop each fuzzer after this long
#   FUZZ_ONLY=cpp|python                            # run one of the two
#
# Needs clang and libclang-rt-14-dev (Debian) and atheris (PyPI). A finding stops
# the fuzzer with a non-zero exit and leaves the input in build/fuzz-findings/.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-smoke}
RUNS=${2:-1000000}
[ "$MODE" = smoke ] && RUNS=3000
PYTHON=${PYTHON:-python3}
GENERATOR=()
command -v ninja >/dev/null 2>&1 && GENERATOR=(-G Ninja)

build() {  # build dir, then extra cmake flags
  local dir=$1
  shift
  CXX=clang++ cmake -S . -B "$dir" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPYML_FUZZ=ON "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)" >/dev/null
}

run() {  # name, command...: full output in build/fuzz-<name>.log, a summary here
  local log=build/fuzz-$1.log
  shift
  local status=0
  "$@" >"$log" 2>&1 || status=$?
  grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss|Done [0-9]+)" "$log" || true
  if [ "$status" -ne 0 ]; then
    echo "fuzzer failed (exit $status); the end of $log:" >&2
    tail -n 40 "$log" >&2
    return "$status"
  fi
}

SEEDS=tests/reliability/corpus
FINDINGS=build/fuzz-findings
mkdir -p "$FINDINGS" build/fuzz-corpus/cpp build/fuzz-corpus/python
FLAGS=(-rss_limit_mb=3072 -timeout=20 -print_final_stats=1 "-artifact_prefix=$FINDINGS/"
       -max_total_time="${FUZZ_MAX_SECONDS:-0}")
ONLY=${FUZZ_ONLY:-both}

if [ "$ONLY" != python ]; then
echo "== libFuzzer: C++ decode + preprocess ($RUNS inputs)"
build build/fuzz -DPYML_BUILD_PYTHON=OFF
run cpp build/fuzz/pyml_decode_fuzzer "${FLAGS[@]}" -runs="$RUNS" build/fuzz-corpus/cpp "$SEEDS"

fi

if [ "$ONLY" != cpp ]; then
echo "== atheris: pyml._native decode, batch preprocess, postprocess ($RUNS inputs)"
build build/fuzz-python -DPYML_BUILD_PYTHON=ON -DPython_EXECUTABLE="$(command -v "$PYTHON")" \
  -Dpybind11_DIR="$("$PYTHON" -c 'import pybind11; print(pybind11.get_cmake_dir())')" \
  -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$PWD/build/fuzz-python/module"
ATHERIS_DIR=$("$PYTHON" -c 'import atheris; print(atheris.path())')
run python env PYML_FUZZ_NATIVE=build/fuzz-python/module LD_PRELOAD="$ATHERIS_DIR/asan_with_fuzzer.so" \
  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
  "$PYTHON" tests/reliability/fuzz_native.py "${FLAGS[@]}" -atheris_runs="$RUNS" build/fuzz-corpus/python "$SEEDS"
fi
