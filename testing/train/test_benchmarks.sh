#!/usr/bin/env bash
# test_benchmarks.sh - the machinery of scripts/benchmarks.sh on a tiny schedule (the supervised
# run a-1337: 40 iterations, width 2, 2 test cases of the real Task04 data, a checkpoint every
# iteration): the run is killed with SIGKILL (the whole process group, as Slicer's Cancel) in the
# middle of training, leaves no DONE; the rerun continues from the checkpoint (resumedFrom > 0,
# the training log holds iterations 1..40 once each), segments, evaluates and writes DONE; a
# third run redoes nothing (DONE, model and metrics untouched); the run's record (DS_BENCH_RESULTS)
# keeps it done once the machine's run folder is gone; BENCHMARKS.md has the run's row
# with numbers and every other run pending; a variant run (v-base) leaves the validation split
# out of its cohort and is scored on it too; the choice among the variants (made-up records); dualseg_bench draws the three scaling plots from
# tables in the script's format; an unknown run name is refused (exit 2). No Dice
# floor: 40 iterations of a width-2 V-Net only show that the pipeline runs.
# Usage: test_benchmarks.sh SOURCE_DIR BUILD_DIR SHARED_DIR
set -uo pipefail
src=$1
out=$(mktemp -d /tmp/ds_test_benchmarks_XXXXXX)
export DS_BENCH_DIR=$out/bench DS_BENCH_RESULTS=$out/results \
  DS_BENCH_REPORT=$out/report/BENCHMARKS.md DS_BENCH_BUILD_DIR=$2 \
  DS_BENCH_DATA=$3/data/Task04_Hippocampus DS_BENCH_SKIP_BUILD=1 DS_BENCH_ITERATIONS=40 \
  DS_BENCH_WIDTH=2 DS_BENCH_TEST_CASES=2 DS_BENCH_CHECKPOINT_MINUTES=0 \
  DS_BENCH_THREADS=1  # as the real runs: one thread a run, two runs side by side
mkdir -p "$out/report"
run=$DS_BENCH_DIR/runs/a-1337
failed=0
check() { if eval "$1"; then :; else echo "FAIL: $1${2:+ ($2)}"; failed=1; fi; }
rows() { awk -F, 'NR > 1 { n++ } END { print n + 0 }' "$run/training_log.csv" 2>/dev/null || echo 0; }

# 1. killed in the middle of training
setsid bash "$src/scripts/benchmarks.sh" --only a-1337 >"$out/first.txt" 2>&1 &
pid=$!
for _ in $(seq 600); do
  (($(rows) >= 8)) && break
  sleep 0.1
done
kill -KILL -- "-$pid" 2>/dev/null
wait "$pid" 2>/dev/null
killed_at=$(rows)
check '((killed_at >= 8 && killed_at < 40))' "killed after $killed_at logged iterations: $(tail -n 3 "$out/first.txt")"
check '[[ ! -e $run/DONE && -s $run/checkpoint.dsm ]]' "a killed run must have a checkpoint and no DONE"
bash "$src/scripts/benchmarks.sh" --list >"$out/list.txt"
check 'grep -qE "^a-1337 +started" "$out/list.txt"' "$(head -n 2 "$out/list.txt")"

# 2. resumed, finished
bash "$src/scripts/benchmarks.sh" --only a-1337 >"$out/second.txt" 2>&1
rc=$?
check '[[ $rc == 0 ]]' "$(tail -n 5 "$out/second.txt")"
from=$(awk -F' *= *' '$1 == "resumedFrom" { print $2 }' "$run/train_returns.txt")
check '((from > 0))' "resumedFrom = $from"
check 'grep -q "continued from the checkpoint at iteration $from" "$out/second.txt"'
its=$(awk -F, 'NR > 1 { printf "%s ", $1 }' "$run/training_log.csv")
check '[[ $its == "$(seq -s " " 1 40) " ]]' "log iterations: $its"
check '[[ -s $run/DONE ]]'
cases=$(awk -F, 'NR > 1 && $3 != "summary" { n++ } END { print n + 0 }' "$run/metrics.csv")
check '[[ $cases == 4 ]]' "$cases case rows (2 cases x 2 classes)"

