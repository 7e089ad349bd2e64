"""Reference fixtures of test_io_nifti_scaled (issue 17): small scaled NIfTI-1 files written by
nibabel, with nibabel's values and geometry.

Run with Debian's python3-nibabel from the top of the repository:
    /usr/bin/python3 testing/io/make_nifti_scaled.py
Writes testing/io/nifti_scaled/<case>.nii.gz (5x4x3 volumes; the test makes the plain .nii copies
by decompressing them, which this script checks gives the bytes nibabel writes for .nii) and
testing/io/nifti_scaled_ref.bin (testing/ds_fixture.h format):
  <values>/values  float32 of nibabel's get_fdata(), x fastest (shared by the cases that store
                   the same values with the same scaling)
  qform/geometry, sform/geometry  float64 [15]: origin[3], spacing[3], direction[9] (row-major)
                   in ITK's LPS, of the two transforms as nibabel reads them from the header
  <case>/uses      int64 [1]: the one ITK 5.2 uses (0 qform, 1 sform; see which_transform)
  hippocampus/...  a few numbers of scaled copies of a real image (see hippocampus_numbers)
"""
import gzip
import os
import sys
import tempfile

import nibabel as nib
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dsfixture import write_fixture  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "nifti_scaled")
SHAPE = (5, 4, 3)
ZOOMS = (0.75, 1.25, 2.5)  # pixdim; qform and sform share them (ITK 5.2 checks the sform with
# pixdim and falls back to the qform when the two disagree)


def rotation(deg, axis):
    t = np.radians(deg)
    c, s = np.cos(t), np.sin(t)
    i, j = [(1, 2), (0, 2), (0, 1)][axis]
    r = np.eye(3)
    r[i, i] = r[j, j] = c
    r[i, j], r[j, i] = -s, s
    return r


def affine(rot, origin):
    a = np.eye(4)
    a[:3, :3] = rot @ np.diag(ZOOMS)
    a[:3, 3] = origin
    return a


# origins exactly representable in float32, so the header stores them exactly
QFORM = affine(rotation(30, 2), [-12.5, 30.25, 7.0])
SFORM = affine(rotation(20, 0) @ rotation(-15, 1), [4.5, -8.25, 16.0])


def which_transform(qcode, scode, extra):
    """ITK 5.2.1's NiftiImageIO, as measured on Debian's build (every qform_code 0..2 against
    every sform_code 0..4, consistent pixdim): the sform when its code is 1 (scanner), or when the
    qform code is 0 and the sform code is not; otherwise the qform. The sform must also be
    orthonormal once divided by pixdim, or ITK uses the qform (and fails if there is none)."""
    if extra == "sform_zooms":
        return "qform"
    if scode == 1 or (qcode == 0 and scode != 0):
        return "sform"
    return "qform" if qcode != 0 else "none"


def lps_geometry(a):
    m = np.diag([-1.0, -1.0, 1.0, 1.0]) @ a
    spacing = np.linalg.norm(m[:3, :3], axis=0)
    direction = m[:3, :3] / spacing
    return np.concatenate([m[:3, 3], spacing, direction.ravel()])


def stored(dtype, seed):
    """Stored values covering the type's range: its extremes, 0, and random ones."""
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    n = int(np.prod(SHAPE))
    if info is None:
        v = rng.normal(0, 1000, n)
    else:
        v = rng.integers(int(info.min), int(info.max), n, endpoint=True, dtype=np.int64)
        v[:3] = [info.min, info.max, 0]
        if dtype == np.int32:  # beyond 2^24, where float32 cannot hold every integer
            v[3:6] = [16777217, -16777219, 2**30 + 3]
    return v.astype(dtype).reshape(SHAPE, order="F")


