#!/usr/bin/python3
"""The annotator in the loop, on the command line: train -> segment -> suggest, round after round.

Usage: scripts/dualseg_loop.py --cohort COHORT.csv --work DIR [--simulate] [--continue]
                               [--rounds N] [options]

COHORT.csv (header image,label[,reference[,slices]]; paths relative to the CSV's folder): a
labelled case's label holds the ignore label (255) on every voxel not annotated yet; a line
without a label is an unlabelled case. slices, optional, is first-last (axial slice numbers from
0, both included): the slices the structure spans, which you know and a model trained on a few
slices may not; suggestions then come from those slices only (DualSegSegment --sliceRange). Each round trains (the first from scratch, the next warm-started
from the last model on a short schedule), segments every labelled case with its painted labels
(DualSegSegment --annotated, so a painted slice is never suggested), prints the slices to label
next per case with a montage picture (dualseg_report), and then
  - interactive (default): waits for you to paint those slices into the label files (Enter), or
    with --no-wait stops; `--continue` later re-reads the labels and starts the next round;
  - --simulate: reveals the suggested slices from the reference column (dualseg_annotate) into
    copies of the labels under DIR/labels, and goes on.
Every round's outputs live in DIR/round<r>/ and a finished step is never redone: a rerun after an
interruption continues where it stopped (an interrupted training from its checkpoint).

Only process sequencing lives here; every command line comes from
plugin/DualSegLoop/dualseg_loop_commands.py (shared with the Slicer module and checked by
test_loop_commands against the lines test_cli_loop runs), every voxel is touched by the C tools.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "plugin", "DualSegLoop"))
import dualseg_loop_commands as dc  # noqa: E402


class StepFailed(RuntimeError):
    pass


def write_json(path, value):
    """Atomically: a reader sees the old file or the whole new one. The temporary name holds the
    process id: two drivers on one folder (annotator_ah.py runs its strategies side by side)
    never share it."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(value, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def run(argv, log_path):
    """Runs a module or tool; its output goes to log_path. Returns the return parameters (a
    dict) when argv names a --returnparameterfile, else {}. Raises StepFailed on a failure."""
    t0 = time.time()
    with open(log_path, "w") as log:
        log.write(" ".join(argv) + "\n")
        log.flush()
        code = subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT)
    if code != 0:
        with open(log_path) as log:
            tail = log.read().splitlines()[-5:]
        raise StepFailed(f"{os.path.basename(argv[0])} failed (exit {code}); log {log_path}:\n  "
                         + "\n  ".join(tail))
    values = {"seconds": time.time() - t0}
    if "--returnparameterfile" in argv:
        with open(argv[argv.index("--returnparameterfile") + 1]) as f:
            values.update(dc.parse_return_file(f.read()))
    return values


def read_cohort(path):
    """[(id, image, label or None, reference or None, (first, last) or None)], absolute paths."""
    base = os.path.dirname(os.path.abspath(path))
    cases = []
    with open(path, newline="") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if not row or row[0].startswith("#") or row[0] == "image":
                continue
            row = [c.strip() for c in row] + ["", "", ""]
            image, label, ref = (os.path.join(base, c) if c else None for c in row[:3])
            cid = os.path.basename(image).split(".")[0]
            cases.append((cid[:-5] if cid.endswith("_0000") else cid, image, label, ref,
                          slice_range(row[3], f"{path} line {n}")))
    return cases


def slice_range(text, where):
    """(first, last) from "first-last", None from ""; a bad one ends the driver, naming where."""
    try:
        return dc.parse_slice_range(text)
    except ValueError as e:
        sys.exit(f"dualseg_loop: {where}: {e}")


def write_train_csv(path, cases, labels):
    """The DualSegTrain cohort of a round: each labelled case with its current labels."""
    with open(path + ".tmp", "w") as f:
        f.write("image,label\n")
        for cid, image, _, _, _ in cases:
            f.write(f"{image},{labels[cid]}\n" if cid in labels else f"{image}\n")
    os.replace(path + ".tmp", path)


def train_round(a, mods, rdir, cases, labels, warm):
    model = os.path.join(rdir, "model.dsm")
    if os.path.exists(model):  # written atomically at the end: the round's training is done
        return model
    csv_path = os.path.join(rdir, "train.csv")
    write_train_csv(csv_path, cases, labels)
    argv = dc.train_command(mods, model, a.round_iterations if warm else a.iterations,
                            cohort_csv=csv_path, warm_start=warm, classes=a.classes,
                            patch=a.patch, seed=a.seed, width=a.width, threads=a.threads,
                            checkpoint_minutes=a.checkpoint_minutes,
                            return_file=os.path.join(rdir, "train.txt"))
    print(f"  training ({'warm start' if warm else 'from scratch'}) ...", flush=True)
    run(argv, os.path.join(rdir, "train.log"))
    return model