# 3. a finished run is never redone
before=$(stat -c %Y-%s "$run/DONE" "$run/model.dsm" "$run/metrics.csv" | tr '\n' ' ')
sleep 1
bash "$src/scripts/benchmarks.sh" --only a-1337 >"$out/third.txt" 2>&1
rc=$?
after=$(stat -c %Y-%s "$run/DONE" "$run/model.dsm" "$run/metrics.csv" | tr '\n' ' ')
check '[[ $rc == 0 && $before == "$after" ]]' "files changed: $before / $after"
check 'grep -q "a-1337: done before, skipped" "$out/third.txt"' "$(cat "$out/third.txt")"
check '! grep -q "training\|segmenting" "$out/third.txt"'

# 3b. the committed record: DONE (with the commit), metrics and training log; with the machine's
# run folder gone (a fresh machine), the run is still done and the report still has its row
rec=$DS_BENCH_RESULTS/a-1337
# the machine line: this CPU's model, its cores, the OpenBLAS kernels the modules use
cpu=$(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2; exit }')
# (the cores of the machine, not the one thread of the run, which sets OMP_NUM_THREADS=1)
check 'grep -qxF "machine $cpu, $(getconf _NPROCESSORS_ONLN) cores, OpenBLAS core $("$DS_BENCH_BUILD_DIR/bin/dualseg_bench" openblas | grep -o "openblas_core=[^ ]*" | cut -d= -f2)" "$rec/DONE"' "$(cat "$rec/DONE")"
check 'grep -q "^commit [0-9a-f]" "$rec/DONE" && cmp -s "$rec/metrics.csv" "$run/metrics.csv" && cmp -s "$rec/training_log.csv" "$run/training_log.csv"' "$(ls "$rec" 2>&1)"
rm -rf "$run"
bash "$src/scripts/benchmarks.sh" --list >"$out/list2.txt"
check 'grep -qE "^a-1337 +done" "$out/list2.txt"' "$(head -n 1 "$out/list2.txt")"
bash "$src/scripts/benchmarks.sh" --only a-1337 >"$out/fourth.txt" 2>&1
check '[[ ! -e $run ]] && grep -q "a-1337: done before, skipped" "$out/fourth.txt"' "$(cat "$out/fourth.txt")"

# 4. the report: the row of a-1337 with numbers, the others pending, the other sections
md=$DS_BENCH_REPORT
check 'grep -qE "^\| a-1337 \| supervised V-Net, labelled_10pct \| 1337 \| 2 \| [0-9]+\.[0-9]{4} \|" "$md"' "$(grep a-1337 "$md")"
# 15 other runs (e-1337 among them), 4 variants and the chosen variant's 2 other seeds pending in
# the table of every run, and the 4 in the variants' table
check '[[ $(grep -cE "^\| [a-ev5c-]+[a-z0-9-]* \|.*\| pending \|" "$md") == 25 ]]' "$(grep -c pending "$md") pending"
check 'grep -q "^Chosen: pending" "$md"'
check 'grep -q "^## Speed and memory against PyTorch" "$md" && grep -q "^## Annotator loop (protocol A-H)" "$md"'
check 'grep -q "^Headline: pending" "$md"'
check 'grep -qF -- "  - $cpu, $(getconf _NPROCESSORS_ONLN) cores, OpenBLAS core" "$md"' "$(grep -A3 "machine of each" "$md")"
check 'grep -qF "and a thread count): 1 (a-1337)" "$md"' "$(grep "thread count)" "$md")"

