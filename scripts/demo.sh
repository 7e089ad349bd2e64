#!/usr/bin/env bash
# The main job of README.md: train the dual network on a cohort and segment with uncertainty.
# Usage: scripts/demo.sh [COHORT_DIR]   (no argument: the built-in synthetic cohort)
#
# Builds what is missing (scripts/build.sh release), writes the synthetic demo cohort
# (dualseg_make_demo) unless COHORT_DIR is given, trains the dual network with DualSegTrain on a
# short schedule (resumable: a rerun continues from the checkpoint), segments the held-out cases
# (imagesTs) one by one with DualSegSegment (maps and overlay picture), evaluates them against
# labelsTs when present (DualSegEvaluate), draws a montage of the slices to label next per case
# and the training curve (dualseg_report), and prints a summary. Every module's output goes to DS_DEMO_OUT/logs.
#
# Environment knobs (defaults: the measured ~10-minute schedule on 2 cores):
#   DS_DEMO_OUT         output folder (demo_output in the checkout)
#   DS_DEMO_ITERATIONS  training iterations (1000)
#   DS_DEMO_WIDTH       network width (4)      DS_DEMO_PATCH  training patch (32,32,16)
#   DS_DEMO_PAIR        homogeneous or heterogeneous (homogeneous)
#   DS_DEMO_DROPOUT     1: the networks' Dropout3d on in training, as in the paper (0)
#   DS_DEMO_THREADS     threads (2)            DS_DEMO_SEED   cohort seed (1)
#   DS_DEMO_SKIP_BUILD  1: use the existing build as it is
#   DS_DEMO_BUILD_DIR   the build whose programs run (build in the checkout; the tests set it)
# Exit status: 0 done; 1 a step failed (its name, its log and the log's last lines are printed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# OpenMP threads that spin while waiting lose their core to any other busy process; sleeping ones
# were 2.7x faster with one compile running beside the demo (same results either way).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
out=${DS_DEMO_OUT:-$root/demo_output}
iterations=${DS_DEMO_ITERATIONS:-1000}
width=${DS_DEMO_WIDTH:-4}
patch=${DS_DEMO_PATCH:-32,32,16}
pair=${DS_DEMO_PAIR:-homogeneous}
# Dropout3d zeroes whole channels with p = 0.5. At the paper's width 16 the last decoder feature
# keeps about 8 of its 16 channels; at the demo's width 4 it keeps 2 of 4 (none in one crop of 16),
# too few to carry three classes: with it on the inner core appeared in 1 held-out case of 4,
# off in all 4 (README, docs/demo_core.md).
dropout_flag=(--noDropout)
[[ ${DS_DEMO_DROPOUT:-0} == 1 ]] && dropout_flag=()
threads=${DS_DEMO_THREADS:-2}
seed=${DS_DEMO_SEED:-1}
build=${DS_DEMO_BUILD_DIR:-$root/build}
bin=$build/bin
cli=$build/cli-modules
logs=$out/logs

fail() { echo "demo.sh: $*" >&2; exit 1; }

# Runs a module with its stdout (Slicer's progress tags) turned into a progress bar with time
# left on a terminal, or a plain line per tenth when not; everything also goes to the step's log.
step() {
  local name=$1 log=$logs/$2.log
  shift 2
  local start=$SECONDS shown=-1 line f pct left
  : >"$log"
  set +e
  "$@" 2>>"$log" | tee -a "$log" | while IFS= read -r line; do
    [[ $line =~ \<filter-progress\>([0-9.]+)\</filter-progress\> ]] || continue
    f=${BASH_REMATCH[1]}
    pct=$(awk -v f="$f" 'BEGIN { printf "%d", f * 100 }')
    left=$(awk -v f="$f" -v t=$((SECONDS - start)) \
           'BEGIN { if (f > 0.01) printf "%d", t * (1 - f) / f; else printf "?" }')
    if [[ -t 1 ]]; then
      local bar=$(printf '%*s' $((pct * 30 / 100)) '' | tr ' ' '#')
      printf '\r%-22s [%-30s] %3d%%  %ss left ' "$name" "$bar" "$pct" "$left"
    elif ((pct / 10 > shown)); then
      shown=$((pct / 10))
      echo "$name: $pct% ($((SECONDS - start)) s, about $left s left)"
    fi
  done
  local rc=${PIPESTATUS[0]}
  set -e
  local end="done in $((SECONDS - start)) s"
  ((rc == 0)) || end="FAILED after $((SECONDS - start)) s"
  if [[ -t 1 ]]; then printf '\r%-22s %s%40s\n' "$name" "$end" ''; else echo "$name: $end"; fi
  if ((rc != 0)); then
    echo "demo.sh: $name failed (exit $rc); its log is $log:" >&2
    grep -v '^<' "$log" | tail -n 5 >&2
    exit 1
  fi
}

mkdir -p "$logs" || fail "cannot create $logs"
if [[ ${DS_DEMO_SKIP_BUILD:-0} != 1 ]]; then
  echo "Building DualSeg (scripts/build.sh release; log: $logs/build.log)"
  "$root/scripts/build.sh" release >"$logs/build.log" 2>&1 ||
    { tail -n 20 "$logs/build.log" >&2; fail "the build failed; its log is $logs/build.log"; }
