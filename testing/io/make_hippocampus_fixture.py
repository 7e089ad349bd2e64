#!/usr/bin/python3
"""Reference values of a few MSD Task04 Hippocampus cases, read by an independent NIfTI reader
(nibabel, Debian's python3-nibabel), for testing/io/test_io_hippocampus.c.

The data are read in place from ../shared/data/Task04_Hippocampus (never copied); only the small
fixture testing/io/hippocampus_reference.bin is committed:

  /usr/bin/python3 testing/io/make_hippocampus_fixture.py

Per case (arrays indexed by case, in the order of case_number):
  case_number  int64 [C]        hippocampus_XXX
  size         int64 [C, 3]     (nx, ny, nz) = nibabel's shape (i, j, k)
  spacing, origin  f64 [C, 3]   ITK's convention: origin in LPS (nibabel's affine is RAS, so x and
  direction    f64 [C, 9]       y flip sign); direction row-major, column j = axis j, also LPS
  sum, sumsq   f64 [C]          of the voxel values as float32, accumulated in float64
  points       int64 [C, P, 3]  voxel (i, j, k): DualSeg's index i + nx * (j + ny * k) is nibabel's
  values       f64 [C, P]       array[i, j, k]; values as float32 (exact in float64)
  label_values int64 [C, P]     the label there
  label_counts int64 [C, 3]     voxels of label 0, 1, 2
Cases: uint8 and float32 images, origins (1, 1, 1) and (0, 0, 0), and the two label files stored as
float32 (003, 243).
"""
import os
import sys

import nibabel as nib
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from dsfixture import write_fixture  # noqa: E402

DATA = os.path.join(HERE, "..", "..", "..", "shared", "data", "Task04_Hippocampus")
CASES = [1, 3, 39, 150, 199, 243, 394]
LPS = np.diag([-1.0, -1.0, 1.0])


def geometry(img):
    """(spacing, origin, direction) as ITK gives them, from nibabel's RAS affine."""
    affine = img.affine
    spacing = np.asarray(img.header.get_zooms()[:3], dtype=np.float64)
    direction = LPS @ (affine[:3, :3] / spacing)
    origin = LPS @ affine[:3, 3]
    return spacing, origin, direction


def points(shape, image, label):
    """Fixed voxels: corners, centre, asymmetric points (an axis mix-up moves them), the first
    voxel of each label and the brightest voxel, first in DualSeg's order (x fastest, so
    nibabel's Fortran order)."""
    nx, ny, nz = shape
    pts = [(0, 0, 0), (nx - 1, ny - 1, nz - 1), (nx - 1, 0, 0), (0, ny - 1, 0), (0, 0, nz - 1),
           (nx // 2, ny // 2, nz // 2), (nx // 3, 2 * ny // 3, nz // 4),
           (2 * nx // 3, ny // 5, 3 * nz // 4)]
    flat_label = label.ravel(order="F")
    for value in (1, 2):
        pts.append(np.unravel_index(int(np.argmax(flat_label == value)), shape, order="F"))
    pts.append(np.unravel_index(int(np.argmax(image.ravel(order="F"))), shape, order="F"))
    return np.array(pts, dtype=np.int64)


def main():
    out = {name: [] for name in ("case_number", "size", "spacing", "origin", "direction", "sum",
                                 "sumsq", "points", "values", "label_values", "label_counts")}
    for number in CASES:
        name = f"hippocampus_{number:03d}.nii.gz"
        img = nib.load(os.path.join(DATA, "imagesTr", name))
        lab = nib.load(os.path.join(DATA, "labelsTr", name))
        image = np.asarray(img.dataobj).astype(np.float32)  # what a float32 reader holds
        label = np.asarray(lab.dataobj)
        assert np.all(label == np.round(label)) and label.min() >= 0 and label.max() <= 2, name
        label = label.astype(np.int64)
        assert image.shape == label.shape and image.ndim == 3, name
        spacing, origin, direction = geometry(img)
        lsp, lorigin, ldirection = geometry(lab)
        assert np.allclose(lsp, spacing) and np.allclose(lorigin, origin), name
        assert np.allclose(ldirection, direction), name
        pts = points(image.shape, image, label)
        values = image.astype(np.float64)
        out["case_number"].append(number)
        out["size"].append(image.shape)
        out["spacing"].append(spacing)
        out["origin"].append(origin)
        out["direction"].append(direction.ravel())
        out["sum"].append(values.sum())
        out["sumsq"].append((values * values).sum())
        out["points"].append(pts)
        out["values"].append([values[tuple(p)] for p in pts])
        out["label_values"].append([label[tuple(p)] for p in pts])
        out["label_counts"].append([(label == v).sum() for v in range(3)])
    ints = {"case_number", "size", "points", "label_values", "label_counts"}
    arrays = {k: np.asarray(v, dtype=np.int64 if k in ints else np.float64) for k, v in out.items()}
    write_fixture(os.path.join(HERE, "hippocampus_reference.bin"), arrays)


if __name__ == "__main__":
    main()