# 4b. a variant run (dual-val) on the tiny schedule: its cohort leaves the validation split out
# (every 10th training case not in labelled_10pct: computed here from splits.json with Python's
# json), it is scored on the first 2 validation cases too, and the report has its row
DS_BENCH_VAL_CASES=2 bash "$src/scripts/benchmarks.sh" --only v-base >"$out/variant.txt" 2>&1
rc=$?
check '[[ $rc == 0 ]]' "$(tail -n 5 "$out/variant.txt")"
vrun=$DS_BENCH_DIR/runs/v-base
python3 - "$DS_BENCH_DATA/splits.json" >"$out/val_ids.txt" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
pool = [c for c in s["train"] if c not in set(s["labelled_10pct"])]
print("\n".join(pool[::10]))
PY
nval=$(wc -l <"$out/val_ids.txt")
held=$(grep -cFf "$out/val_ids.txt" "$vrun/cohort.csv")
with=$(awk -F, 'NR > 1 && $2 != "" { n++ } END { print n + 0 }' "$vrun/cohort.csv")
without=$(awk -F, 'NR > 1 && $2 == "" { n++ } END { print n + 0 }' "$vrun/cohort.csv")
check '[[ $nval == 19 && $held == 0 && $with == 21 && $without == $((208 - 21 - 19)) ]]' "validation $nval, held in cohort $held, labelled $with, unlabelled $without"
vcases=$(awk -F, 'NR > 1 && $3 != "summary" { print $1 }' "$vrun/metrics_val.csv" | sort -u | tr '\n' ' ')
check '[[ $vcases == "$(head -n 2 "$out/val_ids.txt" | sort | tr "\n" " ")" ]]' "validation cases scored: $vcases"
check 'cmp -s "$vrun/metrics_val.csv" "$DS_BENCH_RESULTS/v-base/metrics_val.csv"' "the record lacks metrics_val.csv"
check 'grep -qE "^\| v-base \| [^|]+ \| 2 \| [0-9]\.[0-9]{4} \| [0-9]\.[0-9]{4} \|$" "$md"' "$(grep "^| v-base" "$md")"

# 4c. the choice among the variants, on made-up records (Dice by hand): the best validation Dice
# wins if it beats v-base there; none when none does; pending while one is unfinished
vr=$out/variants
mkdir -p "$vr"
vrecord() { # name, validation Dice, test Dice (both classes)
  mkdir -p "$vr/$1" && touch "$vr/$1/DONE"
  local f t
  for f in metrics_val.csv:$2 metrics.csv:$3; do
    t=${f%%:*}
    printf 'case,class,status,dice,jaccard,hd95_mm,asd_mm\nc1,1,ok,%s,0,0,0\nc1,2,ok,%s,0,0,0\n' \
      "${f#*:}" "${f#*:}" >"$vr/$1/$t"
  done
}
printf 'v-base\tv\t1337\tbase\nv-p95\tv\t1337\tp95\nv-long\tv\t1337\tlong\nv-augment\tv\t1337\taug\na-1337\ta\t1337\tsup\n' >"$vr/runs.tsv"
vrecord v-base 0.80 0.50
vrecord v-p95 0.82 0.40
vrecord v-long 0.85 0.60
vrecord v-augment 0.70 0.90
"$2/bin/dualseg_bench" variants "$vr/runs.tsv" "$vr" >"$vr/out.md" 2>&1
check 'grep -qF "Chosen on the validation cases: v-long (0.8500 against v-base 0.8000, +5.00 points); on the test cases it scores 0.6000 against 0.5000 (+10.00 points)." "$vr/out.md"' "$(cat "$vr/out.md")"
vrecord v-long 0.79 0.60
vrecord v-p95 0.80 0.60
"$2/bin/dualseg_bench" variants "$vr/runs.tsv" "$vr" >"$vr/out.md" 2>&1
check 'grep -qF "Chosen: none: no variant beats v-base on the validation cases (0.8000)." "$vr/out.md"' "$(cat "$vr/out.md")"
rm "$vr/v-augment/DONE"
"$2/bin/dualseg_bench" variants "$vr/runs.tsv" "$vr" >"$vr/out.md" 2>&1
check 'grep -q "^Chosen: pending" "$vr/out.md" && grep -qE "^\| v-augment \| aug \| pending" "$vr/out.md"' "$(cat "$vr/out.md")"

# 4d. the chosen variant over the seeds, on made-up records (by hand: (a) 0.80, 0.82, 0.84 ->
# 0.82; the variant 0.86 at 1337 (its own run, group v), 0.85 and 0.87 (group vs) -> 0.86 +- 0.01;
# (d) 0.90: +4.00 points, half the gap)
printf 'a-1337\ta\t1337\tsup\na-1338\ta\t1338\tsup\na-1339\ta\t1339\tsup\nb-1337\tb\t1337\tdual\nd-1337\td\t1337\tfull\nv-long\tv\t1337\tlong\nv-long-1338\tvs\t1338\tlong 1338\nv-long-1339\tvs\t1339\tlong 1339\n' >"$vr/acc.tsv"
for r in a-1337:0.80 a-1338:0.82 a-1339:0.84 b-1337:0.83 d-1337:0.90 v-long:0.86 \
         v-long-1338:0.85 v-long-1339:0.87; do
  vrecord "${r%%:*}" 0 "${r#*:}"
