#!/usr/bin/env bash
# Runs the CLI end-to-end tests with every module executable (DualSegTrain, DualSegSegment,
# DualSegEvaluate) and the loop's tools (dualseg_annotate, dualseg_report) under valgrind
# memcheck, in the release build. Not part of CI: it is slow (see RELIABILITY.md for the time of
# the last run).
#
# Usage: scripts/valgrind_cli.sh [test-name-regex]
#   default regex: the module tests of label cli (test_cli_train, test_cli_segment,
#   test_cli_evaluate) and the reliability tests that run modules (hours on 2 busy cores: give a
#   narrower regex, e.g. '^(test_cli_segment|reliability_.*)$').
#   DS_VALGRIND_ARGS: extra valgrind options for every run (e.g. --track-origins=yes to
#   trace an uninitialised value to its allocation; about twice as slow).
# The --xml check of cli_check_xml (under 5 s) fails under valgrind: that is a time, not a memory
# error; so does test_reliability_load's RSS bound, as memcheck holds 20 MB of freed blocks back
# (DS_VALGRIND_ARGS='--freelist-vol=0 --freelist-big-blocks=0' for that check). The verdict on
# memory is the count of non-empty valgrind logs at the end.
#
# How: the executables (build/cli-modules, build/bin) are moved aside (<name>.real) and replaced
# by a two-line wrapper that execs valgrind on them (restored on exit, whatever happens). The test
# programs run directly, not through ctest, so that their ctest timeouts do not apply. A module or
# tool with a memory error or a definite leak exits 99, so the test that ran it fails; every
# valgrind log is kept in build/valgrind/ and summarised at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
regex=${1:-'^(test_cli_(train|segment|evaluate)|test_reliability_(kill|load)|reliability_.*)$'}
command -v valgrind >/dev/null || { echo "valgrind_cli.sh: valgrind is not installed" >&2; exit 2; }
[ -x "$build/cli-modules/DualSegTrain" ] || bash "$root/scripts/build.sh" release
cmake --build "$build" >/dev/null
exes="cli-modules/DualSegTrain cli-modules/DualSegSegment cli-modules/DualSegEvaluate
      bin/dualseg_annotate bin/dualseg_report"
logs="$build/valgrind"
rm -rf "$logs"
mkdir -p "$logs"
chmod 1777 "$logs" # a permission row runs its module as uid 65534

restore() {
  for e in $exes; do
    if [ -f "$build/$e.real" ]; then mv -f "$build/$e.real" "$build/$e"; fi
  done
}
trap restore EXIT
for e in $exes; do
  m=$(basename "$e")
  mv "$build/$e" "$build/$e.real"
  cat >"$build/$e" <<EOF
#!/bin/sh
exec valgrind --quiet ${DS_VALGRIND_ARGS:-} --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
  --errors-for-leak-kinds=definite --suppressions="$root/testing/valgrind.supp" --log-file="$logs/$m.%p.log" "$build/$e.real" "\$@"
EOF
  chmod +x "$build/$e"
done

# The tests' commands and environments, from ctest's own description of the suite.
cd "$build"
ctest --show-only=json-v1 >"$logs/tests.json"
/usr/bin/python3 - "$logs/tests.json" "$regex" >"$logs/commands.txt" <<'EOF'
import json, re, shlex, sys
tests = json.load(open(sys.argv[1]))["tests"]
for t in tests:
    if not re.search(sys.argv[2], t["name"]):
        continue
    env = []
    for p in t.get("properties", []):
        if p["name"] == "ENVIRONMENT":
            env = p["value"]
    print(t["name"], "\t", " ".join(shlex.quote(x) for x in env + t["command"]))
EOF
start=$(date +%s)
failed=0
while IFS=$'\t' read -r name cmd; do
  name=${name% }
  t0=$(date +%s)
  if (eval "env $cmd") >"$logs/$name.out" 2>&1; then result=passed; else result=FAILED; failed=$((failed + 1)); fi
  echo "$name: $result ($(( $(date +%s) - t0 )) s)"
  # a failure may be a check of time (cli_check_xml's 5 s): show which
  [ "$result" = passed ] || grep "check failed" "$logs/$name.out" | head -3 || true
done <"$logs/commands.txt"

runs=$(find "$logs" -name '*.log' | wc -l)
# --quiet leaves a log empty unless valgrind found something
dirty=$(find "$logs" -name '*.log' -size +0 | wc -l)
echo "valgrind: $runs runs of modules and tools, $dirty with errors or definite leaks; tests failed: $failed;" \
     "$(( $(date +%s) - start )) s"
for f in $(find "$logs" -name '*.log' -size +0); do
  echo "--- $f"
  grep -E "ERROR SUMMARY|definitely lost|Invalid|uninitialised" "$f" | head -5 || true
done
[ "$dirty" -eq 0 ] && [ "$failed" -eq 0 ]