# value set -> (dtype, slope, inter, seed); slope 0 means "not scaled" (the intercept is ignored)
VALUES = {
    "i8": (np.int8, 0.1, -3.7, 1),
    "u8": (np.uint8, 0.5, 10.0, 2),
    "i16": (np.int16, 2.5, -100.0, 3),
    "u16": (np.uint16, 0.01, -5.0, 4),
    "i32": (np.int32, 1.5, 0.25, 5),
    "i16_ct": (np.int16, 1.0, -1024.0, 6),
    "f32": (np.float32, 2.0, 1.0, 7),
    "slope0": (np.int16, 0.0, 7.0, 8),
    "label_s2": (np.uint8, 2.0, 0.0, None),  # labels 0, 2, 4, 6
    "label_half": (np.uint8, 0.5, 0.0, None),  # odd stored values: 0.5, 1.5: not labels
    "i16_plain": (np.int16, 1.0, 0.0, 9),  # not scaled: read by ITK
}

# case -> (value set, big-endian, qform_code, sform_code, 4-D[, "extension" | "sform_zooms"])
CASES = {
    "i8": ("i8", False, 1, 1, False),
    "u8": ("u8", False, 1, 1, False),
    "i16": ("i16", False, 1, 1, False),
    "u16": ("u16", False, 1, 1, False),
    "i32": ("i32", False, 1, 1, False),
    "i16_ct": ("i16_ct", False, 1, 1, False),
    "f32": ("f32", False, 1, 1, False),
    "slope0": ("slope0", False, 1, 1, False),
    "i16_be": ("i16", True, 1, 1, False),
    "i32_be": ("i32", True, 1, 1, False),
    "qform_only": ("i16", False, 1, 0, False),
    "sform_only": ("i16", False, 0, 2, False),
    "q1_s2": ("i16", False, 1, 2, False),  # ITK: qform, nibabel: sform
    "q2_s1": ("i16", False, 2, 1, False),  # both: sform
    "time1": ("i16", False, 1, 1, True),
    "label_s2": ("label_s2", False, 1, 1, False),
    "label_half": ("label_half", False, 1, 1, False),
    # data after a 32-byte extension (vox_offset 384): a cut of 1 byte must still be seen
    "i16_ext": ("i16_plain", False, 1, 1, False, "extension"),
    # sform_code 1 but the sform's zooms are not pixdim: ITK falls back to the qform
    "s1_zooms": ("i16", False, 1, 1, False, "sform_zooms"),
}


def label_stored(name):
    base = np.arange(int(np.prod(SHAPE))) % 4
    if name == "label_s2":
        return base.astype(np.uint8).reshape(SHAPE, order="F")
    return (base % 2 * 2 + 1).astype(np.uint8).reshape(SHAPE, order="F")  # 1, 3: 0.5, 1.5


def make_image(data, slope, inter, big, qcode, scode):
    hdr = nib.Nifti1Header(endianness=">" if big else "<")
    img = nib.Nifti1Image(data, None, hdr)
    img.header.set_data_dtype(data.dtype)
    img.set_qform(QFORM, code=qcode)
    img.set_sform(SFORM, code=scode)
    if slope == 0.0:  # nibabel refuses slope 0 through set_slope_inter
        img.header["scl_slope"], img.header["scl_inter"] = 0.0, inter
    else:
        img.header.set_slope_inter(slope, inter)
    return img


