#!/usr/bin/python3
"""The slice-choice analysis of scripts/annotator_ah.py (issue 13: which slices each strategy
chose) on hand-made NIfTI label volumes: the per-slice values are counted by hand below.

Volume 2 x 3 x 5 (x, y, z), axial slices along z. Labels per slice:
  z=0: none; z=1: one voxel of class 1; z=2: two of class 1, three of class 2 (the fullest:
  foreground 5); z=3: four of class 2; z=4: none.
So foreground per slice 0,1,5,4,0 (extent z=1..3), class 1: 0,1,2,0,0, class 2: 0,0,3,4,0.
Usage: test_annotator_choices.py SOURCE_DIR"""
import gzip
import math
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(sys.argv[1], "scripts"))
sys.path.insert(0, os.path.join(sys.argv[1], "plugin", "DualSegLoop"))
import annotator_ah as ah  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, finish  # noqa: E402

NX, NY, NZ = 2, 3, 5


def write_nifti(path, voxels, datatype=2, big_endian=False):
    """voxels: a flat list in array order (x fastest). datatype 2 = uint8, 4 = int16, 16 = float32
    (some Task04 label files are float32)."""
    e = ">" if big_endian else "<"
    hdr = bytearray(348)
    struct.pack_into(e + "i", hdr, 0, 348)
    struct.pack_into(e + "8h", hdr, 40, 3, NX, NY, NZ, 1, 1, 1, 1)
    fmt, bits = {2: ("B", 8), 4: ("h", 16), 16: ("f", 32)}[datatype]
    struct.pack_into(e + "hh", hdr, 70, datatype, bits)
    struct.pack_into(e + "8f", hdr, 76, 1, 1, 1, 1, 1, 1, 1, 1)
    struct.pack_into(e + "f", hdr, 108, 352.0)
    hdr[344:348] = b"n+1\0"
    data = struct.pack(e + str(len(voxels)) + fmt, *voxels)
    with gzip.open(path, "wb") as f:
        f.write(bytes(hdr) + b"\0\0\0\0" + data)


def volume(per_slice):
    """per_slice[z]: the labels of the slice's first voxels (the rest background)."""
    out = []
    for z in range(NZ):
        s = list(per_slice.get(z, []))
        out += s + [per_slice.get("fill", 0)] * (NX * NY - len(s))
    return out


ref_slices = {1: [1], 2: [1, 1, 2, 2, 2], 3: [2, 2, 2, 2]}
with tempfile.TemporaryDirectory() as d:
    ref = os.path.join(d, "ref.nii.gz")
    write_nifti(ref, volume(ref_slices))
    counts = ah.axial_label_counts(ref)
    check([c.get(1, 0) for c in counts] == [0, 1, 2, 0, 0], f"class 1 counts {counts}")
    check([c.get(2, 0) for c in counts] == [0, 0, 3, 4, 0], f"class 2 counts {counts}")
    ref16 = os.path.join(d, "ref16.nii.gz")
    write_nifti(ref16, volume(ref_slices), datatype=4, big_endian=True)
    check(ah.axial_label_counts(ref16) == counts, "big-endian int16 reads as the uint8 volume")
    ref32 = os.path.join(d, "ref32.nii.gz")
    write_nifti(ref32, volume(ref_slices), datatype=16)
    check(ah.axial_label_counts(ref32) == counts, "float32 labels read as the uint8 volume")

    check(ah.foreground_extent(ref) == (1, 3), f"extent {ah.foreground_extent(ref)}")

    # partial labels: 255 everywhere but the annotated slices (an annotated slice may be all
    # background: it still counts)
    part = os.path.join(d, "part.nii.gz")
    write_nifti(part, volume({"fill": 255, 2: [0] * 4 + [1, 2], 4: [0] * 6}))
    check(ah.annotated_slices(part) == [2, 4], f"annotated {ah.annotated_slices(part)}")

    got = ah.choice_stats(ref, [3], [1])[0]
    want = [4 / 5, 0.0, 4 / 4, 1.0, 0.0, (3 - 1) / (3 - 1), 2, 0.0]
    check(all(math.isclose(g, w) for g, w in zip(got, want)), f"slice 3: {got} != {want}")
    got = ah.choice_stats(ref, [2, None], [1, 3])
    want = [1.0, 2 / 2, 3 / 4, 0.0, 0.0, (2 - 1) / (3 - 1), 1, 0.0]
    check(len(got) == 1 and all(math.isclose(g, w) for g, w in zip(got[0], want)),
          f"slice 2: {got} != {want}")
    got = ah.choice_stats(ref, [0], [])[0]
    check(got[0] == 0 and got[3] == 1 and got[4] == 1 and got[5] == (0 - 1) / 2
          and math.isnan(got[6]) and got[7] == 1, f"slice 0 (outside the extent, nothing annotated): {got}")

    bad = os.path.join(d, "bad.nii.gz")
    with gzip.open(bad, "wb") as f:
        f.write(b"\0" * 100)
    try:
        ah.axial_label_counts(bad)
        check(False, "a 100-byte file must be refused")
    except ValueError:
        pass

finish("test_annotator_choices")