def suggest(a, mods, tools, rdir, model, cid, image, label, extent):
    """Segments one case with its painted labels; its suggestions (cached in <case>.json)."""
    done = os.path.join(rdir, cid + ".json")
    if os.path.exists(done):
        return read_json(done)
    out = {k: os.path.join(rdir, f"{cid}_{k}.nrrd") for k in ("label", "entropy")}
    ret = os.path.join(rdir, cid + "_segment.txt")
    values = run(dc.segment_command(mods, model, image, out["label"], out["entropy"],
                                    annotated=label, count=a.suggest, spacing=a.spacing,
                                    slice_range=extent, threads=a.threads, return_file=ret),
                 os.path.join(rdir, cid + "_segment.log"))
    slices = dc.ints(values.get("suggestedSlices", ""))
    montage = os.path.join(rdir, cid + "_montage.png")
    if slices:
        run(dc.montage_command(tools, image, out["label"], out["entropy"], montage, slices,
                               title=cid), os.path.join(rdir, cid + "_montage.log"))
    result = {"slices": slices, "scores": dc.doubles(values.get("sliceScores", "")),
              "montage": montage if slices else None, "entropy": out["entropy"],
              "segmentation": out["label"]}
    write_json(done, result)
    return result


def reveal(tools, rdir, cid, ref, label, slices, out):
    if not os.path.exists(out):
        run(dc.annotate_command(tools, ref, out, partial=label, slices=slices),
            os.path.join(rdir, cid + "_reveal.log"))


def one_round(a, mods, tools, r, cases, labels):
    rdir = os.path.join(a.work, f"round{r}")
    os.makedirs(rdir, exist_ok=True)
    prev = os.path.join(a.work, f"round{r - 1}", "model.dsm") if r > 0 else None
    model = train_round(a, mods, rdir, cases, labels, prev)
    print(f"Round {r}: slices to label next (axial, from 0)")
    picks = {}
    for cid, image, _, _, extent in cases:
        if cid not in labels:
            continue
        s = suggest(a, mods, tools, rdir, model, cid, image, labels[cid], extent)
        picks[cid] = s["slices"]
        shown = ", ".join(f"{i} ({v:.3f})" for i, v in zip(s["slices"], s["scores"]))
        print(f"  {cid}: {shown or 'none (nothing segmented)'}"
              + (f"\n      montage {s['montage']}" if s["montage"] else ""))
    return picks


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cohort", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--simulate", action="store_true")
    p.add_argument("--continue", dest="cont", action="store_true")
    p.add_argument("--no-wait", action="store_true")
    p.add_argument("--rounds", type=int, default=0, help="rounds to run (0: 1 when simulating, "
                   "else until stopped)")
    p.add_argument("--reveal", type=int, default=1, help="slices revealed per case and round")
    p.add_argument("--suggest", type=int, default=5)
    p.add_argument("--spacing", type=int, default=5)
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--round-iterations", type=int, default=400)
    p.add_argument("--patch", type=lambda s: [int(v) for v in s.split(",")], default=[32, 48, 32])
    p.add_argument("--classes", type=int, default=0)
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--checkpoint-minutes", type=float, default=2)
    a = p.parse_args()
    a.work = os.path.abspath(a.work)
    mods, tools = os.path.join(a.build, "cli-modules"), os.path.join(a.build, "bin")
    os.makedirs(os.path.join(a.work, "labels"), exist_ok=True)
    cases = read_cohort(a.cohort)
    if a.simulate and any(lab and not ref for _, _, lab, ref, _ in cases):
        sys.exit("dualseg_loop: --simulate needs a reference for every labelled case")
    # state: the round in progress, and whether its suggestions wait for the annotator
    state_path = os.path.join(a.work, "state.json")
    state = read_json(state_path) if os.path.exists(state_path) else {"round": 0, "wait": False}
    if a.cont and state["wait"]:
        state = {"round": state["round"] + 1, "wait": False}
        write_json(state_path, state)
    rounds = a.rounds or (1 if a.simulate else 1 << 30)
    try:
        for _ in range(rounds):
            r = state["round"]
            # a simulated round's labels are the reveals of the round before; the annotator's are
            # the cohort's files, painted in place
            labels = {cid: lab if r == 0 or not a.simulate
                      else os.path.join(a.work, "labels", f"{cid}_r{r}.nrrd")
                      for cid, _, lab, _, _ in cases if lab}
            picks = one_round(a, mods, tools, r, cases, labels)
            if a.simulate:
                rdir = os.path.join(a.work, f"round{r}")
                for cid, _, _, ref, _ in cases:
                    if cid in picks:
                        out = os.path.join(a.work, "labels", f"{cid}_r{r + 1}.nrrd")
                        reveal(tools, rdir, cid, ref, labels[cid], picks[cid][:a.reveal], out)
                print(f"  revealed {a.reveal} slice(s) per case from the references")
            else:
                write_json(state_path, {"round": r, "wait": True})
                if a.no_wait or not sys.stdin.isatty():
                    print("Paint those slices into the label files (unannotated voxels: 255), "
                          "then run again with --continue.")
                    return 0
                input("Paint those slices into the label files (unannotated voxels: 255), "
                      "then press Enter to retrain (Ctrl-C to stop) ")
            state = {"round": r + 1, "wait": False}
            write_json(state_path, state)
    except StepFailed as e:
        print("dualseg_loop:", e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopped; run the same command again to go on (with --continue once painted)")
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
