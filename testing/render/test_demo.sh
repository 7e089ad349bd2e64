#!/usr/bin/env bash
# test_demo.sh - scripts/demo.sh end to end on the demo cohort with a short schedule
# (DS_DEMO_ITERATIONS=ITERS, the demo's width 4 and patch): every output exists (the overlay
# pictures now from DualSegSegment --overlay), the summary prints a Dice per class and suggested
# slices for each of the 4 held-out cases, the mean Dice of each class over them is at least its
# floor, a rerun with 4 more iterations resumes from the checkpoint (the log then holds
# iterations 1..ITERS+4 once each), and a missing cohort folder fails with a message naming it.
# Floors, from measurements of this very schedule (2026-12-01, release build, 2 threads, load
# 4-5 on 2 shared cores, about 50 s of training each) on cohort seeds 1, 2 and 3 (DS_DEMO_SEED):
# structure Dice mean 0.902, 0.908, 0.896; core mean 0.616, 0.693, 0.612 (the lowest single
# core Dice 0.109). The floors are about two thirds (structure 0.6) and half (core 0.3) of the
# lowest mean, to survive another machine's rounding or a harmless change in the trainer, while
# a demo that stops segmenting either class fails; the core must also be predicted in every
# held-out case. Before the demo trained without dropout (demo.sh) the core was not predicted at
# this schedule and its floor was 0. Usage: test_demo.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1
ITERS=200
FLOOR_STRUCTURE=0.6
FLOOR_CORE=0.3
export DS_DEMO_BUILD_DIR=$2 DS_DEMO_SKIP_BUILD=1 DS_DEMO_ITERATIONS=$ITERS
out=$(mktemp -d /tmp/ds_test_demo_XXXXXX)
export DS_DEMO_OUT=$out
failed=0
check() { if eval "$1"; then :; else echo "FAIL: $1${2:+ ($2)}"; failed=1; fi; }

bash "$src/scripts/demo.sh" >"$out/summary.txt" 2>"$out/stderr.txt"
rc=$?
check '[[ $rc == 0 ]]' "$(tail -n 3 "$out/stderr.txt")"
for f in model.dsm checkpoint.dsm training_log.csv metrics.csv pictures/training_curve.png \
         pictures/entropy.ctbl segmentations/demo_016_label.nrrd \
         segmentations/demo_019_entropy.nrrd segmentations/demo_018_disagreement.nrrd \
         pictures/demo_016_overlay.png pictures/demo_019_overlay.png pictures/demo_017.vti; do
  check "[[ -s $out/$f ]]"
done
cat "$out/summary.txt"
dice=$(grep -cE '^  demo_01[6-9]: Dice per class [0-9]+\.[0-9]+.*; slices to label next' "$out/summary.txt")
check '[[ $dice == 4 ]]' "$dice of 4 cases with a numeric Dice: $(cat "$out/summary.txt")"
check 'grep -q "Training: done" "$out/summary.txt"'
# the mean Dice of each class over the held-out cases, from the printed summary
means=$(sed -nE 's/^  demo_01[6-9]: Dice per class ([^;]*);.*/\1/p' "$out/summary.txt" |
        sed 's/ (not predicted)//g' |
        awk -F', ' '{ for (k = 1; k <= NF; ++k) { s[k] += $k; n[k]++ } }
                    END { printf "%.3f %.3f", n[1] ? s[1] / n[1] : 0, n[2] ? s[2] / n[2] : 0 }')
read -r mean1 mean2 <<<"$means"
echo "mean Dice over the held-out cases: structure $mean1 (floor $FLOOR_STRUCTURE), core $mean2 (floor $FLOOR_CORE)"
check "awk 'BEGIN { exit !($mean1 >= $FLOOR_STRUCTURE) }'" "structure mean Dice $mean1"
check "awk 'BEGIN { exit !($mean2 >= $FLOOR_CORE) }'" "core mean Dice $mean2"
unpredicted=$(grep -cE '^  demo_01[6-9]: Dice per class [^;]*, [0-9.]+ \(not predicted\)' \
              "$out/summary.txt")
check '[[ $unpredicted == 0 ]]' "the core is not predicted in $unpredicted of the 4 held-out cases"

DS_DEMO_ITERATIONS=$((ITERS + 4)) bash "$src/scripts/demo.sh" >"$out/summary2.txt" 2>"$out/stderr2.txt"
rc=$?
check '[[ $rc == 0 ]]' "$(tail -n 3 "$out/stderr2.txt")"
rows=$(awk -F, 'NR > 1 { print $1 }' "$out/training_log.csv" | tr '\n' ' ')
check '[[ $rows == "$(seq -s " " 1 $((ITERS + 4))) " ]]' "log iterations: $rows"
check "grep -q 'continued from the checkpoint at step $ITERS' '$out/summary2.txt'" "$(cat "$out/summary2.txt")"

bash "$src/scripts/demo.sh" "$out/no_such_cohort" >/dev/null 2>"$out/stderr3.txt"
rc=$?
check '[[ $rc == 1 ]] && grep -q "no_such_cohort" "$out/stderr3.txt"' "$(cat "$out/stderr3.txt")"

if ((failed)); then echo "test_demo: FAILED (outputs kept in $out)"; exit 1; fi
rm -rf "$out"
echo "test_demo: all checks passed"
