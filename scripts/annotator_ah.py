#!/usr/bin/python3
"""Protocol A-H: a simulated annotator on real MRI (issue 13), every step through the modules.

Usage: scripts/annotator_ah.py [--work DIR] [--out PREFIX] [--build DIR] [--data DIR]
                               [--threads N] [--report]
  --report  run nothing; write PREFIX.md and .png from the rounds finished so far

Data: Task04_Hippocampus and its splits.json. The 10 cases of labelled_5pct start with ONE
annotated axial slice each (third array axis), the slice through the centre of mass of the
reference foreground; every other voxel of those cases holds the ignore label 255; the other 198
training cases are unlabelled. Round 0 trains the dual method from scratch for 1000 iterations
(lr 0.01, x0.1 at 5/12 and 10/12 of the round's schedule, patch 32x48x32, batch 2+2, seed 1337).
Rounds 1-5: each of the 10 cases gets one more slice chosen by the strategy (revealed from the
reference by dualseg_annotate), then training warm-starts from the previous model for 400
iterations. After every round: Dice of the two classes on the 52 test cases (DualSegSegment
folder mode, DualSegEvaluate). Strategies:
  entropy  DualSegSegment's suggestion with the painted labels (--annotated), the first one;
  random   a seeded uniform choice among the unannotated slices of the reference foreground's
           extent (seed 1337 + 1000 * round + case index);
  even     evenly spaced: the unannotated slice of that extent farthest from every annotated
           slice and from the extent's ends (what a careful annotator does without help);
  entropy-extent  the fix tried after the entropy strategy chose slices without structure:
           the suggestion inside the reference foreground's extent (--sliceRange; the knowledge
           random and even are given);
  cases    the variant with case ranking: the same budget of 10 slices a round goes, two each,
           to the 5 cases of highest mean uncertainty (DualSegSegment's meanEntropy), their two
           best suggestions (at least 5 slices apart); the other cases get none that round.
Round 0 (its model and its Dice) is shared by every strategy.

Side by side: the strategies share only round 0, so after it each may run in its own process
(DS_AH_STRATEGIES=entropy, =random, =even on the same --work, --threads 1 each): on 2 cores,
three single-threaded trainings do more iterations per second than one with two threads.

Resumable: every step's output is written atomically and a finished step is never redone; an
interrupted training continues from its checkpoint (DualSegTrain resumes when rerun). Results:
PREFIX.md (tables) and PREFIX.png (Dice against slices annotated, one line per strategy, drawn
by dualseg_report through the VTK bridge); PREFIX defaults to benchmarks/annotator_ah.

Smoke overrides (environment; any of them marks the results as NOT the protocol):
  DS_AH_ITERS_SCALE   multiplies 1000 and 400 (at least 1 iteration)
  DS_AH_TEST_CASES    evaluate only the first N test cases
  DS_AH_UNLABELLED    use only the first N unlabelled cases
  DS_AH_ROUNDS        rounds after round 0 (5)
and DS_AH_STRATEGIES, a comma-separated subset of entropy,random,even,cases (all four; fewer
save time and leave the other strategies' results as they are)
and DS_AH_CHECKPOINT_MINUTES (2): minutes between the training's checkpoints (does not change
the results: a stretch resumes bit-exact).
"""
import argparse
import array
import gzip
import json
import os
import shutil
import struct
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "plugin", "DualSegLoop"))
import dualseg_loop as loop  # noqa: E402
import dualseg_loop_commands as dc  # noqa: E402

STRATEGIES = ("entropy", "random", "even", "cases", "entropy-extent")
PATCH, SEED, CLASSES = (32, 48, 32), 1337, 3


