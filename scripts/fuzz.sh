#!/usr/bin/env bash
# Builds the libFuzzer harnesses of testing/fuzz/ (clang, DS_FUZZ=ON: libFuzzer + ASan + UBSan, in
# build-fuzz/) and runs each one for SECONDS. Fails if any target crashes; the crashing input is
# left in build-fuzz/crashes/<target>/ (keep it in testing/fuzz/regressions/<target>/ with the fix).
# Usage: scripts/fuzz.sh [SECONDS per target, default 30] [TARGET...]  (default: all targets)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
shift || true
all=(model_load nifti_check cohort_csv dataset_json cli_spec cli_args)
targets=("${@:-${all[@]}}")
dir="$root/build-fuzz"
jobs=$(nproc 2>/dev/null || echo 2)

"$root/scripts/bootstrap.sh"
CC=clang CXX=clang++ cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDS_FUZZ=ON >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log" >&2; exit 1; }
cmake --build "$dir" --parallel "$jobs" --target fuzz_all

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$root/testing/lsan.supp"
export DS_NUM_THREADS=1 OMP_NUM_THREADS=1
failed=()
for t in "${targets[@]}"; do
  work="$dir/corpus/$t" crashes="$dir/crashes/$t"
  mkdir -p "$work" "$crashes"
  seeds=("$root/testing/fuzz/corpus/$t")
  [[ -d "$root/testing/fuzz/regressions/$t" ]] && seeds+=("$root/testing/fuzz/regressions/$t")
  log="$dir/fuzz_$t.log"
  echo "== fuzz $t (${seconds}s)"
  # new inputs go to the first folder (the work copy), never into testing/
  if "$dir/testing/fuzz/fuzz_$t" "$work" "${seeds[@]}" -max_total_time="$seconds" \
       -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$crashes/" >"$log" 2>&1; then
    echo "   $(grep -m1 -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}') runs," \
         "$(find "$work" -type f | wc -l) inputs in the work corpus, no crash"
  else
    echo "   CRASH: see $log and $crashes/" >&2
    grep -m3 -E 'ERROR|runtime error|SUMMARY' "$log" >&2 || tail -20 "$log" >&2
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: crashes in ${failed[*]}" >&2
  exit 1
fi
