"""The command lines of the annotator-in-the-loop, as plain functions (no Slicer, no I/O).

One source for every caller: the Slicer module (DualSegLoop.py), the command-line loop
(scripts/dualseg_loop.py) and the protocol A-H driver (scripts/annotator_ah.py). The C test
test_cli_loop runs the lines of testing/cli/loop_round.txt through the real modules, and
testing/cli/test_loop_commands.py checks that these functions build exactly those lines, so the
GUI and the scripts cannot drift from what the tests run.

Every function returns an argv list; paths are used as given. Flags are the modules' XML long
flags (xml/*.xml); the model file is the index parameter of DualSegTrain's reader, DualSegSegment
takes it last, as Slicer does.
"""

import os
import re

IGNORE_LABEL = 255
AXES = ("sagittal", "coronal", "axial")  # slices across the first, second, third array axis


def _exe(folder, name):
    return os.path.join(folder, name)


def _vector(values):
    return ",".join(str(v) for v in values)


def train_command(modules, model, iterations, cohort_csv=None, volume=None, label=None,
                  warm_start=None, classes=0, patch=(32, 48, 32), seed=1337, width=None,
                  painted_axis=None, ignore_label=IGNORE_LABEL, threads=0,
                  checkpoint_minutes=None, log=None, return_file=None):
    """DualSegTrain: a cohort CSV (image[,label] lines) or one volume with its labels.

    painted_axis (one of AXES) marks slices without a non-zero label as unannotated (a
    segmentation painted in Slicer, where unpainted voxels are 0); None keeps the labels as they
    are (unannotated voxels already hold ignore_label). warm_start starts from that model's
    networks; iterations 0 with a warm start writes it unchanged.
    """
    argv = [_exe(modules, "DualSegTrain")]
    if return_file:
        argv += ["--returnparameterfile", return_file]
    if cohort_csv:
        argv += ["--cohortCsv", cohort_csv]
    if volume:
        argv += ["--input", volume, "--label", label]
    argv += ["--model", model, "--iterations", str(iterations), "--patch", _vector(patch),
             "--seed", str(seed), "--ignoreLabel", str(ignore_label), "--threads", str(threads)]
    if classes:
        argv += ["--classes", str(classes)]
    if width:
        argv += ["--width", str(width)]
    if painted_axis:
        argv += ["--paintedSlices", painted_axis]
    if warm_start:
        argv += ["--warmStart", warm_start]
    if checkpoint_minutes is not None:
        argv += ["--checkpointMinutes", str(checkpoint_minutes)]
    if log:
        argv += ["--log", log]
    return argv


def segment_command(modules, model, volume, label_out, entropy_out=None, annotated=None,
                    ignore_label=IGNORE_LABEL, axis="axial", count=5, spacing=5, threads=0,
                    return_file=None, slice_range=None):
    """DualSegSegment on one volume: label map, entropy map, the slices to label next.

    annotated: the case's labels painted so far; their annotated slices (any voxel other than
    ignore_label) are never suggested. slice_range: (first, last), suggest only those slices.
    """
    argv = [_exe(modules, "DualSegSegment")]
    if return_file:
        argv += ["--returnparameterfile", return_file]
    argv += ["--input", volume, "--output", label_out]
    if entropy_out:
        argv += ["--entropy", entropy_out]
    if annotated:
        argv += ["--annotated", annotated, "--ignoreLabel", str(ignore_label)]
    if slice_range:
        argv += ["--sliceRange", f"{slice_range[0]},{slice_range[1]}"]
    argv += ["--sliceAxis", axis, "--sliceCount", str(count), "--sliceSpacing", str(spacing),
             "--threads", str(threads), model]
    return argv


def segment_folder_command(modules, model, input_folder, output_folder, threads=0,
                           return_file=None):
    """DualSegSegment on a folder (the test cases of a benchmark): <case>_label etc."""
    argv = [_exe(modules, "DualSegSegment")]
    if return_file:
        argv += ["--returnparameterfile", return_file]
    return argv + ["--inputFolder", input_folder, "--outputFolder", output_folder,
                   "--folderFormat", ".nrrd", "--threads", str(threads), model]


