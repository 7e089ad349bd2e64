#!/usr/bin/python3
"""Writes the reference fixtures of the metrics tests (testing/metrics/*.bin), computed with an
independent implementation of medpy.metric.binary's definitions on top of scipy (medpy 0.4:
__surface_distances, dc, jc, hd, hd95, asd, assd), and scipy's own distance transform.

Run: /usr/bin/python3 testing/metrics/make_metric_fixtures.py   (numpy + scipy from Debian)
Seeded: running it again writes byte-identical files.

Volumes are numpy arrays of shape (nz, ny, nx) in C order, i.e. x fastest, the memory layout of
ARCHITECTURE.md; spacings are stored in (x, y, z) order and passed to scipy reversed (z, y, x).
Masks and label maps are stored packed, `bits` bits per voxel, 32 // bits voxels per int64 word,
voxel j of a word in bits [bits * j, bits * (j + 1)).
"""
import os
import sys

import numpy as np
from scipy.ndimage import (binary_erosion, distance_transform_edt, gaussian_filter,
                           generate_binary_structure)

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
from dsfixture import write_fixture  # noqa: E402


# ---- medpy.metric.binary's definitions, restated with scipy ----

def surface_distances(result, reference, sampling_zyx):
    result = np.atleast_1d(result.astype(bool))
    reference = np.atleast_1d(reference.astype(bool))
    footprint = generate_binary_structure(result.ndim, 1)
    if np.count_nonzero(result) == 0 or np.count_nonzero(reference) == 0:
        raise RuntimeError("empty mask: medpy raises here")
    result_border = result ^ binary_erosion(result, structure=footprint, iterations=1)
    reference_border = reference ^ binary_erosion(reference, structure=footprint, iterations=1)
    dt = distance_transform_edt(~reference_border, sampling=sampling_zyx)
    return dt[result_border]


def dc(result, reference):
    result, reference = result.astype(bool), reference.astype(bool)
    inter = np.count_nonzero(result & reference)
    return 2.0 * inter / float(np.count_nonzero(result) + np.count_nonzero(reference))


def jc(result, reference):
    result, reference = result.astype(bool), reference.astype(bool)
    return float(np.count_nonzero(result & reference)) / float(np.count_nonzero(result | reference))


def all_metrics(result, reference, sampling_zyx):
    """dc, jc, hd95, asd, assd, hd, |P|, |R| as medpy computes them."""
    s1 = surface_distances(result, reference, sampling_zyx)
    s2 = surface_distances(reference, result, sampling_zyx)
    hd95 = np.percentile(np.hstack((s1, s2)), 95)
    asd = s1.mean()
    assd = np.mean((s1.mean(), s2.mean()))
    hd = max(s1.max(), s2.max())
    return [dc(result, reference), jc(result, reference), hd95, asd, assd, hd,
            float(np.count_nonzero(result)), float(np.count_nonzero(reference))]


# ---- packing ----

def pack(a, bits):
    flat = np.ascontiguousarray(a).ravel().astype(np.int64)
    assert flat.min() >= 0 and flat.max() < (1 << bits)
    per = 32 // bits
    pad = (-flat.size) % per
    flat = np.concatenate([flat, np.zeros(pad, np.int64)]).reshape(-1, per)
    words = np.zeros(flat.shape[0], np.int64)
    for j in range(per):
        words |= flat[:, j] << (bits * j)
    return words


# ---- cases ----

def blobs(rng, shape, sigma, frac):
    """A smooth random field thresholded to keep about `frac` of the voxels."""
    f = gaussian_filter(rng.standard_normal(shape), sigma)
    return f > np.quantile(f, 1.0 - frac)


def case_random_blobs(rng, shape, sigma, frac, mix):
    base = gaussian_filter(rng.standard_normal(shape), sigma)
    other = gaussian_filter(rng.standard_normal(shape), sigma)
    ref = base > np.quantile(base, 1.0 - frac)
    p = mix * base + (1.0 - mix) * other
    pred = p > np.quantile(p, 1.0 - frac * 1.1)
    return pred.astype(np.int64), ref.astype(np.int64)


