#!/usr/bin/python3
"""test_annotator_smoke - scripts/annotator_ah.py end to end on the real Task04_Hippocampus cases
(a smoke schedule: 2 iterations, then 1; 1 test case; 1 unlabelled case; one round; strategies
entropy and entropy-extent), every step through the modules. Checks, for each of the 10 cases:
  - entropy's choice is DualSegSegment's first suggestion (its return parameter file);
  - entropy-extent's choice lies inside the reference foreground's axial extent (counted from the
    reference here) and is not the start slice;
  - the revealed label of round 1 is annotated on exactly the start slice and the chosen one;
and that the report says it is a smoke run, not the protocol's results.
Reference: the reference label files and the modules' own outputs.

Usage: test_annotator_smoke.py SOURCE_DIR BUILD_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

SOURCE, BUILD = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(SOURCE, "scripts"))
import annotator_ah as ah  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402

DATA = os.path.join(SOURCE, "..", "shared", "data", "Task04_Hippocampus")


def choice(work, strategy, cid):
    with open(os.path.join(work, strategy, "round1", "labels", cid + ".nii.gz.json")) as f:
        return json.load(f)["slice"]


tmp = tempfile.mkdtemp(prefix="ds_annotator_smoke_")
work, out = os.path.join(tmp, "work"), os.path.join(tmp, "report")
env = dict(os.environ, DS_AH_ITERS_SCALE="0.002", DS_AH_TEST_CASES="1", DS_AH_UNLABELLED="1",
           DS_AH_ROUNDS="1", DS_AH_STRATEGIES="entropy,entropy-extent")
p = subprocess.run([sys.executable, os.path.join(SOURCE, "scripts", "annotator_ah.py"), "--work",
                    work, "--out", out, "--build", BUILD, "--data", DATA, "--threads", "1"],
                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                   timeout=800)  # a hang detector: under ASan on a loaded 2-core machine it took over 400 s
check(p.returncode == 0, f"annotator_ah.py exit {p.returncode}:\n{p.stdout}")
if p.returncode == 0:
    with open(os.path.join(DATA, "splits.json")) as f:
        cases = json.load(f)["labelled_5pct"]
    check(len(cases) == 10, f"{len(cases)} labelled_5pct cases")
    for cid in cases:
        ref = os.path.join(DATA, "labelsTr", cid + ".nii.gz")
        start = ah.annotated_slices(os.path.join(work, "setup", "start", cid + ".nii.gz"))
        check(len(start) == 1, f"{cid}: start slices {start}")
        values = {}
        with open(os.path.join(work, "entropy", "round1", "suggest", cid + ".txt")) as f:
            for line in f:
                k, _, v = line.partition("=")
                values[k.strip()] = v.strip()
        first = int(values["suggestedSlices"].split(",")[0]) if values.get("suggestedSlices") \
            else None
        check(choice(work, "entropy", cid) == first,
              f"{cid}: entropy chose {choice(work, 'entropy', cid)}, the first suggestion {first}")
        lo, hi = ah.foreground_extent(ref)
        got = choice(work, "entropy-extent", cid)
        check(got is not None and lo <= got <= hi and got not in start,
              f"{cid}: entropy-extent chose {got}; extent {lo}-{hi}, start {start}")
        for strategy in ("entropy", "entropy-extent"):
            c = choice(work, strategy, cid)
            label = os.path.join(work, strategy, "round1", "labels", cid + ".nii.gz")
            want = sorted(set(start + ([c] if c is not None else [])))
            check(ah.annotated_slices(label) == want,
                  f"{cid} {strategy}: annotated {ah.annotated_slices(label)}, want {want}")
    with open(out + ".md") as f:
        check("NOT the protocol" in f.read(), "the report does not say it is a smoke run")
shutil.rmtree(tmp)
finish("test_annotator_smoke")