done
mkdir -p "$vr/plots"
"$2/bin/dualseg_bench" accuracy "$vr/acc.tsv" "$vr" "$vr/plots" plots >"$vr/acc.md" 2>&1
check 'grep -qF "The variant chosen on the validation cases, v-long, over 3 seed(s): mean Dice 0.8600, +4.00 points over (a), 50 % of the gap to full supervision." "$vr/acc.md"' "$(cat "$vr/acc.md")"
check 'grep -qE "^\| \(v\) the chosen variant v-long .*\| 3 of 3 \| 0\.8600 \+- 0\.0100 \|" "$vr/acc.md"' "$(grep "(v)" "$vr/acc.md")"
rm "$vr/v-long-1339/DONE"
"$2/bin/dualseg_bench" accuracy "$vr/acc.tsv" "$vr" "$vr/plots" plots >"$vr/acc.md" 2>&1
check 'grep -qF "v-long, over 2 seed(s): mean Dice 0.8550" "$vr/acc.md"' "$(grep "variant chosen" "$vr/acc.md")"

# 4e. the engine check (issue 16), on made-up records (by hand: (b) 0.83, 0.85, 0.81 -> sample std
# 0.02; e-1337 0.84 is +1.00 points, 0.5 stds from b-1337: within; 0.89 is 3.0 stds: outside)
check 'grep -q "^### The engine check" "$vr/acc.md"; (( $? == 1 ))' "$(grep -A2 "engine check" "$vr/acc.md")"
printf 'b-1338\tb\t1338\tdual\nb-1339\tb\t1339\tdual\ne-1337\te\t1337\tagain\n' >>"$vr/acc.tsv"
"$2/bin/dualseg_bench" accuracy "$vr/acc.tsv" "$vr" "$vr/plots" plots >"$vr/acc.md" 2>&1
check 'grep -qF "Pending (e-1337," "$vr/acc.md"' "$(grep -A2 "engine check" "$vr/acc.md")"
for r in b-1338:0.85 b-1339:0.81 e-1337:0.84; do vrecord "${r%%:*}" 0 "${r#*:}"; done
"$2/bin/dualseg_bench" accuracy "$vr/acc.tsv" "$vr" "$vr/plots" plots >"$vr/acc.md" 2>&1
check 'grep -qF "e-1337 (again): mean Dice 0.8400 against b-1337'"'"'s 0.8300, +1.00 points; (b)'"'"'s sample std over 3 seeds is 0.0200, so the difference is 0.5 stds: within the seed spread" "$vr/acc.md"' "$(grep -A2 "engine check" "$vr/acc.md")"
vrecord e-1337 0 0.89
"$2/bin/dualseg_bench" accuracy "$vr/acc.tsv" "$vr" "$vr/plots" plots >"$vr/acc.md" 2>&1
check 'grep -qF "+6.00 points; (b)'"'"'s sample std over 3 seeds is 0.0200, so the difference is 3.0 stds: outside the seed spread" "$vr/acc.md"' "$(grep -A2 "engine check" "$vr/acc.md")"

# 5. the scaling plots from speed tables of the script's format (values made up: shapes only)
printf 'voxels,pair,ours_s,torch_s,ours_mib,torch_mib,conv_gflop\n49152,1,5,7,800,1200,130\n49152,0,1,2,250,500,23\n1003520,1,90,120,3000,5000,2600\n1003520,0,20,30,900,1500,480\n' >"$out/train.csv"
printf 'voxels,ours_s,torch_s,ours_mib,torch_mib\n1003520,10,12,500,700\n1824768,60,70,600,900\n' >"$out/segment.csv"
"$2/bin/dualseg_bench" scaling "$out/train.csv" "$out/segment.csv" "$out" 2>"$out/scaling.txt"
rc=$?
check '[[ $rc == 0 ]]' "$(cat "$out/scaling.txt")"
for f in scaling_train_time scaling_train_memory scaling_segment_time; do
  check '[[ $(head -c 4 "$out/$f.png" | od -An -c | tr -d " ") == "211PNG" ]]' "$f.png"
done

