#!/usr/bin/python3
"""test_loop_commands - the Python command builder of the annotator loop
(plugin/DualSegLoop/dualseg_loop_commands.py, used by the Slicer module and the scripts) builds
exactly the command lines that test_cli_loop runs through the real modules (loop_round.txt),
from the same parameters (the phantom round of test_cli_loop.c). Also: every flag the builder
emits for a module is declared in that module's XML; the Slicer module spells no flag
itself; the return-parameter parser.
Reference: loop_round.txt, whose lines test_cli_loop proves to work.

Usage: test_loop_commands.py SOURCE_DIR
"""
import os
import re
import sys

SOURCE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
sys.path.insert(0, os.path.join(SOURCE, "plugin", "DualSegLoop"))
import dualseg_loop_commands as dc  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402



def fixture_lines():
    lines = {}
    with open(os.path.join(SOURCE, "testing", "cli", "loop_round.txt")) as f:
        for line in f:
            if line.startswith("#") or ": " not in line:
                continue
            name, _, text = line.rstrip("\n").partition(": ")
            lines[name] = text
    return lines


def built_lines():
    """The round of test_cli_loop.c, built with the Python functions."""
    m, t, w, c = "{modules}", "{tools}", "{work}", "{case}"
    common = dict(patch=(16, 16, 16), seed=7, threads=2, classes=2, width=2)
    seg = dict(axis="axial", count=3, spacing=2, threads=2)
    return {
        "start": dc.annotate_command(t, f"{w}/{c}_ref.nrrd", f"{w}/{c}_r0.nrrd", choose="centre"),
        "train": dc.train_command(m, f"{w}/round0.dsm", 4, cohort_csv=f"{w}/round0.csv",
                                  return_file=f"{w}/train0.txt", **common),
        "segment": dc.segment_command(m, f"{w}/round0.dsm", f"{w}/{c}_img.nrrd",
                                      f"{w}/{c}_label0.nrrd", f"{w}/{c}_entropy0.nrrd",
                                      annotated=f"{w}/{c}_r0.nrrd",
                                      return_file=f"{w}/{c}_seg0.txt", **seg),
        "montage": dc.montage_command(t, f"{w}/{c}_img.nrrd", f"{w}/{c}_label0.nrrd",
                                      f"{w}/{c}_entropy0.nrrd", f"{w}/{c}_montage.png",
                                      ["{slices}"], title=c),
        "reveal": dc.annotate_command(t, f"{w}/{c}_ref.nrrd", f"{w}/{c}_r1.nrrd",
                                      partial=f"{w}/{c}_r0.nrrd", slices=["{slice}"]),
        "check": dc.train_command(m, f"{w}/check.dsm", 0, cohort_csv=f"{w}/round1.csv",
                                  warm_start=f"{w}/round0.dsm", **common),
        "segment_check": dc.segment_command(m, f"{w}/check.dsm", f"{w}/{c}_img.nrrd",
                                            f"{w}/{c}_label_check.nrrd",
                                            f"{w}/{c}_entropy_check.nrrd", **seg),
        "train1": dc.train_command(m, f"{w}/round1.dsm", 4, cohort_csv=f"{w}/round1.csv",
                                   warm_start=f"{w}/round0.dsm", return_file=f"{w}/train1.txt",
                                   **common),
        **gui_lines(),
    }


def gui_lines():
    """The Slicer module's round (dc.gui_round) on the painted phantom of test_cli_loop.c."""
    w = "{work}"
    g = dc.gui_round("{modules}", w, f"{w}/volume.nrrd", f"{w}/painted.nrrd", f"{w}/gui.dsm", 2,
                     warm_start=f"{w}/round0.dsm", patch=(16, 16, 16), seed=7, classes=2,
                     width=2, threads=2, count=5, spacing=2)
    return {"gui_train": g["train"], "gui_segment": g["segment"]}


def declared_flags(module):
    with open(os.path.join(SOURCE, "xml", module + ".xml")) as f:
        return set(re.findall(r"<longflag>([^<]+)</longflag>", f.read()))


def test_same_lines():
    want, got = fixture_lines(), built_lines()
    check(set(want) == set(got), f"line names {sorted(want)} vs {sorted(got)}")
    for name in sorted(set(want) & set(got)):
        line = " ".join(got[name])
        check(line == want[name], f"{name}:\n  built   {line}\n  fixture {want[name]}")


def test_flags_declared():
    standard = {"returnparameterfile", "processinformationaddress"}
    extra = [dc.train_command("m", "x.dsm", 10, volume="v", label="l", painted_axis="axial",
                              checkpoint_minutes=2, log="log.csv"),
             dc.segment_folder_command("m", "x.dsm", "in", "out"),
             dc.evaluate_folder_command("m", "p", "r", "t.csv", 3),
             dc.segment_command("m", "x.dsm", "v", "l", slice_range=(1, 2))]
    for argv in list(built_lines().values()) + extra:
        module = os.path.basename(argv[0])
        if not module.startswith("DualSeg"):
            continue
        flags = {a[2:] for a in argv if a.startswith("--")}
        unknown = flags - declared_flags(module) - standard
        check(not unknown, f"{module}: flags not in its XML: {sorted(unknown)}")


def test_module_spells_no_flag():
    """The Slicer module builds no command line of its own."""
    with open(os.path.join(SOURCE, "plugin", "DualSegLoop", "DualSegLoop.py")) as f:
        spelled = re.findall(r"[\"']--[A-Za-z]+", f.read())
    check(not spelled, f"DualSegLoop.py spells module flags: {spelled}")


def test_slice_range():
    """The structure's slices: parsed from first-last, passed as --sliceRange first,last."""
    check(dc.parse_slice_range(" 12 - 40 ") == (12, 40) and dc.parse_slice_range("") is None,
          "parse_slice_range")
    for bad in ("40-12", "12", "a-b", "-3-4"):
        try:
            dc.parse_slice_range(bad)
            check(False, f"parse_slice_range accepted '{bad}'")
        except ValueError as e:
            check(bad in str(e), f"message of '{bad}': {e}")
    g = dc.gui_round("m", "w", "v.nrrd", "p.nrrd", "x.dsm", 2, slice_range=(3, 9))["segment"]
    i = g.index("--sliceRange") if "--sliceRange" in g else -1
    check(i > 0 and g[i + 1] == "3,9", f"gui segment line: {' '.join(g)}")
    check("--sliceRange" not in dc.gui_round("m", "w", "v", "p", "x", 2)["segment"],
          "--sliceRange without a range")


def test_return_file():
    text = "suggestedSlices = 3,7,12\nsliceScores = 0.5,0.25,0.125\nmeanEntropy = 0.1\n" \
           "casesToLabel = \n"
    values = dc.parse_return_file(text)
    check(dc.ints(values["suggestedSlices"]) == [3, 7, 12], "suggestedSlices")
    check(dc.doubles(values["sliceScores"]) == [0.5, 0.25, 0.125], "sliceScores")
    check(dc.ints(values["casesToLabel"]) == [], "empty vector")


test_same_lines()
test_flags_declared()
test_module_spells_no_flag()
test_return_file()
test_slice_range()
finish("test_loop_commands")
