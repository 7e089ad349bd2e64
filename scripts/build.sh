#!/usr/bin/env bash
# Configures and builds DualSeg. Usage: scripts/build.sh [release|sanitize]
#   release   -> build/        (default; -O3, warnings are errors)
#   sanitize  -> build-asan/   (AddressSanitizer + UndefinedBehaviorSanitizer)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-release}
case "$kind" in
  release) dir="$root/build"; flags=(-DCMAKE_BUILD_TYPE=Release -DDS_SANITIZE=OFF) ;;
  sanitize) dir="$root/build-asan"; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DDS_SANITIZE=ON) ;;
  *) echo "build.sh: unknown build kind '$kind' (release or sanitize)" >&2; exit 2 ;;
esac
"$root/scripts/bootstrap.sh"
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S "$root" -B "$dir" -G Ninja "${flags[@]}" >"$dir.configure.log" 2>&1 || {
  cat "$dir.configure.log" >&2; exit 1; }
cmake --build "$dir" --parallel "$jobs"
