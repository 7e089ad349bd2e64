#!/usr/bin/python3
"""test_loop_driver - scripts/dualseg_loop.py end to end on the synthetic demo cohort
(dualseg_make_demo; its held-out cases have full references): one simulated round, then:
  - the round's files exist (model, suggestions, montage PNG, revealed labels) and the state
    says round 1;
  - no suggested slice is the one annotated at the start (the centre slice dualseg_annotate
    reported revealing); a case with the slices column gets suggestions inside it only, and a
    slices value that is not first-last stops the driver with one line naming the cohort line;
  - the revealed label differs from the start label (a slice was revealed);
  - the same command again never redoes round 0 (its model untouched) and runs round 1,
    warm-started from the round-0 model.
Reference: the start slices printed by dualseg_annotate, file times and contents.

Usage: test_loop_driver.py SOURCE_DIR BUILD_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402

SOURCE, BUILD = sys.argv[1], sys.argv[2]
TOOLS = os.path.join(BUILD, "bin")


def run(argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(p.returncode == 0, f"{' '.join(argv)}: exit {p.returncode}\n{p.stdout}")
    return p.stdout


work = tempfile.mkdtemp(prefix="ds_loop_driver_")
demo = os.path.join(work, "demo")
run([os.path.join(TOOLS, "dualseg_make_demo"), demo, "--labelled", "1", "--unlabelled", "1",
     "--test", "2", "--size", "32", "32", "24"])
start = {}
rows = ["image,label,reference"]
for c in ("demo_002", "demo_003"):
    out = run([os.path.join(TOOLS, "dualseg_annotate"), "--reference",
               os.path.join(demo, "labelsTs", c + ".nrrd"), "--output",
               os.path.join(demo, c + "_start.nrrd"), "--choose", "centre"])
    start[c] = int(re.search(r"revealed: (\d+)", out).group(1))
    rows.append(f"imagesTs/{c}.nrrd,{c}_start.nrrd,labelsTs/{c}.nrrd")
# demo_003 with the slices column: its suggestions come from those slices only
extent = (start["demo_003"] - 4, start["demo_003"] + 4)
rows[-1] += f",{extent[0]}-{extent[1]}"
rows.append("imagesTr/demo_001.nrrd")
with open(os.path.join(demo, "loop.csv"), "w") as f:
    f.write("\n".join(rows) + "\n")

loop = os.path.join(work, "loop")
cmd = [sys.executable, os.path.join(SOURCE, "scripts", "dualseg_loop.py"), "--cohort",
       os.path.join(demo, "loop.csv"), "--work", loop, "--build", BUILD, "--iterations", "3",
       "--round-iterations", "2", "--patch", "16,16,16", "--width", "2", "--classes", "3",
       "--threads", "2", "--suggest", "3", "--spacing", "2"]
out = run(cmd + ["--simulate"])
r0 = os.path.join(loop, "round0")
with open(os.path.join(loop, "state.json")) as f:
    check(json.load(f)["round"] == 1, "state after one simulated round")
for c in start:
    with open(os.path.join(r0, c + ".json")) as f:
        s = json.load(f)
    check(len(s["slices"]) >= 1, f"{c}: no suggestion")
    check(start[c] not in s["slices"], f"{c}: suggested the annotated slice {start[c]}")
    if c == "demo_003":
        check(all(extent[0] <= i <= extent[1] for i in s["slices"]),
              f"{c}: suggested {s['slices']} outside its slices {extent}")
    check(s["montage"] and os.path.getsize(s["montage"]) > 1000, f"{c}: montage")
    revealed = os.path.join(loop, "labels", c + "_r1.nrrd")
    with open(revealed, "rb") as a, open(os.path.join(demo, c + "_start.nrrd"), "rb") as b:
        check(a.read() != b.read(), f"{c}: the revealed label equals the start label")
    check(f"montage {s['montage']}" in out, f"{c}: montage path printed")

with open(os.path.join(r0, "demo_003_segment.log")) as f:
    check(f"--sliceRange {extent[0]},{extent[1]}" in f.read(), "demo_003: --sliceRange not passed")

model_time = os.path.getmtime(os.path.join(r0, "model.dsm"))
again = run(cmd + ["--simulate", "--rounds", "1"])  # round 1 now: round 0 is never redone
check(os.path.getmtime(os.path.join(r0, "model.dsm")) == model_time, "round 0 was redone")
check("Round 1" in again and "Round 0" not in again, f"second run:\n{again}")
with open(os.path.join(loop, "round1", "train.log")) as f:
    check("--warmStart " + os.path.join(r0, "model.dsm") in f.read(), "round 1 warm start")

# a slices column that is not first-last: one line naming the cohort's line, nothing run
with open(os.path.join(demo, "bad.csv"), "w") as f:
    f.write("image,label,reference,slices\n" + rows[1] + ",9-3\n")
bad = [os.path.join(demo, "bad.csv") if a == os.path.join(demo, "loop.csv") else
       os.path.join(work, "bad") if a == loop else a for a in cmd]
p = subprocess.run(bad + ["--simulate"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   text=True, timeout=120)
check(p.returncode != 0 and "bad.csv line 2: slices '9-3'" in p.stderr
      and len(p.stderr.strip().splitlines()) == 1, f"bad slices: exit {p.returncode}, {p.stderr}")
check(not os.path.exists(os.path.join(work, "bad", "round0")), "bad slices: a round started")

shutil.rmtree(work)
finish("test_loop_driver")
