#!/usr/bin/env bash
# The whole test suite: C++ unit tests (ctest), the same under ASan+UBSan, a fuzz smoke run, then pytest.
# Extra arguments go to pytest. Set PYML_SKIP_SANITIZERS=1 to skip the sanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
JOBS=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
GENERATOR=()
command -v ninja >/dev/null 2>&1 && GENERATOR=(-G Ninja)

run_ctest() {  # build dir, extra cmake flags...
  local dir=$1
  shift
  cmake -S . -B "$dir" "${GENERATOR[@]}" -DPYML_BUILD_PYTHON=OFF -DPYML_BUILD_TESTS=ON "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS" >/dev/null
  if ! ctest --test-dir "$dir" --output-on-failure -j "$JOBS" >"$dir/ctest.log" 2>&1; then
    cat "$dir/ctest.log"
    return 1
  fi
  tail -n 3 "$dir/ctest.log"
}

echo "== Lint and format (ruff with the rules in pyproject.toml; clang-format with .clang-format)"
"$PYTHON" -m ruff check --quiet . || { echo "lint failed: ruff check . --fix repairs most of it"; exit 1; }
"$PYTHON" -m ruff format --check --quiet . || { echo "format: run ruff format ."; exit 1; }
# the pinned clang-format of the test extras, whatever else is on PATH
CLANG_FORMAT=$("$PYTHON" -c 'import clang_format; print(clang_format.get_executable("clang-format"))')
git ls-files 'csrc/*.cpp' 'csrc/*.h' | xargs "$CLANG_FORMAT" --dry-run --Werror \
  || { echo "format: run clang-format -i on the files above"; exit 1; }

echo "== Type check (mypy --strict on the typed modules listed in pyproject.toml)"
"$PYTHON" -m mypy || { echo "type check failed: see the lines above"; exit 1; }

echo "== C++ unit tests"
run_ctest build/cpp-tests -DCMAKE_BUILD_TYPE=Release
if [ "${PYML_SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "== C++ unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_ctest build/cpp-tests-asan -DCMAKE_BUILD_TYPE=Debug -DPYML_SANITIZE=ON
fi

echo "== Fuzz smoke (libFuzzer + atheris, a few thousand inputs each)"
if command -v clang++ >/dev/null 2>&1; then
  bash tools/fuzz.sh smoke
else
  echo "skipped: clang++ is not installed (tools/bootstrap.sh installs it)"
fi

echo "== Python tests"
"$PYTHON" -m pytest --durations=30 "$@"  # the slowest tests, to keep the quick tier honest