def evaluate_folder_command(modules, prediction_folder, reference_folder, table, classes,
                            threads=0, return_file=None):
    """DualSegEvaluate of a folder of predictions against a folder of references."""
    argv = [_exe(modules, "DualSegEvaluate")]
    if return_file:
        argv += ["--returnparameterfile", return_file]
    return argv + ["--predictionFolder", prediction_folder, "--referenceFolder",
                   reference_folder, "--outputTable", table, "--classes", str(classes),
                   "--threads", str(threads)]


def montage_command(tools, image, label, entropy, montage, slices, title=None):
    """dualseg_report: the montage of the given slices (the ones DualSegSegment suggested)."""
    argv = [_exe(tools, "dualseg_report"), "--image", image, "--label", label, "--entropy",
            entropy, "--montage", montage, "--at", _vector(slices)]
    if title:
        argv += ["--title", title]
    return argv


def plot_command(tools, table, png, x_column, y_label, title=None):
    """dualseg_report: a line plot of a CSV table (one line per column against x_column)."""
    argv = [_exe(tools, "dualseg_report"), "--table", table, "--plot", png, "--x", x_column,
            "--ylabel", y_label]
    return argv + (["--title", title] if title else [])


def annotate_command(tools, reference, output, partial=None, slices=None, choose=None,
                     count=1, seed=None, axis=2, ignore_label=IGNORE_LABEL):
    """dualseg_annotate, the simulated annotator: reveals slices of reference into partial.

    slices: the slices to reveal; or choose (centre, even, random) with count and seed.
    Without partial it starts from nothing annotated.
    """
    argv = [_exe(tools, "dualseg_annotate"), "--reference", reference, "--output", output]
    if partial:
        argv += ["--partial", partial]
    argv += ["--axis", str(axis), "--ignore", str(ignore_label)]
    if slices is not None:
        argv += ["--slices", _vector(slices)]
    else:
        argv += ["--choose", choose, "--count", str(count)]
        if seed is not None:
            argv += ["--seed", str(seed)]
    return argv


def gui_round(modules, work, volume, painted, model, iterations, warm_start=None,
              patch=(32, 48, 32), seed=1337, classes=0, width=None, threads=0, count=5,
              spacing=5, slice_range=None):
    """The Slicer module's round on the loaded volume and its painted segmentation (saved to
    the files volume and painted; unpainted voxels 0, as Slicer exports a segmentation):
    train (slices without a painted label are unannotated: --paintedSlices axial), then segment
    and suggest (a slice with a painted label, i.e. any voxel other than 0, is never suggested;
    slice_range (first, last): only those slices are). Returns the two argv and the paths of the
    outputs."""
    out = {"label": os.path.join(work, "segmentation.nrrd"),
           "entropy": os.path.join(work, "entropy.nrrd"),
           "return_file": os.path.join(work, "segment.txt")}
    out["train"] = train_command(modules, model, iterations, volume=volume, label=painted,
                                 warm_start=warm_start, classes=classes, patch=patch, seed=seed,
                                 width=width, painted_axis="axial", threads=threads)
    out["segment"] = segment_command(modules, model, volume, out["label"], out["entropy"],
                                     annotated=painted, ignore_label=0, count=count,
                                     spacing=spacing, threads=threads,
                                     return_file=out["return_file"], slice_range=slice_range)
    return out


def parse_return_file(text):
    """The return-parameter file of a CLI module ("name = value" lines) as a dict of strings."""
    values = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            values[name.strip()] = value.strip()
    return values


def ints(value):
    """An integer-vector return value ("3,7,12"; empty: none) as a list of ints."""
    return [int(v) for v in value.split(",") if v.strip()] if value else []


def doubles(value):
    return [float(v) for v in value.split(",") if v.strip()] if value else []


def parse_slice_range(text):
    """(first, last) from "first-last" (spaces allowed), None from an empty text; ValueError with
    a readable message otherwise. The Slicer module's and the loop driver's cohort column."""
    text = text.strip()
    if not text:
        return None
    m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", text)
    if not m or int(m.group(1)) > int(m.group(2)):
        raise ValueError(f"slices '{text}' is not first-last with first <= last")
    return int(m.group(1)), int(m.group(2))