def case_thin(shape):
    nz, ny, nx = shape
    ref = np.zeros(shape, bool)
    pred = np.zeros(shape, bool)
    ref[nz // 2, 2:ny - 3, 1:nx - 2] = True            # a one-voxel plate
    ref[1:nz - 1, ny // 3, nx // 4] = True             # a line along z
    ref[2, 2, 2:nx - 1] = True                         # a line along x
    pred[nz // 2 + 1, 3:ny - 2, 2:nx - 4] = True       # the plate, shifted and trimmed
    pred[1:nz - 3, ny // 3 + 1, nx // 4] = True        # the z line, shifted in y
    pred[3, 2, 4:nx - 1] = True                        # the x line, shifted in z
    pred[nz - 2, ny - 2, 1] = True                     # a lone voxel
    return pred.astype(np.int64), ref.astype(np.int64)


def case_border(shape):
    """Masks that touch every face of the array (their border voxels are surface voxels)."""
    nz, ny, nx = shape
    z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    ref = ((z - nz * 0.4) / (nz * 0.55)) ** 2 + ((y - ny * 0.5) / (ny * 0.6)) ** 2 + \
          ((x - nx * 0.45) / (nx * 0.58)) ** 2 < 1.0
    pred = ((z - nz * 0.55) / (nz * 0.6)) ** 2 + ((y - ny * 0.45) / (ny * 0.55)) ** 2 + \
           ((x - nx * 0.5) / (nx * 0.6)) ** 2 < 1.0
    pred |= (x == 0)                                   # a full face of the array
    return pred.astype(np.int64), ref.astype(np.int64)


def case_labels(rng, shape, k):
    """Label maps with classes 1..k-1 (later classes overwrite earlier ones)."""
    ref = np.zeros(shape, np.int64)
    pred = np.zeros(shape, np.int64)
    for c in range(1, k):
        base = gaussian_filter(rng.standard_normal(shape), 2.0)
        other = gaussian_filter(rng.standard_normal(shape), 2.0)
        frac = 0.12 + 0.03 * c
        ref[base > np.quantile(base, 1.0 - frac)] = c
        p = 0.8 * base + 0.2 * other
        pred[p > np.quantile(p, 1.0 - frac)] = c
    # a few scattered wrong labels far from their class: HD differs from HD95
    idx = rng.choice(pred.size, size=6, replace=False)
    pred.ravel()[idx] = rng.integers(1, k, size=6)
    return pred, ref


def main():
    rng = np.random.default_rng(20250917)
    cases = []  # (name, pred, ref, k, spacing_xyz)
    p, r = case_random_blobs(rng, (18, 22, 26), 2.5, 0.2, 0.75)
    cases.append(("blobs", p, r, 2, (0.8, 1.1, 2.5)))
    p, r = case_random_blobs(rng, (20, 16, 24), 1.2, 0.15, 0.6)
    cases.append(("small_blobs", p, r, 2, (1.5, 0.6, 0.9)))
    p, r = case_thin((9, 14, 17))
    cases.append(("thin", p, r, 2, (0.7, 0.7, 3.0)))
    p, r = case_border((12, 15, 19))
    cases.append(("border", p, r, 2, (1.0, 1.25, 0.5)))
    p, r = case_labels(rng, (16, 20, 22), 4)
    cases.append(("labels4", p, r, 4, (0.9, 1.3, 2.0)))
    p, r = case_labels(rng, (10, 25, 21), 3)
    cases.append(("labels3", p, r, 3, (0.625, 0.625, 1.25)))

    arrays = {"ncases": np.int64(len(cases))}
    for i, (name, pred, ref, k, sp) in enumerate(cases):
        bits = 1 if k == 2 else 2
        sampling_zyx = tuple(reversed(sp))
        mm, vox = [], []
        for c in range(1, k):
            mm.append(all_metrics(pred == c, ref == c, sampling_zyx))
            vox.append(all_metrics(pred == c, ref == c, None))
        key = f"case{i}/"
        arrays[key + "shape"] = np.array(pred.shape, np.int64)          # (nz, ny, nx)
        arrays[key + "spacing"] = np.array(sp, np.float64)              # (sx, sy, sz)
        arrays[key + "k"] = np.int64(k)
        arrays[key + "bits"] = np.int64(bits)
        arrays[key + "pred"] = pack(pred, bits)
        arrays[key + "ref"] = pack(ref, bits)
        arrays[key + "metrics_mm"] = np.array(mm, np.float64)           # (k-1, 8)
        arrays[key + "metrics_vox"] = np.array(vox, np.float64)
    write_fixture(os.path.join(here, "metric_fixtures.bin"), arrays)

    # The distance transform alone: scipy.ndimage.distance_transform_edt with anisotropic sampling.
    shape, sp = (11, 13, 17), (0.7, 1.9, 1.3)
    feature = rng.random(shape) < 0.02
    feature[:, 6, :] = False                                           # empty lines and planes
    feature[4, :, :] = False
    dist = distance_transform_edt(~feature, sampling=tuple(reversed(sp)))
    shape2, sp2 = (7, 1, 23), (0.5, 2.0, 1.5)                           # a degenerate axis
    feature2 = rng.random(shape2) < 0.05
    dist2 = distance_transform_edt(~feature2, sampling=tuple(reversed(sp2)))
    write_fixture(os.path.join(here, "edt_fixtures.bin"), {
        "shape": np.array(shape, np.int64), "spacing": np.array(sp, np.float64),
        "feature": pack(feature.astype(np.int64), 1), "dist": dist.astype(np.float64),
        "shape2": np.array(shape2, np.int64), "spacing2": np.array(sp2, np.float64),
        "feature2": pack(feature2.astype(np.int64), 1), "dist2": dist2.astype(np.float64),
    })


if __name__ == "__main__":
    main()