# 5b. the speed table from alternated repeats (values made up; medians by hand: pair 0.7 of
# 0.7 0.6 0.8 and 1.4 of 1.5 1.3 1.4; V-Net of two repeats, the means 1.5 and 2.5; memory the
# largest of the repeats), and the report's speed section from a record holding them
rep=$out/train_repeats.csv
printf 'voxels,pair,repeat,ours_s,torch_s,ours_mib,torch_mib,conv_gflop\n49152,1,1,0.7,1.5,640,1270,130.3\n49152,1,2,0.6,1.3,650,1260,130.3\n49152,1,3,0.8,1.4,645,1280,130.3\n49152,0,1,1.0,2.0,220,520,23.5\n49152,0,2,2.0,3.0,224,525,23.5\n' >"$rep"
bash "$src/scripts/benchmarks.sh" --medians "$rep" >"$out/medians.txt" 2>&1
check '[[ "$(cat "$out/medians.txt")" == "$(printf "voxels,pair,ours_s,torch_s,ours_mib,torch_mib,conv_gflop\n49152,1,0.7000,1.4000,650,1280,130.3\n49152,0,1.5000,2.5000,224,525,23.5")" ]]' "$(cat "$out/medians.txt")"
sp=$DS_BENCH_RESULTS/speed
mkdir -p "$sp"
cp "$rep" "$sp/" && cp "$out/medians.txt" "$sp/train.csv" && cp "$out/segment.csv" "$sp/"
echo "sgemm_gflops=100.0" >"$sp/machine.txt"
echo "dualseg_timing=median" >>"$sp/machine.txt"
printf 'hippocampus  ours  0.19 s\n' >"$sp/segment_hippocampus.log"
printf 'volume:112x112x80 ours  0.98 s\n' >"$sp/segment_volumes.log"
printf 'run speed finished 2026-12-04T00:00:00Z\ncommit test\nthreads 1\nmachine made up\n' >"$sp/DONE"
bash "$src/scripts/benchmarks.sh" --report >"$out/report_speed.txt" 2>&1
check 'grep -qF "| pair | 49152 | 0.700 | 1.400 | 0.50 x | 650 | 1280 | 130.3 | 186 |" "$md"' "$(grep -A12 "^## Speed" "$md")"
check 'grep -qF "| V-Net | 49152 | 1.500 | 2.500 | 0.60 x | 224 | 525 | 23.5 | 16 |" "$md"' "$(grep "V-Net | 49152" "$md")"
check 'grep -qF -- "- pair at 49152 voxels: 0.47 0.46 0.57" "$md" && grep -qF -- "- V-Net at 49152 voxels: 0.50 0.67" "$md"' "$(grep -A4 "ratio of each repeat" "$md")"
check 'grep -qF "each row the median of 3 repeats, DualSeg and PyTorch in turn" "$md"' "$(grep "^Training:" "$md")"
rm -rf "$sp"

# 6. bad arguments
bash "$src/scripts/benchmarks.sh" --only no-such-run >/dev/null 2>"$out/bad.txt"
rc=$?
check '[[ $rc == 2 ]] && grep -q "no-such-run" "$out/bad.txt"' "rc $rc: $(cat "$out/bad.txt")"
bash "$src/scripts/benchmarks.sh" --medians "$out/no-such-file.csv" >/dev/null 2>"$out/bad.txt"
rc=$?
check '[[ $rc == 2 ]] && grep -q "no-such-file.csv" "$out/bad.txt"' "rc $rc: $(cat "$out/bad.txt")"
bash "$src/scripts/benchmarks.sh" --medians "$out/medians.txt" >/dev/null 2>"$out/bad.txt"
rc=$?
check '[[ $rc == 2 ]] && grep -q "medians.txt is not a speed record" "$out/bad.txt"' "rc $rc: $(cat "$out/bad.txt")"
DS_BENCH_SPEED_REPEATS=0 bash "$src/scripts/benchmarks.sh" --list >/dev/null 2>"$out/bad.txt"
rc=$?
check '[[ $rc == 1 ]] && grep -q "DS_BENCH_SPEED_REPEATS=0" "$out/bad.txt"' "rc $rc: $(cat "$out/bad.txt")"

if ((failed)); then echo "test_benchmarks: FAILED (outputs kept in $out)"; exit 1; fi
rm -rf "$out"
echo "test_benchmarks: all checks passed"