fi
for exe in "$cli/DualSegTrain" "$cli/DualSegSegment" "$cli/DualSegEvaluate" \
           "$bin/dualseg_make_demo" "$bin/dualseg_report"; do
  [[ -x $exe ]] || fail "$exe is missing: the build did not produce it"
done

if [[ $# -ge 1 ]]; then
  cohort=$(cd "$1" 2>/dev/null && pwd) || fail "cohort folder '$1' does not exist"
  [[ -d $cohort/imagesTs ]] || fail "$cohort has no imagesTs/ folder of held-out cases to segment"
else
  cohort=$out/cohort
  if [[ ! -f $cohort/dataset.json ]]; then
    echo "Writing the synthetic demo cohort (seed $seed) to $cohort"
    "$bin/dualseg_make_demo" "$cohort" --seed "$seed" >"$logs/make_demo.log" 2>&1 ||
      fail "dualseg_make_demo failed: $(tail -n 1 "$logs/make_demo.log")"
  fi
fi

model=$out/model.dsm
seg=$out/segmentations
pics=$out/pictures
mkdir -p "$seg" "$pics"
echo "Training: $iterations iterations, width $width, patch $patch, $pair pair," \
     "dropout ${DS_DEMO_DROPOUT:-0}, $threads threads"
step "Training" train "$cli/DualSegTrain" --cohort "$cohort" --model "$model" \
  --pair "$pair" --width "$width" --patch "$patch" --iterations "$iterations" \
  "${dropout_flag[@]}" \
  --checkpoint "$out/checkpoint.dsm" --checkpointMinutes 1 --log "$out/training_log.csv" \
  --threads "$threads" --returnparameterfile "$logs/train_returns.txt"
resumed=$(awk -F' *= *' '$1 == "resumedFrom" { print $2 }' "$logs/train_returns.txt")
[[ ${resumed:-0} != 0 ]] && echo "Training continued from the checkpoint at step $resumed"
# One DualSegSegment per held-out case: its maps and its overlay picture (the legend names the
# classes as the model file does: the cohort's dataset.json "labels").
case_id() { local id; id=$(basename "$1"); id=${id%%.*}; echo "${id%_0000}"; }
images=("$cohort"/imagesTs/*)
[[ -e ${images[0]} ]] || fail "$cohort/imagesTs holds no held-out case to segment"
for ((i = 0; i < ${#images[@]}; ++i)); do
  id=$(case_id "${images[i]}")
  step "Segmenting $((i + 1))/${#images[@]}" "segment_$id" "$cli/DualSegSegment" "$model" \
    --input "${images[i]}" --output "$seg/${id}_label.nrrd" --entropy "$seg/${id}_entropy.nrrd" \
    --disagreement "$seg/${id}_disagreement.nrrd" --overlay "$pics/${id}_overlay.png" \
    --threads "$threads"
done

metrics=
if [[ -d $cohort/labelsTs ]]; then
  # DualSegEvaluate matches folders by file name: the label maps under their case ids.
  links=$out/evaluate_predictions
  rm -rf "$links" && mkdir -p "$links"
  for f in "$seg"/*_label.nrrd; do
    ln -s "$f" "$links/$(basename "${f%_label.nrrd}").nrrd"
  done
  metrics=$out/metrics.csv
  step "Evaluating" evaluate "$cli/DualSegEvaluate" --predictionFolder "$links" \
    --referenceFolder "$cohort/labelsTs" --outputTable "$metrics" --threads "$threads"
fi

"$bin/dualseg_report" --log "$out/training_log.csv" --curve "$pics/training_curve.png" \
  --title "training curve" >>"$logs/report.log" 2>&1 ||
  fail "drawing the training curve failed: $(tail -n 1 "$logs/report.log")"

echo
echo "Summary"
echo "  cohort:         $cohort"
echo "  model:          $model"
echo "  training log:   $out/training_log.csv  (curve: $pics/training_curve.png)"
echo "  label/entropy:  $seg/<case>_label.nrrd, <case>_entropy.nrrd, <case>_disagreement.nrrd"
[[ -n $metrics ]] && echo "  metrics:        $metrics"
echo "  pictures:       $pics/<case>_overlay.png, <case>_montage.png, <case>.vti"
first=1
for img in "${images[@]}"; do
  id=$(case_id "$img")
  extra=()
  ((first)) && extra=(--ctbl "$pics/entropy.ctbl")
  first=0
  slices=$("$bin/dualseg_report" --image "$img" --label "$seg/${id}_label.nrrd" \
    --entropy "$seg/${id}_entropy.nrrd" --montage "$pics/${id}_montage.png" \
    --vti "$pics/${id}.vti" --title "$id" --model "$model" "${extra[@]}" \
    2>>"$logs/report.log") || fail "drawing $id failed: $(tail -n 1 "$logs/report.log")"
  dice=
  if [[ -n $metrics ]]; then
    # the Dice of each foreground class from this case's rows (case,class,status,dice,...)
    dice=$(awk -F, -v id="$id" '$1 == id && $2 > 0 && $4 != "" {
             printf "%s%.3f%s", n++ ? ", " : "", $4, $3 == "empty_pred" ? " (not predicted)" : "" }
           ' "$metrics")
  fi
  echo "  $id: Dice per class ${dice:-n/a}; slices to label next (axial index, score): ${slices#slices: }"
done
