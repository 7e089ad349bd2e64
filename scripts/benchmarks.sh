#!/usr/bin/env bash
# Everything of BENCHMARKS.md (issue 14): the H-10 accuracy runs on Task04_Hippocampus through
# the CLI modules, the speed and memory comparison with PyTorch, then BENCHMARKS.md itself.
# Hours on 2 cores; never part of CI (testing/train/test_benchmarks.sh runs its machinery on a
# tiny schedule).
#
# Usage: scripts/benchmarks.sh [--list] [--only NAME[,NAME...]] [--report] [--medians FILE]
#   --list    the runs in the order they run, each with its state (done / started / pending)
#   --only    run these runs only (names from --list; "speed" is the speed section)
#   --report  run nothing, only write BENCHMARKS.md from what is finished
#   --medians run nothing, print the speed table (train.csv) made from the repeats in FILE (a
#             speed record's train_repeats.csv)
#
# Every run has a folder DS_BENCH_DIR/runs/<name> with its cohort list, model, checkpoint,
# training log, segmentations, per-case metrics and the logs of each module. A run is finished
# when its DONE file exists (written atomically after the evaluation) and is never redone; an
# unfinished one continues from its checkpoint (DualSegTrain resumes from --checkpoint), a
# trained one goes straight to segmentation. Runs not finished appear in BENCHMARKS.md as
# pending. Interrupt at any time (Ctrl-C, kill, a reboot) and rerun the same command.
# A finished run's record (DONE with the commit it ran, metrics.csv, training_log.csv, the
# training's return values; for speed its tables and logs) is also copied, DONE last, to
# DS_BENCH_RESULTS/<name>, benchmarks/h10/<name> in the checkout: committed, it is the lasting
# record (a machine's bench_output does not outlive it), BENCHMARKS.md is written from it, and a
# run whose record exists there is done on any machine. Commit it after each run.
#
# The protocol H-10 (issue 14): splits.json's lists; 3 classes; per-volume z-score; patch
# 32x48x32 (x, y, z = the NIfTI array order); batch 2 labelled + 2 unlabelled; SGD lr 0.01,
# momentum 0.9, weight decay 1e-4; 2000 iterations, lr x 0.1 at 833 and 1667 (--milestones
# 0.4165,0.8335 of the run); random crops only; segmentation with a sliding window of stride 8
# and uniform weights (the pair: the mean of both networks' probabilities), no post-processing;
# Dice, Jaccard, HD95 and ASD in mm per class, empty predictions scored 0 (--empty score-zero).
#
# The variants (issue 14: at most three, chosen on a validation split carved from the training
# cases, never on the test cases): the validation split is every 10th training case not in
# labelled_10pct (splits.json's order, from the first); the v- runs (mode dual-val) leave it out
# of their unlabelled cases, and are evaluated on it (metrics_val.csv) and on the test cases.
# v-base is the faithful method on that reduced cohort, the baseline the variants are judged by.
#
# Environment (defaults: the real protocol):
#   DS_BENCH_DIR          output folder (bench_output in the checkout)
#   DS_BENCH_RESULTS      the records of finished runs (benchmarks/h10 in the checkout)
#   DS_BENCH_REPORT       the Markdown written (BENCHMARKS.md in the checkout); its plots go to
#                         docs/benchmarks/ beside it
#   DS_BENCH_DATA         the Decathlon folder with splits.json (../shared/data/Task04_Hippocampus)
#   DS_BENCH_BUILD_DIR    the build whose programs run (build); DS_BENCH_SKIP_BUILD=1: as it is
#   DS_BENCH_THREADS      threads of every program (2)
#   DS_BENCH_ITERATIONS   training iterations (2000)   DS_BENCH_WIDTH  network width (16)
#   DS_BENCH_TEST_CASES   segment only the first N test cases (0: all 52)
#   DS_BENCH_VAL_CASES    segment only the first N validation cases (0: all)
#   DS_BENCH_CHECKPOINT_MINUTES  minutes between checkpoints (5; 0: every iteration)
#   DS_BENCH_SPEED_ITERATIONS    timed training iterations per speed point (3, plus a warm-up)
#   DS_BENCH_SPEED_REPEATS       repeats of each training point, DualSeg and PyTorch in turn (3)
#   DS_BENCH_SPEED_PATCHES       training patches of the speed section, x,y,z as XxYxZ
#                                ("32x48x32 64x64x48 96x96x64 112x112x80")
#   DS_BENCH_SPEED_VOLUMES       phantom volumes segmented ("112x112x80 144x144x88 192x192x120
#                                256x256x160"; patch 112x112x80)
#   DS_BENCH_PYTHON       the Python with torch (/usr/bin/python3)
# Exit status: 0 done; 1 a run failed (its log is named); 2 bad arguments.
# The whole script is one brace group, read in full before it starts: a run takes hours, and bash
# otherwise reads a script as it goes, so editing or updating the checkout meanwhile (git pull)
# would make it execute a mix of the old and the new file.
{
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
bench=${DS_BENCH_DIR:-$root/bench_output}
results=${DS_BENCH_RESULTS:-$root/benchmarks/h10}
report=${DS_BENCH_REPORT:-$root/BENCHMARKS.md}
data=${DS_BENCH_DATA:-$root/../shared/data/Task04_Hippocampus}
data=$(cd "$data" 2>/dev/null && pwd) || { echo "benchmarks.sh: no folder $data" >&2; exit 1; }
build=${DS_BENCH_BUILD_DIR:-$root/build}
threads=${DS_BENCH_THREADS:-2}
iterations=${DS_BENCH_ITERATIONS:-2000}
width=${DS_BENCH_WIDTH:-16}
test_cases=${DS_BENCH_TEST_CASES:-0}
val_cases=${DS_BENCH_VAL_CASES:-0}
ckpt_minutes=${DS_BENCH_CHECKPOINT_MINUTES:-5}
speed_iterations=${DS_BENCH_SPEED_ITERATIONS:-3}
speed_repeats=${DS_BENCH_SPEED_REPEATS:-3}
speed_patches=${DS_BENCH_SPEED_PATCHES:-32x48x32 64x64x48 96x96x64 112x112x80}
speed_volumes=${DS_BENCH_SPEED_VOLUMES:-112x112x80 144x144x88 192x192x120 256x256x160}
python=${DS_BENCH_PYTHON:-/usr/bin/python3}
cli=$build/cli-modules
commit=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
export DS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads

# name | group | seed | split | mode | extra DualSegTrain arguments | description [| schedule
# factor: the iterations are this times DS_BENCH_ITERATIONS, the milestones the same fractions].
# Order: what the headline needs first ((a) and (b) at seed 1337, then the other seeds, then
# (d)), then the ablations, the 5 % runs, the variants, the chosen variant's other seeds (group
# vs: v-long was chosen on the validation cases, so it is run with (a)'s and (b)'s seeds), (b)
# trained again by the current engine (group e: issue 16 asks the accuracy unchanged) and the
# speed section.
RUNS=(
  "a-1337|a|1337|labelled_10pct|single||supervised V-Net, labelled_10pct"
  "b-1337|b|1337|labelled_10pct|dual||dual method, labelled_10pct"
  "a-1338|a|1338|labelled_10pct|single||supervised V-Net, labelled_10pct"
  "b-1338|b|1338|labelled_10pct|dual||dual method, labelled_10pct"
  "a-1339|a|1339|labelled_10pct|single||supervised V-Net, labelled_10pct"
  "b-1339|b|1339|labelled_10pct|dual||dual method, labelled_10pct"
  "d-1337|d|1337|train|single||supervised V-Net, all training cases (upper bound)"
  "c-no-cr|c|1337|labelled_10pct|dual|--weightCR 0|dual without L_cr (2.1)"
  "c-no-cce|c|1337|labelled_10pct|dual|--weightCCE 0|dual without L_cce (2.2)"
  "c-no-kl|c|1337|labelled_10pct|dual|--weightKL 0|dual without L_kl (2.3)"
  "c-no-con|c|1337|labelled_10pct|dual|--weightCON 0|dual without L_con (2.4)"
  "c-no-cos|c|1337|labelled_10pct|dual|--weightCOS 0|dual without L_cos (2.5)"
  "c-class-mask|c|1337|labelled_10pct|dual|--maskMode class-aware|dual, class-aware entropy mask"
  "a5-1337|a5|1337|labelled_5pct|single||supervised V-Net, labelled_5pct"
  "b5-1337|b5|1337|labelled_5pct|dual||dual method, labelled_5pct"
  "v-base|v|1337|labelled_10pct|dual-val||dual method, validation cases left out (the variants' baseline)"
  "v-p95|v|1337|labelled_10pct|dual-val|--percentile 95|percentile 95: pseudo-labels of 95 % of the unlabelled voxels (2.2: at 80 the mask drops most foreground)"
  "v-long|v|1337|labelled_10pct|dual-val||twice the schedule (the same milestone fractions)|2"
  "v-augment|v|1337|labelled_10pct|dual-val|--augmentFlips --augmentIntensity 0.1|random flips and intensity scale/shift 0.1"
  "v-long-1338|vs|1338|labelled_10pct|dual-val||the chosen variant v-long, seed 1338|2"
  "v-long-1339|vs|1339|labelled_10pct|dual-val||the chosen variant v-long, seed 1339|2"
  "e-1337|e|1337|labelled_10pct|dual||dual method, labelled_10pct, trained again by the engine of issue 16 (Winograd, fused BN-ReLU, recompute)"
  "speed|speed|0||||speed and memory against PyTorch"
)

fail() { echo "benchmarks.sh: $*" >&2; exit 1; }
say() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$bench/benchmarks.log"; }
[[ $speed_repeats =~ ^[1-9][0-9]?$ ]] ||
  fail "DS_BENCH_SPEED_REPEATS=$speed_repeats: give a whole number of repeats from 1 to 99"
field() { local IFS="|"; read -r -a f <<<"$1"; echo "${f[$2]:-}"; }
# Writes stdin to $1 atomically (temporary file + rename in the same folder).
atomic() { cat >"$1.tmp.$$" && sync "$1.tmp.$$" 2>/dev/null; mv -f "$1.tmp.$$" "$1"; }

# Copies the record of finished run $1 to $results/$1 (a whole new folder renamed into place, so
# a record is complete or absent); its DONE says when and on which commit the run finished.
record() {
  local d=$bench/runs/$1 r=$results/$1 f
  [[ -f $r/DONE ]] && return
  rm -rf "$r.tmp" && mkdir -p "$r.tmp" || return 1
  for f in metrics.csv metrics_val.csv training_log.csv train_returns.txt machine.txt train.csv \
           train_repeats.csv segment.csv \
           segment_hippocampus.log segment_volumes.log; do
    [[ -f $d/$f ]] && cp "$d/$f" "$r.tmp/"
  done
  cp "$d/DONE" "$r.tmp/DONE" && rm -rf "$r" && mv "$r.tmp" "$r"
}

# The machine a run ran on, for its DONE ("Intel(R) Xeon(R) Processor, 2 cores, OpenBLAS core
# SapphireRapids"): sessions do not always get the same machine, and a run's time, and in the last
# bits its arithmetic, depend on it.
# The machine's cores: nproc alone answers OMP_NUM_THREADS, which the runs set to their threads.
cores() { env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc; }
machine_of() {
  printf '%s, %s cores, OpenBLAS core %s\n' \
    "$(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2; exit }')" "$(cores)" \
    "$("$build/bin/dualseg_bench" openblas | kv openblas_core)"
}

state() {
  local d=$bench/runs/$1
  if [[ -f $results/$1/DONE ]]; then echo done
  elif [[ -f $d/DONE ]]; then record "$1" && echo done
  elif [[ -e $d ]]; then echo started
  else echo pending; fi
}

# train.csv from train_repeats.csv: per point (voxels, pair) the median of each side's seconds
# (the middle value; of an even count, the mean of the two middle ones), the largest peak memory
# of each side and the FLOP count, in the order of the points' first repeats.
train_medians() {
  echo "voxels,pair,ours_s,torch_s,ours_mib,torch_mib,conv_gflop"
  awk -F, 'NR > 1 { k = $1 "," $2; if (!(k in n)) order[++m] = k; i = ++n[k];
                    o[k, i] = $4; t[k, i] = $5; if ($6 > om[k]) om[k] = $6;
                    if ($7 > tm[k]) tm[k] = $7; g[k] = $8 }
    function median(a, k, c,   v, i, j, x) {
      for (i = 1; i <= c; ++i) v[i] = a[k, i];
      for (i = 2; i <= c; ++i) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; --j) v[j + 1] = v[j]; v[j + 1] = x }
      return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2 }
    END { for (i = 1; i <= m; ++i) { k = order[i];
            printf "%s,%.4f,%.4f,%d,%d,%s\n", k, median(o, k, n[k]), median(t, k, n[k]), om[k], tm[k], g[k] } }' "$1"
}

