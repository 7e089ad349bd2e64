#!/usr/bin/env bash
# The test command of README.md (and of .ci/run): installs what is missing, builds, runs the whole
# CTest suite, then builds with ASan+UBSan and runs the suite again under the sanitizers, then
# fuzzes each parser briefly (scripts/fuzz.sh; DS_FUZZ_SECONDS per target, 0 to skip).
# Extra arguments go to ctest (for example: scripts/test.sh -L metrics).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

"$root/scripts/build.sh" release
echo "== tests (release build)"
(cd "$root/build" && ctest --output-on-failure --parallel "$jobs" "$@")

"$root/scripts/build.sh" sanitize
echo "== tests (ASan+UBSan build)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$root/testing/lsan.supp"
(cd "$root/build-asan" && ctest --output-on-failure --parallel "$jobs" "$@")

fuzz_seconds=${DS_FUZZ_SECONDS:-25}
if ((fuzz_seconds > 0)); then
  echo "== fuzz smoke (${fuzz_seconds}s per parser)"
  "$root/scripts/fuzz.sh" "$fuzz_seconds"
fi