def write_case(name, spec, tmp):
    vname, big, qcode, scode, four_d = spec[:5]
    extra = spec[5] if len(spec) > 5 else None
    dtype, slope, inter, seed = VALUES[vname]
    data = label_stored(vname) if seed is None else stored(dtype, seed)
    if four_d:
        data = data[..., np.newaxis]
    img = make_image(data, slope, inter, big, qcode, scode)
    if extra == "sform_zooms":
        img.set_sform(SFORM @ np.diag([2.0, 1.0, 1.0, 1.0]), code=scode)
    if extra == "extension":
        img.header.extensions.append(nib.nifti1.Nifti1Extension("comment", b"DualSeg issue 17"))
    gz = os.path.join(OUT_DIR, name + ".nii.gz")
    plain = os.path.join(tmp, name + ".nii")
    nib.save(img, gz)
    nib.save(img, plain)
    with gzip.open(gz, "rb") as f, open(plain, "rb") as g:
        assert f.read() == g.read(), name + ": .nii.gz does not hold the .nii bytes"
    back = nib.load(gz)
    h = back.header
    assert (np.asanyarray(back.dataobj.get_unscaled()) == data).all(), name
    assert int(h["qform_code"]) == qcode and int(h["sform_code"]) == scode, name
    assert (h.endianness == ">") == big, name
    assert back.dataobj.offset == (384 if extra == "extension" else 352), name
    assert np.allclose(h.get_qform(coded=False), QFORM, atol=1e-6), name
    if extra != "sform_zooms":
        assert np.allclose(h.get_sform(coded=False), SFORM, atol=1e-6), name
    nibabel_choice = "sform" if scode != 0 else "qform"  # nibabel prefers any coded sform
    assert np.array_equal(back.affine, getattr(h, "get_" + nibabel_choice)(coded=False)), name
    which = which_transform(qcode, scode, extra)
    values = np.float32(back.get_fdata()).ravel(order="F")
    return vname, values, which, h


def hippocampus_numbers(tmp, arrays):
    """The issue's own cases on hippocampus_001 (image: uint8 on disk; label: uint8): scaled
    copies written by nibabel (here, in a temporary folder; the test writes its own at run time),
    and a few numbers of what nibabel reads from them: the float64 sum of get_fdata(), the values
    at three voxels (x fastest) and the LPS geometry."""
    root = os.path.join(HERE, "..", "..", "..", "shared", "data", "Task04_Hippocampus")
    picks = np.array([0, 12345, 62474])
    for name, sub, dtype, slope, inter in [("img_i16_s2.5_i-100", "imagesTr", np.int16, 2.5, -100),
                                           ("img_i16_s1_i-1024", "imagesTr", np.int16, 1, -1024),
                                           ("img_u8_s0.5", "imagesTr", np.uint8, 0.5, 0),
                                           ("lab_u8_s2", "labelsTr", np.uint8, 2, 0)]:
        src = nib.load(os.path.join(root, sub, "hippocampus_001.nii.gz"))
        data = np.asanyarray(src.dataobj).astype(dtype)
        img = nib.Nifti1Image(data, src.affine, src.header)
        img.header.set_data_dtype(dtype)
        img.header.set_slope_inter(slope, inter)
        path = os.path.join(tmp, name + ".nii")
        nib.save(img, path)
        back = nib.load(path)
        assert (back.dataobj.slope, back.dataobj.inter) == (slope, inter)
        assert (np.asanyarray(back.dataobj.get_unscaled()) == data).all()
        v = back.get_fdata().ravel(order="F")
        arrays[f"hippocampus/{name}/sum"] = np.array([v.sum()])
        arrays[f"hippocampus/{name}/picks"] = np.stack([picks.astype(np.float64), v[picks]])
        arrays[f"hippocampus/{name}/geometry"] = lps_geometry(back.affine)
        print(name, os.path.getsize(path), "bytes", v.sum())


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    arrays = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in CASES.items():
            vname, values, which, h = write_case(name, spec, tmp)
            key = vname + "/values"
            if key in arrays:
                assert (arrays[key] == values).all(), name
            arrays[key] = values
            arrays[name + "/uses"] = np.array([1 if which == "sform" else 0], dtype=np.int64)
            if name == "i16":
                arrays["qform/geometry"] = lps_geometry(h.get_qform(coded=False))
                arrays["sform/geometry"] = lps_geometry(h.get_sform(coded=False))
        n2 = nib.Nifti2Image(stored(np.int16, 3), QFORM)
        n2.header.set_slope_inter(2.5, -100.0)
        nib.save(n2, os.path.join(OUT_DIR, "nifti2.nii.gz"))
        hippocampus_numbers(tmp, arrays)
    write_fixture(os.path.join(HERE, "nifti_scaled_ref.bin"), arrays)


if __name__ == "__main__":
    main()