list=0 only= report_only=0 medians=
while (($#)); do
  case $1 in
    --list) list=1 ;;
    --medians) [[ $# -ge 2 && -f $2 ]] || { echo "benchmarks.sh: --medians needs a repeats file (${2:-none given})" >&2; exit 2; }
               medians=$2; shift ;;
    --only) [[ $# -ge 2 ]] || { echo "benchmarks.sh: --only needs names" >&2; exit 2; }
            only=,$2,; shift ;;
    --report) report_only=1 ;;
    *) echo "benchmarks.sh: unknown argument '$1' (--list, --only NAMES, --report, --medians FILE)" >&2; exit 2 ;;
  esac
  shift
done
if [[ -n $only ]]; then
  for n in ${only//,/ }; do
    known=0
    for r in "${RUNS[@]}"; do [[ $(field "$r" 0) == "$n" ]] && known=1; done
    ((known)) || { echo "benchmarks.sh: no run called '$n' (see --list)" >&2; exit 2; }
  done
fi
mkdir -p "$bench/runs" "$results" || fail "cannot create $bench or $results"
if ((list)); then
  for r in "${RUNS[@]}"; do
    printf '%-14s %-8s %s\n' "$(field "$r" 0)" "$(state "$(field "$r" 0)")" "$(field "$r" 6)"
  done
  exit 0
fi
if [[ -n $medians ]]; then
  [[ $(head -n 1 "$medians") == "voxels,pair,repeat,ours_s,torch_s,ours_mib,torch_mib,conv_gflop" ]] || {
    echo "benchmarks.sh: $medians is not a speed record's train_repeats.csv (its first line is not voxels,pair,repeat,ours_s,torch_s,ours_mib,torch_mib,conv_gflop)" >&2; exit 2; }
  train_medians "$medians"
  exit 0
fi

if [[ ${DS_BENCH_SKIP_BUILD:-0} != 1 ]]; then
  "$root/scripts/build.sh" release >"$bench/build.log" 2>&1 ||
    fail "the build failed; its log is $bench/build.log"
fi
for exe in "$cli/DualSegTrain" "$cli/DualSegSegment" "$cli/DualSegEvaluate" \
           "$build/bin/dualseg_bench"; do
  [[ -x $exe ]] || fail "$exe is missing: build first (scripts/build.sh release)"
done
[[ -f $data/splits.json ]] || fail "$data/splits.json not found (DS_BENCH_DATA)"

# The ids of one list of splits.json (a fixed file: one quoted id per line inside the list).
split_ids() {
  awk -v key="\"$1\"" '$0 ~ key"[ \t]*:" { on = 1; next } on && /\]/ { exit }
                       on { gsub(/[ \t",]/, ""); if ($0 != "") print }' "$data/splits.json"
}
# The file of case id in folder kind (images / labels) of the Decathlon layout (Tr, then Ts).
case_file() {
  local f
  for f in "$data/$1Tr/$2".* "$data/$1Ts/$2".*; do [[ -e $f ]] && { echo "$f"; return; }; done
  fail "no $1 file for case $2 under $data"
}

# The validation split of the variants: every 10th training case not in labelled_10pct.
validation_ids() {
  split_ids train | grep -vxF -f <(split_ids labelled_10pct) | awk 'NR % 10 == 1'
}

# Folder $1 ($bench/test, $bench/val) of the cases read from stdin, the first $2 (0: all), as
# links named by case id (DualSegSegment and DualSegEvaluate take folders).
prepare_folders() {
  local t=$1 limit=$2 n=0 id img
  [[ -f $t/READY && $(cat "$t/READY") == "$limit" ]] && return
  rm -rf "$t" && mkdir -p "$t/images" "$t/labels"
  while read -r id; do
    ((limit > 0 && n >= limit)) && break
    img=$(case_file images "$id")
    ln -s "$img" "$t/images/$(basename "$img")"
    ln -s "$(case_file labels "$id")" "$t/labels/$(basename "$img")"
    n=$((n + 1))
  done
  ((n > 0)) || fail "no cases for $t"
  echo "$limit" | atomic "$t/READY"
}

# The cohort list of a run: the labelled cases with labels; for the dual method also every other
# training case, without its label (dual-val: but the validation cases).
write_cohort() {
  local split=$1 mode=$2 out=$3 id
  declare -A labelled=()
  if [[ $mode == dual-val ]]; then
    while read -r id; do labelled[$id]=held; done < <(validation_ids)
  fi
  {
    echo "image,label"
    while read -r id; do
      labelled[$id]=1
      echo "$(case_file images "$id"),$(case_file labels "$id")"
    done < <(split_ids "$split")
    if [[ $mode == dual* ]]; then
      while read -r id; do
        [[ -n ${labelled[$id]:-} ]] || case_file images "$id"
      done < <(split_ids train)
    fi
  } | atomic "$out"
}

# Runs a module with its output in a log; on failure names the log and shows its end.
module() {
  local log=$1
  shift
  if ! nice -n 10 "$@" >"$log" 2>&1; then
    echo "benchmarks.sh: $(basename "$1") failed; its log is $log:" >&2
    grep -v '^<' "$log" | tail -n 5 >&2
    exit 1
  fi
}

# Segments folder $2's images with run $1's model and scores them against its labels into
# table $3 (the logs: segment$4.log, evaluate$4.log); the maps are not kept.
evaluate_on() {
  local d=$bench/runs/$1 folder=$2 table=$3 f
  rm -rf "$d/segmentations" "$d/predictions" && mkdir -p "$d/segmentations" "$d/predictions"
  module "$d/segment$4.log" "$cli/DualSegSegment" "$d/model.dsm" --inputFolder "$folder/images" \
    --outputFolder "$d/segmentations" --folderFormat .nii.gz --stride 8,8,8 --weighting uniform \
    --threads "$threads"
  for f in "$d/segmentations"/*_label.nii.gz; do
    ln -s "$f" "$d/predictions/$(basename "${f%_label.nii.gz}").nii.gz"
  done
  module "$d/evaluate$4.log" "$cli/DualSegEvaluate" --predictionFolder "$d/predictions" \
    --referenceFolder "$folder/labels" --outputTable "$table" --classes 3 \
    --units mm --empty score-zero --threads "$threads"
  rm -rf "$d/segmentations"/*_entropy.nii.gz "$d/segmentations"/*_disagreement.nii.gz
}

accuracy_run() {
  local name=$1 seed=$2 split=$3 mode=$4 extra=$5 d=$bench/runs/$1
  local its=$((iterations * ${6:-1}))
  mkdir -p "$d"
  local pair=heterogeneous
  [[ $mode == single ]] && pair=single
  if [[ ! -f $d/TRAINED ]]; then
    write_cohort "$split" "$mode" "$d/cohort.csv"
    say "$name: training ($pair, $its iterations, seed $seed${extra:+, $extra})"
    # shellcheck disable=SC2086 # extra holds whole flags
    module "$d/train.log" "$cli/DualSegTrain" --cohortCsv "$d/cohort.csv" --model "$d/model.dsm" \
      --classes 3 --pair "$pair" --width "$width" --normalisation zscore --patch 32,48,32 \
      --iterations "$its" --milestones 0.4165,0.8335 --lr 0.01 --momentum 0.9 \
      --weightDecay 0.0001 --labelledBatch 2 --unlabelledBatch 2 --seed "$seed" \
      --checkpoint "$d/checkpoint.dsm" --checkpointMinutes "$ckpt_minutes" \
      --log "$d/training_log.csv" --threads "$threads" --returnparameterfile "$d/train_returns.txt" \
      $extra
    local from
    from=$(awk -F' *= *' '$1 == "resumedFrom" { print $2 }' "$d/train_returns.txt")
    [[ ${from:-0} != 0 ]] && say "$name: continued from the checkpoint at iteration $from"
    echo "$its" | atomic "$d/TRAINED"
  fi
  say "$name: segmenting $(find "$bench/test/images" -mindepth 1 -maxdepth 1 | wc -l) test cases"
  evaluate_on "$name" "$bench/test" "$d/metrics.csv" ""
  if [[ $mode == dual-val ]]; then
    prepare_folders "$bench/val" "$val_cases" < <(validation_ids)
    say "$name: segmenting $(find "$bench/val/images" -mindepth 1 -maxdepth 1 | wc -l) validation cases"
    evaluate_on "$name" "$bench/val" "$d/metrics_val.csv" _val
  fi
  printf 'run %s finished %s\niterations %s\ncommit %s\nthreads %s\nmachine %s\n' "$name" \
    "$(date -u +%FT%TZ)" "$its" "$commit" "$threads" "$(machine_of)" | atomic "$d/DONE"
  record "$name" || fail "cannot write the record of $name to $results"
  say "$name: done ($(grep -c ',summary,' "$d/metrics.csv") summary rows in metrics.csv)"
}

# The finished runs grouped by the value of line $1 of their DONE ("unknown" where a record
# predates that line): one "value<TAB>run run ..." line per value, in the order of the values.
runs_by() {
  local f n v
  declare -A by=()
  for f in "$results"/*/DONE; do
    [[ -f $f ]] || continue
    n=$(basename "$(dirname "$f")")
    v=$(sed -n "s/^$1 //p" "$f")
    by[${v:-unknown}]+="${by[${v:-unknown}]:+ }$n"
  done
  for v in "${!by[@]}"; do printf '%s\t%s\n' "$v" "${by[$v]}"; done | sort
}

# "2 (a-1337 b-1337); 1 (...)": the runs by thread count.
run_threads() {
  local out
  out=$(runs_by threads | awk -F'\t' '{ printf "%s%s (%s)", (NR > 1 ? "; " : ""), $1, $2 }')
  echo "${out:-none finished yet}"
}

# One "  - machine: runs" line per machine.
run_machines() { runs_by machine | awk -F'\t' '{ print "  - " $1 ": " $2 }'; }

# ---- Speed and memory against PyTorch, in one run ----

# key=value fields of the last line of a program's output that has key.
kv() { grep -o "$1=[^ ]*" | tail -n 1 | cut -d= -f2; }

# One side of a speed point: the output of command "$@" into log $1 (also on stdout); a run
# that failed or printed no time stops the section, naming its log (never a blank in a table).
measured() {
  local log=$1 key=$2 out
  shift 2
  out=$(nice -n 10 "$@" 2>&1 | tee "$log")
  [[ -n $(kv "$key" <<<"$out") ]] && ! grep -q ': failed' <<<"$out" ||
    fail "speed: $(basename "$1") failed or measured nothing; its log is $log"
  echo "$out"
}

# The speed section in three parts (training, the Hippocampus volume, the phantom volumes), each
# kept once measured, so that an interrupted section redoes only the part it was in.
speed_run() {
  local d=$bench/runs/speed bt=$build/testing/train/bench_train bi=$build/testing/infer/bench_infer
  local pt=$root/testing/train/bench_train_torch.py n=$((speed_iterations + 1))
  mkdir -p "$d"
  [[ -x $bt && -x $bi ]] || fail "$bt or $bi is missing (built with the tests)"
  if [[ ! -f $d/train.csv ]]; then
    say "speed: the SGEMM peak"
    "$build/bin/dualseg_bench" sgemm "$threads" >"$d/machine.txt"
    echo "dualseg_timing=median" >>"$d/machine.txt" # bench_train's s_per_iteration, since 2026-12-03
    # Each point is measured speed_repeats times, DualSeg and PyTorch in turn, so that the
    # machine's drift (10-20 % from minute to minute on a shared host) reaches both sides alike,
    # and the repeats go round all the points, so that a point's repeats are spread over the
    # section (in one run all three repeats of a point fell in a slow phase that slowed PyTorch
    # more than DualSeg); the table takes each side's median. A repeat is a line of train_repeats.csv once both of
    # its sides are measured: an interrupted section measures only the repeats it lacks.
    local reps=$d/train_repeats.csv p x y z mode pair ours theirs r
    [[ -f $reps ]] || echo "voxels,pair,repeat,ours_s,torch_s,ours_mib,torch_mib,conv_gflop" >"$reps"
    for ((r = 1; r <= speed_repeats; ++r)); do
      for p in $speed_patches; do
        IFS=x read -r x y z <<<"$p"
        for mode in dual single; do
          pair=1
          [[ $mode == single ]] && pair=0
          grep -q "^$((x * y * z)),$pair,$r," "$reps" && continue
          say "speed: training $mode at $p, repeat $r of $speed_repeats"
          ours=$(measured "$d/train_${mode}_${p}_$r.log" s_per_iteration \
                 "$bt" "$mode" "$width" "$x" "$y" "$z" 2 2 "$n" "$threads")
          local targs=("$width" "$x" "$y" "$z" 2 2 "$n")
          [[ $mode == single ]] && targs=(--single "${targs[@]}")
          theirs=$(measured "$d/train_${mode}_${p}_${r}_torch.log" s_per_iteration "$python" \
                   "$pt" "${targs[@]}")
          echo "$((x * y * z)),$pair,$r,$(kv s_per_iteration <<<"$ours"),$(kv s_per_iteration <<<"$theirs"),$(kv peak_rss_mib <<<"$ours"),$(kv peak_rss_mib <<<"$theirs"),$(kv conv_gflop <<<"$theirs")" \
            >>"$reps"
        done
      done
    done
    train_medians "$reps" | atomic "$d/train.csv"
  fi
  if [[ ! -f $d/segment_hippocampus.log ]]; then
    say "speed: segmentation of the Hippocampus volume"
    measured "$d/segment_hippocampus.log.part" seconds "$bi" --threads "$threads" \
      --only hippocampus >/dev/null
    mv -f "$d/segment_hippocampus.log.part" "$d/segment_hippocampus.log"
  fi
  if [[ ! -f $d/segment.csv ]]; then
    say "speed: segmentation of phantoms of growing size"
    local volumes=() v
    for v in $speed_volumes; do volumes+=(--volume "$v"); done
    measured "$d/segment_volumes.log" seconds "$bi" --threads "$threads" --only volume \
      "${volumes[@]}" >/dev/null
    echo "voxels,ours_s,torch_s,ours_mib,torch_mib" >"$d/segment.csv.part"
    awk '$2 == "ours" { split($1, s, /[:x]/); v = s[2] * s[3] * s[4]; t[v] = $3; m[v] = $6 }
         $2 == "PyTorch" { split($1, s, /[:x]/); v = s[2] * s[3] * s[4]; u[v] = $3; n[v] = $6 }
         END { for (v in t) print v "," t[v] "," u[v] "," m[v] "," n[v] }' \
      "$d/segment_volumes.log" | sort -t, -n >>"$d/segment.csv.part"
    mv -f "$d/segment.csv.part" "$d/segment.csv"
  fi
  printf 'run speed finished %s\ncommit %s\nthreads %s\nmachine %s\n' "$(date -u +%FT%TZ)" \
    "$commit" "$threads" "$(machine_of)" | atomic "$d/DONE"
  record speed || fail "cannot write the record of speed to $results"
  say "speed: done"
}

# ---- BENCHMARKS.md ----

speed_section() {
  local d=$results/speed
  echo "## Speed and memory against PyTorch"
  echo
  if [[ ! -f $d/DONE ]]; then
    echo "Pending: \`scripts/benchmarks.sh --only speed\` has not finished."
    return
  fi
  local peak
  peak=$(kv sgemm_gflops <"$d/machine.txt")
  echo "Both sides in the same run, $threads threads, \`OMP_WAIT_POLICY=passive\`, width 16;"
  echo "DualSeg's bench_train / bench_infer against testing/train/bench_train_torch.py /"
  echo "testing/infer/bench_infer_torch.py (PyTorch $("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo '?'))."
  local ours_timing="the mean for DualSeg (this record predates bench_train's median)"
  [[ $(kv dualseg_timing <"$d/machine.txt") == median ]] && ours_timing="both sides"
  local repeated=""
  [[ -f $d/train_repeats.csv ]] &&
    repeated=" of each repeat; each row the median of $(awk -F, 'NR > 1 && $3 > m { m = $3 } END { print m }' "$d/train_repeats.csv") repeats, DualSeg and PyTorch in turn"
  echo "Training: seconds per iteration (median of the iterations after the first; $ours_timing$repeated),"
  echo "batch 2 labelled + 2 unlabelled (the V-Net: 2 labelled), peak resident"
  echo "memory of the process. Fraction of the SGEMM peak: the convolutions' FLOPs of one"
  echo "iteration (forward, input and weight gradients) / time / OpenBLAS SGEMM 2048^3 ($peak GFLOP/s"
  echo "on the machine of this section's record, $(sed -n 's/^machine //p' "$d/DONE")). Where OpenBLAS"
  echo "falls back to older kernels for a CPU it does not know, DualSeg and this peak use the corrected ones."
  if grep -q '^note ' "$d/DONE"; then
    echo
    echo "Notes of the record (its DONE):"
    echo
    sed -n 's/^note /- /p' "$d/DONE"
  fi
  echo
  echo "| training | patch voxels | DualSeg s/it | PyTorch s/it | ratio | DualSeg MiB | PyTorch MiB | conv GFLOP | DualSeg % of SGEMM peak |"
  echo "|---|---|---|---|---|---|---|---|---|"
  awk -F, -v peak="$peak" 'NR > 1 { r = ($4 > 0) ? sprintf("%.2f", $3 / $4) : "n/a";
      f = ($3 > 0 && peak > 0) ? sprintf("%.0f", 100 * $7 / $3 / peak) : "n/a";
      printf "| %s | %d | %.3f | %.3f | %s x | %d | %d | %.1f | %s |\n",
             $2 ? "pair" : "V-Net", $1, $3, $4, r, $5, $6, $7, f }' "$d/train.csv"
  echo
  if [[ -f $d/train_repeats.csv ]]; then
    echo "The ratio of each repeat (DualSeg / PyTorch, in the order measured), for the spread:"
    echo
    awk -F, 'NR > 1 { k = ($2 ? "pair" : "V-Net") " at " $1 " voxels"; if (!(k in r)) o[++m] = k;
                      r[k] = r[k] sprintf(" %.2f", ($5 > 0) ? $4 / $5 : 0) }
             END { for (i = 1; i <= m; ++i) print "- " o[i] ":" r[o[i]] }' "$d/train_repeats.csv"
    echo
  fi
  echo "Segmentation (the pair, Gaussian weights, half-patch stride, batch 2; one volume each):"
  echo
  echo '```'
  grep -h -E 'ours|PyTorch' "$d/segment_hippocampus.log" "$d/segment_volumes.log" || true
  echo '```'
  echo
  echo "Targets (issue 14): training at most 0.5x PyTorch's time, segmentation at most 0.7x,"
  echo "peak memory at most PyTorch's."
  echo
  if "$build/bin/dualseg_bench" scaling "$d/train.csv" "$d/segment.csv" "$plots" \
       >"$bench/scaling_plot.log" 2>&1; then
    echo "![seconds per iteration against the patch](docs/benchmarks/scaling_train_time.png)"
    echo "![peak memory against the patch](docs/benchmarks/scaling_train_memory.png)"
    echo "![segmentation time against the volume](docs/benchmarks/scaling_segment_time.png)"
  else
    echo "(scaling plots failed: $(tail -n 1 "$bench/scaling_plot.log"))"
  fi
}

# The variants, chosen on the validation split (dualseg_bench variants).
variants_section() {
  local nval nunl table
  nval=$(validation_ids | wc -l)
  nunl=$(($(split_ids train | wc -l) - $(split_ids labelled_10pct | wc -l) - nval))
  echo "### Variants (chosen on a validation split, never on the test cases)"
  echo
  echo "The faithful runs above may not reach the targets, so at most three principled variants"
  echo "of the dual method are tried, each a named run. The validation split is every 10th"
  echo "training case not in labelled_10pct ($nval cases, splits.json's order from the first); every"
  echo "v- run trains on labelled_10pct and the other $nunl training cases unlabelled, and is scored"
  echo "on the validation cases$( ((val_cases > 0)) && echo " (the first $val_cases only in this report)")"
  echo "and on the test cases. v-base is the faithful method on that cohort; a variant is chosen"
  echo "only if it beats v-base on the validation cases, and every one is reported."
  echo
  table=$("$build/bin/dualseg_bench" variants "$1" "$results") || fail "dualseg_bench variants failed"
  echo "$table"
}

write_report() {
  local tsv=$bench/runs.tsv r
  plots=$(dirname "$report")/docs/benchmarks
  mkdir -p "$plots"
  for r in "${RUNS[@]}"; do
    [[ $(field "$r" 1) == speed ]] && continue
    printf '%s\t%s\t%s\t%s\n' "$(field "$r" 0)" "$(field "$r" 1)" "$(field "$r" 2)" \
      "$(field "$r" 6)"
  done >"$tsv"
  local accuracy
  accuracy=$("$build/bin/dualseg_bench" accuracy "$tsv" "$results" "$plots" docs/benchmarks) ||
    fail "dualseg_bench accuracy failed"
  {
    echo "# DualSeg benchmarks"
    echo
    echo "Written by \`scripts/benchmarks.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); runs not"
    echo "finished are listed as pending (never estimated)."
    echo
    echo "## Machine"
    echo
    echo "- written on: $(machine_of)"
    echo "- the machine of each finished run (its record's DONE; the speed section's ratios hold"
    echo "  for its machine only, and runs on different machines may differ in the last bits):"
    run_machines
    echo "- threads: $threads, \`OMP_WAIT_POLICY=$OMP_WAIT_POLICY\`; load when written: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- threads of each finished run (its record's DONE; results are deterministic for a seed"
    echo "  and a thread count): $(run_threads)"
    echo
    echo "## Commands"
    echo
    echo '```sh'
    echo "scripts/benchmarks.sh            # everything, resumable; --list, --only NAMES, --report"
    echo "# one accuracy run, e.g. b-1337, is (paths shortened):"
    echo "DualSegTrain --cohortCsv runs/b-1337/cohort.csv --model runs/b-1337/model.dsm --classes 3 \\"
    echo "  --pair heterogeneous --width $width --patch 32,48,32 --iterations $iterations \\"
    echo "  --milestones 0.4165,0.8335 --seed 1337 --checkpoint runs/b-1337/checkpoint.dsm ..."
    echo "DualSegSegment runs/b-1337/model.dsm --inputFolder test/images --outputFolder ... \\"
    echo "  --stride 8,8,8 --weighting uniform"
    echo "DualSegEvaluate --predictionFolder ... --referenceFolder test/labels --classes 3 --empty score-zero"
    echo '```'
    echo
    echo "Schedule of this report: $iterations iterations, width $width, test cases: $( ((test_cases > 0)) && echo "the first $test_cases" || echo all)."
    echo
    echo "## Accuracy: protocol H-10 (Task04 Hippocampus)"
    echo
    echo "Every metric is the mean over the test cases, per foreground class (1: anterior, 2:"
    echo "posterior hippocampus). An empty prediction scores 0 on every metric (DualSegEvaluate"
    echo "--empty score-zero, the Left Atrium benchmark scripts' rule): it lowers Dice and Jaccard"
    echo "but also HD95 and ASD, so read the distances with the Dice."
    echo
    echo "PyTorch reference of the same method and protocol (issue 14): (a) 0.853 +- 0.001 mean Dice"
    echo "over three seeds, (b) 0.859 and 0.856 over two seeds, (d) 0.873."
    echo
    echo "$accuracy"
    echo
    variants_section "$tsv"
    echo
    speed_section
    echo
    echo "## Annotator loop (protocol A-H)"
    echo
    if [[ -f $root/benchmarks/annotator_ah.md ]]; then
      sed -e '1{/^# /d}' -e 's|](annotator_ah\.png)|](benchmarks/annotator_ah.png)|' \
        "$root/benchmarks/annotator_ah.md"
    else
      echo "Pending: benchmarks/annotator_ah.md does not exist yet."
    fi
  } | atomic "$report"
  say "wrote $report"
}

if ((!report_only)); then
  prepare_folders "$bench/test" "$test_cases" < <(split_ids test)
  for r in "${RUNS[@]}"; do
    name=$(field "$r" 0)
    [[ -n $only && $only != *",$name,"* ]] && continue
    if [[ $(state "$name") == done ]]; then
      say "$name: done before, skipped"
      continue
    fi
    if [[ $name == speed ]]; then
      speed_run
    else
      accuracy_run "$name" "$(field "$r" 2)" "$(field "$r" 3)" "$(field "$r" 4)" "$(field "$r" 5)" \
        "$(field "$r" 7)"
    fi
  done
fi
write_report
exit
}
