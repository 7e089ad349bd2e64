#!/usr/bin/env bash
# Evidence for the freetype_2_12_cur_weight_* entries of testing/valgrind.supp: builds two small
# programs without any DualSeg code, one on FreeType's cache alone, one on VTK's text rendering
# alone, and runs each under memcheck both as shipped and with the manager's cur_weight defined
# (calloc allocator / one write of 0). Expected on Debian bookworm (FreeType 2.12.1, VTK 9.1):
# errors as shipped, none with cur_weight defined, and the suppressions silencing the VTK one
# only. Once it shows no errors as shipped, the FreeType entries can go.
# Usage: testing/valgrind/freetype_repro.sh   (about 20 s; needs valgrind, gcc, g++)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -std=c11 -O1 -g -Wall -Wextra -Werror -I/usr/include/freetype2 "$here/ft_cache_repro.c" \
  -lfreetype -o "$tmp/ft_cache_repro"
g++ -std=c++17 -O1 -g -Wall -Wextra -Werror -I/usr/include/vtk-9.1 -I/usr/include/freetype2 \
  "$here/vtk_text_repro.cxx" -lvtkRenderingFreeType-9.1 -lvtkRenderingCore-9.1 \
  -lvtkCommonDataModel-9.1 -lvtkCommonCore-9.1 -o "$tmp/vtk_text_repro"
run() { # label, valgrind options..., program, argument
  local label=$1; shift
  echo "== $label"
  valgrind "$@" 2>&1 | grep -E "undefined bytes|wide|rendered|ERROR SUMMARY" |
    sed 's/^==[0-9]*== //'
}
run "FreeType alone, as shipped" "$tmp/ft_cache_repro"
run "FreeType alone, calloc allocator" "$tmp/ft_cache_repro" zeroed
run "VTK alone, as shipped" "$tmp/vtk_text_repro"
run "VTK alone, cur_weight set to 0 first" "$tmp/vtk_text_repro" fixed
run "VTK alone, with testing/valgrind.supp" --suppressions="$here/../valgrind.supp" \
  "$tmp/vtk_text_repro"
run "FreeType alone, with testing/valgrind.supp (no VTK caller: still reported)" \
  --suppressions="$here/../valgrind.supp" "$tmp/ft_cache_repro"