def settings():
    env = os.environ
    s = {"scale": float(env.get("DS_AH_ITERS_SCALE", "1")),
         "test_cases": int(env.get("DS_AH_TEST_CASES", "0")),
         "unlabelled": int(env.get("DS_AH_UNLABELLED", "-1")),
         "rounds": int(env.get("DS_AH_ROUNDS", "5")),
         "checkpoint_minutes": float(env.get("DS_AH_CHECKPOINT_MINUTES", "2")),
         "strategies": [x for x in env.get("DS_AH_STRATEGIES", ",".join(STRATEGIES)).split(",")
                        if x]}
    s["first_iterations"] = max(1, round(1000 * s["scale"]))
    s["round_iterations"] = max(1, round(400 * s["scale"]))
    s["smoke"] = any(k in env for k in ("DS_AH_ITERS_SCALE", "DS_AH_TEST_CASES",
                                        "DS_AH_UNLABELLED", "DS_AH_ROUNDS"))
    bad = [x for x in s["strategies"] if x not in STRATEGIES]
    if bad:
        sys.exit(f"annotator_ah: unknown strategies {bad}")
    return s


class Protocol:
    def __init__(self, a, s):
        self.a, self.s = a, s
        self.mods = os.path.join(a.build, "cli-modules")
        self.tools = os.path.join(a.build, "bin")
        with open(os.path.join(a.data, "splits.json")) as f:
            splits = json.load(f)
        self.labelled = splits["labelled_5pct"]
        unl = [c for c in splits["train"] if c not in self.labelled]
        self.unlabelled = unl if s["unlabelled"] < 0 else unl[:s["unlabelled"]]
        self.test = splits["test"][:s["test_cases"]] if s["test_cases"] else splits["test"]

    def image(self, cid):
        return os.path.join(self.a.data, "imagesTr", cid + ".nii.gz")

    def reference(self, cid):
        return os.path.join(self.a.data, "labelsTr", cid + ".nii.gz")

    def folder(self, *parts):
        path = os.path.join(self.a.work, *parts)
        os.makedirs(path, exist_ok=True)
        return path

    def setup(self):
        """The test folders (links to the data) and the start labels (centre-of-mass slice)."""
        images, refs = self.folder("setup", "test_images"), self.folder("setup", "test_labels")
        for cid in self.test:
            for src, dst in ((self.image(cid), images), (self.reference(cid), refs)):
                link = os.path.join(dst, cid + ".nii.gz")
                if not os.path.lexists(link):
                    os.symlink(src, link)
        start = self.folder("setup", "start")
        for cid in self.labelled:
            out = os.path.join(start, cid + ".nii.gz")
            if not os.path.exists(out):
                loop.run(dc.annotate_command(self.tools, self.reference(cid), out,
                                             choose="centre"),
                         os.path.join(start, cid + ".log"))
        return {cid: os.path.join(start, cid + ".nii.gz") for cid in self.labelled}

    def train(self, rdir, labels, warm):
        model = os.path.join(rdir, "model.dsm")
        if os.path.exists(model):
            return model
        csv_path = os.path.join(rdir, "train.csv")
        with open(csv_path + ".tmp", "w") as f:
            f.write("image,label\n")
            f.writelines(f"{self.image(c)},{labels[c]}\n" for c in self.labelled)
            f.writelines(f"{self.image(c)}\n" for c in self.unlabelled)
        os.replace(csv_path + ".tmp", csv_path)
        iters = self.s["round_iterations"] if warm else self.s["first_iterations"]
        values = loop.run(dc.train_command(self.mods, model, iters, cohort_csv=csv_path,
                                           warm_start=warm, classes=CLASSES, patch=PATCH,
                                           seed=SEED, threads=self.a.threads,
                                           checkpoint_minutes=self.s["checkpoint_minutes"],
                                           log=os.path.join(rdir, "train_log.csv"),
                                           return_file=os.path.join(rdir, "train.txt")),
                          os.path.join(rdir, "train.log"))
        loop.write_json(os.path.join(rdir, "train.json"), values)
        return model

    def evaluate(self, rdir, model):
        seg = self.folder(os.path.relpath(rdir, self.a.work), "test_segmentations")
        ret = os.path.join(rdir, "segment_test.txt")
        if not os.path.exists(ret):  # the return file is written last
            loop.run(dc.segment_folder_command(self.mods, model,
                                               os.path.join(self.a.work, "setup", "test_images"),
                                               seg, threads=self.a.threads),
                     os.path.join(rdir, "segment_test.log"))
            with open(ret + ".tmp", "w") as f:
                f.write("done\n")
            os.replace(ret + ".tmp", ret)
        links = self.folder(os.path.relpath(rdir, self.a.work), "test_links")
        for cid in self.test:  # DualSegEvaluate matches folders by file name
            link = os.path.join(links, cid + ".nrrd")
            if not os.path.lexists(link):
                os.symlink(os.path.join(seg, cid + "_label.nrrd"), link)
        values = loop.run(dc.evaluate_folder_command(
            self.mods, links, os.path.join(self.a.work, "setup", "test_labels"),
            os.path.join(rdir, "test_dice.csv"), CLASSES, threads=self.a.threads,
            return_file=os.path.join(rdir, "evaluate.txt")), os.path.join(rdir, "evaluate.log"))
        return dc.doubles(values["dice"])

    def choose(self, strategy, r, rdir, model, labels):
        """Reveals one slice per case; returns {case: slice}."""
        if strategy == "cases":
            return self.choose_by_case(r, rdir, model, labels)
        chosen = {}
        for i, cid in enumerate(self.labelled):
            out = os.path.join(self.folder(os.path.relpath(rdir, self.a.work), "labels"),
                               cid + ".nii.gz")
            done = out + ".json"
            if os.path.exists(done):
                chosen[cid] = loop.read_json(done)["slice"]
                continue
            if strategy == "entropy":
                kw = {"slices": self.entropy_slice(rdir, model, cid, labels[cid])}
            elif strategy == "entropy-extent":
                kw = {"slices": self.entropy_extent_slice(rdir, model, cid, labels[cid])}
            else:
                kw = {"choose": strategy, "seed": SEED + 1000 * r + i}
            if kw.get("slices") == []:  # nothing segmented: fall back to even spacing
                kw = {"choose": "even"}
            log = out[:-len(".nii.gz")] + "_reveal.log"
            loop.run(dc.annotate_command(self.tools, self.reference(cid), out,
                                         partial=labels[cid], **kw), log)
            with open(log) as f:
                revealed = [int(t) for line in f if line.startswith("revealed:")
                            for t in line.split()[1:] if t.isdigit()]
            chosen[cid] = revealed[0] if revealed else None
            loop.write_json(done, {"slice": chosen[cid], "how": kw.get("choose", strategy)})
        return chosen

    def suggestions(self, rdir, model, cid, label, count=1, spacing=1, slice_range=None):
        """DualSegSegment with the painted labels: (suggested slices, the case's meanEntropy)."""
        d = self.folder(os.path.relpath(rdir, self.a.work), "suggest")
        ret = os.path.join(d, cid + ".txt")
        values = loop.run(dc.segment_command(self.mods, model, self.image(cid),
                                             os.path.join(d, cid + "_label.nrrd"),
                                             os.path.join(d, cid + "_entropy.nrrd"),
                                             annotated=label, count=count, spacing=spacing,
                                             slice_range=slice_range, threads=self.a.threads,
                                             return_file=ret),
                          os.path.join(d, cid + ".log"))
        return dc.ints(values.get("suggestedSlices", "")), float(values.get("meanEntropy", 0))

    def entropy_slice(self, rdir, model, cid, label):
        return self.suggestions(rdir, model, cid, label)[0][:1]

    def entropy_extent_slice(self, rdir, model, cid, label):
        """The fix tried after the first runs, where the entropy strategy chose slices with no
        structure (the volume's end slices, with the model's false positives): the suggestion
        inside the reference foreground's axial extent (DualSegSegment --sliceRange), the
        knowledge the random and even strategies are given (an annotator sees where the
        structure is). The published rounds took the first slice of the whole ranking inside
        the extent (--sliceCount 100 --sliceSpacing 1, then filtered); rerun from their saved
        models and labels with --sliceRange, all 50 choices of rounds 1-5 came out the same."""
        lo, hi = foreground_extent(self.reference(cid))
        return self.suggestions(rdir, model, cid, label, slice_range=(lo, hi))[0][:1]

    def choose_by_case(self, r, rdir, model, labels):
        """The case-ranking variant: two slices for each of the 5 most uncertain cases."""
        done = os.path.join(rdir, "cases.json")
        if os.path.exists(done):
            return loop.read_json(done)
        scored = {c: self.suggestions(rdir, model, c, labels[c], count=2, spacing=5)
                  for c in self.labelled}
        ranked = sorted(self.labelled, key=lambda c: -scored[c][1])  # stable: ties in order
        out_dir = self.folder(os.path.relpath(rdir, self.a.work), "labels")
        chosen = {}
        for c in self.labelled:
            out = os.path.join(out_dir, c + ".nii.gz")
            picks = scored[c][0] if c in ranked[:len(ranked) // 2] else []
            if picks:
                loop.run(dc.annotate_command(self.tools, self.reference(c), out,
                                             partial=labels[c], slices=picks),
                         out[:-len(".nii.gz")] + "_reveal.log")
            else:  # nothing new for this case this round: its labels as they were
                shutil.copyfile(labels[c], out + ".tmp")
                os.replace(out + ".tmp", out)
            chosen[c] = picks
        loop.write_json(done, chosen)
        return chosen

    def round(self, strategy, r, labels, prev_model):
        """Round r of a strategy (round 0 is shared); returns (model, labels, result)."""
        rdir = self.folder("round0") if r == 0 else self.folder(strategy, f"round{r}")
        result_path = os.path.join(rdir, "result.json")
        chosen = {}
        t0 = time.time()
        if r > 0:
            chosen = self.choose(strategy, r, rdir, prev_model, labels)
            labels = {c: os.path.join(rdir, "labels", c + ".nii.gz") for c in self.labelled}
        t1 = time.time()
        if os.path.exists(result_path):
            return os.path.join(rdir, "model.dsm"), labels, loop.read_json(result_path)
        model = self.train(rdir, labels, prev_model)
        t2 = time.time()
        dice = self.evaluate(rdir, model)
        train = loop.read_json(os.path.join(rdir, "train.json"))
        result = {"strategy": strategy if r else "shared", "round": r, "slices_per_case": r + 1,
                  "dice": dice, "chosen": chosen,
                  "seconds": {"choose": t1 - t0, "train": float(train.get("seconds", t2 - t1)),
                              "evaluate": time.time() - t2}}
        loop.write_json(result_path, result)
        return model, labels, result

    def run(self):
        start = self.setup()
        for strategy in self.s["strategies"]:
            model, labels = None, start
            for r in range(self.s["rounds"] + 1):
                model, labels, res = self.round(strategy, r, labels, model)
                print(f"{strategy:8s} round {r}: Dice {', '.join(f'{d:.4f}' for d in res['dice'])}"
                      f" (train {res['seconds']['train']:.0f} s)", flush=True)
        return self.finished()

    def finished(self):
        """The finished rounds of every strategy in this folder (round 0 first), whichever run
        made them, in a fixed order: each strategy keeps its column and colour."""
        results = {}
        for strategy in STRATEGIES:
            done = [os.path.join(self.a.work, "round0", "result.json")] + [
                os.path.join(self.a.work, strategy, f"round{r}", "result.json")
                for r in range(1, self.s["rounds"] + 1)]
            while done and not os.path.exists(done[-1]):
                done.pop()
            if len(done) > 1 or (done and strategy in self.s["strategies"]):
                results[strategy] = [loop.read_json(d) for d in done]
        return results


def mean(v):
    return sum(v) / len(v) if v else float("nan")


def axial_label_counts(path):
    """Per axial slice (third array axis) of a NIfTI-1 label volume, {label: voxels}. Plain
    Python (gzip, struct): the analysis of the chosen slices, independent of the project's
    reader and of numpy (not a CI dependency)."""
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        raw = f.read()
    if len(raw) < 352:
        raise ValueError(f"{path}: {len(raw)} bytes, shorter than a NIfTI-1 header")
    end = "<" if struct.unpack("<i", raw[0:4])[0] == 348 else ">"
    dim = struct.unpack(end + "8h", raw[40:56])
    code = struct.unpack(end + "h", raw[70:72])[0]
    offset = int(struct.unpack(end + "f", raw[108:112])[0])
    kinds = {2: "B", 4: "h", 8: "i", 16: "f", 64: "d", 256: "b", 512: "H", 768: "I"}
    if code not in kinds or dim[0] < 3:
        raise ValueError(f"{path}: not a 3D NIfTI label volume (datatype {code}, {dim[0]} dims)")
    plane, depth = dim[1] * dim[2], dim[3]
    values = array.array(kinds[code])
    values.frombytes(raw[offset:offset + plane * depth * values.itemsize])
    if (end == "<") != (sys.byteorder == "little"):
        values.byteswap()
    if len(values) != plane * depth:
        raise ValueError(f"{path}: truncated ({len(values)} of {plane * depth} voxels)")
    counts = []
    for k in range(depth):  # the third axis varies slowest
        c = {}
        for v in values[k * plane:(k + 1) * plane]:
            c[v] = c.get(v, 0) + 1
        counts.append(c)
    return counts


def extent_of(counts):
    """The first and last slices of axial_label_counts' result holding a label other than 0."""
    ks = [k for k, c in enumerate(counts) if set(c) - {0}]
    return ks[0], ks[-1]


def foreground_extent(path):
    """The first and last axial slices of a label volume holding a label other than 0."""
    return extent_of(axial_label_counts(path))


def annotated_slices(path, ignore=255):
    """The axial slices of a partial label file that hold an annotation (a voxel not ignore)."""
    return [k for k, c in enumerate(axial_label_counts(path)) if set(c) - {ignore}]


def choice_stats(reference, picks, annotated_before):
    """For each slice of picks, in the reference: [foreground, class 1, class 2 as fractions of
    the fullest slice of each; 1 if it holds no class 1; 1 if no class 2; position in the
    foreground's axial extent (0 and 1: its end slices); distance in slices to the nearest slice
    of annotated_before; 1 if outside the extent]."""
    counts = axial_label_counts(reference)
    fg = [sum(n for v, n in c.items() if v != 0) for c in counts]
    cls = [[c.get(label, 0) for c in counts] for label in (1, 2)]
    lo, hi = extent_of(counts)
    return [[fg[k] / max(fg), cls[0][k] / max(max(cls[0]), 1), cls[1][k] / max(max(cls[1]), 1),
             float(cls[0][k] == 0), float(cls[1][k] == 0), (k - lo) / max(hi - lo, 1),
             min(abs(k - a) for a in annotated_before) if annotated_before else float("nan"),
             float(k < lo or k > hi)]
            for k in picks if k is not None]


def choice_rows(p, results):
    """Per strategy, what its chosen slices held in the reference (issue 13: look at which slices
    were chosen): the mean over every choice of the slice's foreground and of each class as a
    fraction of the case's fullest slice of it, the share of choices without that class, the
    position in the foreground's axial extent (0 and 1 its ends), and the distance in slices to
    the nearest slice annotated before."""
    start = os.path.join(p.a.work, "setup", "start")
    rows = []
    for strategy, rounds in results.items():
        stats = []
        for res in rounds[1:]:
            r = res["round"]
            before = os.path.join(start if r == 1 else os.path.join(p.a.work, strategy,
                                                                    f"round{r - 1}", "labels"))
            for cid, picks in res["chosen"].items():
                picks = picks if isinstance(picks, list) else [picks]
                old = annotated_slices(os.path.join(before, cid + ".nii.gz"))
                stats += choice_stats(p.reference(cid), picks, old)
        if stats:
            m = [mean([row[i] for row in stats]) for i in range(len(stats[0]))]
            rows.append(f"| {strategy} | {len(stats)} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} | "
                        f"{100 * m[3]:.0f} % | {100 * m[4]:.0f} % | {100 * m[7]:.0f} % | "
                        f"{m[5]:.2f} | {m[6]:.1f} |")
    if not rows:
        return []
    return ["", "Which slices were chosen (rounds 1 on; in the reference, each value a mean over the "
            "choices): the slice's foreground, class 1 and class 2 as fractions of the case's "
            "fullest slice of each, the share of choices holding none of class 1 / class 2 and "
            "lying outside the foreground's axial extent, the position in that extent (0 and 1: "
            "its end slices; below 0 or above 1 outside it) and the distance in slices to the "
            "nearest slice annotated before:", "",
            "| strategy | choices | foreground | class 1 | class 2 | no class 1 | no class 2 | "
            "outside the extent | position | distance |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"] + rows


def training_threads(p, strategy, r):
    """The --threads of a round's DualSegTrain, from the command line its log starts with."""
    log = os.path.join(p.a.work, "round0" if r == 0 else os.path.join(strategy, f"round{r}"),
                       "train.log")
    try:
        with open(log) as f:
            words = f.readline().split()
        return words[words.index("--threads") + 1]
    except (OSError, ValueError, IndexError):
        return "?"


def write_results(p, results, out):
    s = p.s
    lines = ["# Protocol A-H: the annotator in the loop on Task04_Hippocampus", ""]
    if s["smoke"]:
        lines += ["**SMOKE RUN with overrides, NOT the protocol's results:** "
                  f"iterations x{s['scale']} ({s['first_iterations']} then "
                  f"{s['round_iterations']}), {len(p.test)} test cases, "
                  f"{len(p.unlabelled)} unlabelled cases, {s['rounds']} rounds.", ""]
    lines += [f"{len(p.labelled)} cases (labelled_5pct) start with the axial slice through the "
              "reference foreground's centre of mass; each round reveals one more slice per "
              f"case by the strategy; {len(p.unlabelled)} unlabelled cases; round 0: "
              f"{s['first_iterations']} iterations from scratch, then {s['round_iterations']} "
              "warm-started per round (lr 0.01, x0.1 at 5/12 and 10/12, patch 32x48x32, "
              f"batch 2+2, seed 1337). Test Dice on {len(p.test)} test cases "
              "(class 1 anterior / class 2 posterior / mean).", "",
              "Strategies: entropy (DualSegSegment's first suggestion with the painted labels), "
              "random (seeded, within the reference foreground's extent), even (the slice "
              "farthest from the annotated ones and the extent's ends), entropy-extent (the "
              "entropy suggestion inside the reference foreground's extent, DualSegSegment "
              "--sliceRange), cases (case ranking: "
              "the round's 10 slices go, two each, to the 5 most uncertain cases; slices per "
              "case is then the mean).", "",
              "| slices per case | " + " | ".join(results) + " |",
              "| --- | " + " | ".join("---" for _ in results) + " |"]
    rows = max(len(v) for v in results.values())
    for r in range(rows):
        cells = []
        for strategy in results:
            d = results[strategy][r]["dice"] if r < len(results[strategy]) else []
            cells.append(" / ".join(f"{x:.4f}" for x in d + [mean(d)]) if d else "")
        lines.append(f"| {r + 1} | " + " | ".join(cells) + " |")
    lines += ["", "Wall time per round (s: choosing the slices + training + test segmentation "
              "and evaluation; the training's threads in brackets, from its log; rounds run side "
              "by side share the 2 cores):", "",
              "| round | " + " | ".join(results) + " |",
              "| --- | " + " | ".join("---" for _ in results) + " |"]
    for r in range(rows):
        cells = [f"{sum(results[k][r]['seconds'].values()):.0f} ({training_threads(p, k, r)})"
                 if r < len(results[k]) else "" for k in results]
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    for guided in ("entropy", "entropy-extent", "cases"):
        others = [k for k in ("random", "even") if k in results]
        if guided not in results or not others:
            continue
        r = min(len(results[k]) for k in [guided] + others) - 1  # the last round all finished
        gaps = [f"{100 * (mean(results[guided][r]['dice']) - mean(results[k][r]['dice'])):+.2f} "
                f"points against {k}" for k in others]
        lines += ["", f"After round {r} ({r + 1} slices per case), {guided} scores "
                  + ", ".join(gaps) + " (mean Dice of the two classes; the goal is +1 point)."]
    lines += choice_rows(p, results)
    lines += ["", "Reproduce: `bash scripts/build.sh release`, then `nice -n 10 python3 "
              "scripts/annotator_ah.py --threads 2` (resumable; `--work DIR` keeps the state); "
              "once round 0 is done, the strategies may run side by side, one process each: "
              "`DS_AH_STRATEGIES=random python3 scripts/annotator_ah.py --threads 1 &` and so "
              "on; `--report` rewrites this file from the rounds finished.", "",
              f"![Test Dice against slices annotated per case]({os.path.basename(out)}.png)", ""]
    with open(f"{out}.md.tmp.{os.getpid()}", "w") as f:
        f.write("\n".join(lines))
    os.replace(f"{out}.md.tmp.{os.getpid()}", out + ".md")
    table = f"{out}_plot.{os.getpid()}.csv"
    with open(table, "w") as f:
        f.write("slices per case," + ",".join(results) + "\n")
        for r in range(rows):
            f.write(f"{r + 1}," + ",".join(f"{mean(results[k][r]['dice']):.6f}"
                                           if r < len(results[k]) else "" for k in results)
                    + "\n")
    loop.run(dc.plot_command(p.tools, table, out + ".png", "slices per case",
                             "Test Dice (mean of the two classes)",
                             "Protocol A-H" + (" (smoke run)" if s["smoke"] else "")),
             f"{out}_plot.{os.getpid()}.log")
    os.remove(table)
    os.remove(f"{out}_plot.{os.getpid()}.log")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", default=os.path.join(ROOT, "annotator_ah_work"))
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "annotator_ah"))
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--data", default=os.path.join(os.path.dirname(ROOT), "shared", "data",
                                                  "Task04_Hippocampus"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--report", action="store_true",
                   help="run nothing: write the results of the rounds finished so far")
    a = p.parse_args()
    a.work = os.path.abspath(a.work)
    s = settings()
    # a work folder holds the results of one set of settings: never mix a smoke run's rounds
    # into the protocol's (the strategies may differ: each has its own folders)
    kept = {k: v for k, v in s.items() if k not in ("strategies", "checkpoint_minutes")}
    os.makedirs(a.work, exist_ok=True)
    stamp = os.path.join(a.work, "settings.json")
    if os.path.exists(stamp) and loop.read_json(stamp) != kept:
        sys.exit(f"annotator_ah: {a.work} holds a run with other settings "
                 f"({loop.read_json(stamp)}); use another --work")
    if not a.report:
        loop.write_json(stamp, kept)
    proto = Protocol(a, s)
    try:
        results = proto.finished() if a.report else proto.run()
    except loop.StepFailed as e:
        print("annotator_ah:", e, file=sys.stderr)
        return 1
    if not results:
        print("annotator_ah: no round has finished yet: nothing to write")
        return 0
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    write_results(proto, results, a.out)
    print(f"results: {a.out}.md, {a.out}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
