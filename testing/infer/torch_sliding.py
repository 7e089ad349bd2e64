"""PyTorch sliding-window inference, the independent reference of core/infer (ds_infer.h) for
the parity fixture (make_infer_fixture.py) and the benchmark (bench_infer_torch.py).

Written from nnU-Net's description, not from the C code: window starts by nnU-Net's
compute_steps_for_sliding_window (numpy rounding), the importance map by nnU-Net's
compute_gaussian (scipy.ndimage.gaussian_filter of a centred delta, sigma = patch / 8, divided by
its maximum, zeros replaced by the smallest non-zero value), mirroring over every combination of
the three axes, softmax of each pass averaged (as nnU-Net v1 and METHOD.md section 5: the
uncertainty maps need probabilities), central zero padding of axes shorter than the patch.
Arrays are numpy / torch in (z, y, x) order; patch and stride are given in (x, y, z) like the C
API.
"""
import itertools

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

LOG_EPS = 1e-8  # DS_INFER_LOG_EPS


def steps(size, patch, stride):
    """nnU-Net's window starts along one axis (size >= patch)."""
    n = int(np.ceil((size - patch) / stride)) + 1
    if n == 1:
        return [0]
    actual = (size - patch) / (n - 1)
    return [int(np.round(actual * i)) for i in range(n)]


def importance_map(patch_zyx, gaussian=True):
    if not gaussian:
        return np.ones(patch_zyx, dtype=np.float32)
    tmp = np.zeros(patch_zyx)
    tmp[tuple(p // 2 for p in patch_zyx)] = 1
    g = gaussian_filter(tmp, [p / 8 for p in patch_zyx], 0, mode="constant", cval=0)
    g = g / g.max()
    g[g == 0] = g[g != 0].min()
    return g.astype(np.float32)


@torch.no_grad()
def sliding_window(nets, image, patch_xyz, stride_xyz=None, gaussian=True, flips=False,
                   batch=1, dtype=torch.float64):
    """Per-network averaged softmax, a list of (K, z, y, x) arrays of dtype (float64 for the
    fixtures, float32 for the benchmark), on image (z, y, x), already normalised. nets: modules
    in eval mode returning (logits, feature)."""
    patch = tuple(int(p) for p in reversed(patch_xyz))
    stride = tuple(p // 2 for p in patch) if stride_xyz is None else \
        tuple(int(s) for s in reversed(stride_xyz))
    size = image.shape
    pad = [(max(p - s, 0) // 2, max(p - s, 0) - max(p - s, 0) // 2) for s, p in zip(size, patch)]
    padded = np.pad(image.astype(np.float32), pad, mode="constant", constant_values=0)
    wmap = torch.from_numpy(importance_map(patch, gaussian)).to(dtype)
    starts = [steps(padded.shape[a], patch[a], stride[a]) for a in range(3)]
    windows = list(itertools.product(*starts))
    mirrors = [tuple(a + 2 for a in range(3) if (f >> (2 - a)) & 1) for f in range(8)] \
        if flips else [()]
    acc = [None] * len(nets)
    weight = torch.zeros(padded.shape, dtype=dtype)
    x = torch.from_numpy(padded)
    for b0 in range(0, len(windows), batch):
        chunk = windows[b0:b0 + batch]
        crops = torch.stack([x[z:z + patch[0], y:y + patch[1], w:w + patch[2]]
                             for z, y, w in chunk])[:, None]
        for n, net in enumerate(nets):
            prob = 0
            for dims in mirrors:
                inp = torch.flip(crops, dims) if dims else crops
                logits = net(inp)[0]
                p = torch.softmax(logits, 1)
                prob = prob + (torch.flip(p, dims) if dims else p).to(dtype)
            prob = prob / len(mirrors)
            if acc[n] is None:
                acc[n] = torch.zeros((prob.shape[1],) + padded.shape, dtype=dtype)
            for i, (z, y, w) in enumerate(chunk):
                acc[n][:, z:z + patch[0], y:y + patch[1], w:w + patch[2]] += prob[i] * wmap
        for z, y, w in chunk:
            weight[z:z + patch[0], y:y + patch[1], w:w + patch[2]] += wmap
    crop = tuple(slice(lo, lo + s) for (lo, _), s in zip(pad, size))
    return [(a / weight)[(slice(None),) + crop].numpy() for a in acc]


def maps(probs):
    """(p, label, entropy / log K, symmetric KL or None) from the per-network probabilities."""
    p = sum(probs) / len(probs)
    k = p.shape[0]
    entropy = -(p * np.log(np.maximum(p, LOG_EPS))).sum(0) / np.log(k)
    dis = None
    if len(probs) == 2:
        a, b = probs
        dis = ((a - b) * (np.log(np.maximum(a, LOG_EPS)) - np.log(np.maximum(b, LOG_EPS)))).sum(0)
    return p, p.argmax(0), entropy, dis


def zscore(image):
    """Per-volume z-score in float64, as ds_volume_zscore."""
    v = image.astype(np.float64)
    return ((v - v.mean()) / v.std()).astype(np.float32)
