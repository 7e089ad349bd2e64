#!/usr/bin/python3
"""Whole-network parity fixtures for the C networks (test_net_parity), from PyTorch in float64.

Training (parity_<net>.bin): each network (V-Net, ResNet34-V-Net; K = 2, width 16) on a
1x1x32x32x32 input, training mode, Dropout3d on. Weights, input and upstream gradients come from
a hash formula that the C test reproduces bit for bit (no weights are stored); the dropout masks
are those the C network draws from its Philox stream (philox_uniform() reproduces ds_rng), so the
reference applies the very masks the float32 run applies. PyTorch runs the forward and a backward
of the fixed loss sum(logits * G) + sum(feature * F) in float64.

Why the ReLU masks are pinned (see stabilise()): a float32 forward carries a relative error of
~1e-6, so every pre-activation within ~1e-6 of zero may take the other side of the ReLU than in
float64, and each flip changes the gradient behind it by a whole voxel's contribution (at the
bottleneck BatchNorm sees 8 values per channel, so one flip moves gradients by percents). With
hash BatchNorm biases that made the comparison a lottery. So the BatchNorm biases that feed a ReLU
are chosen here instead: for each channel, the bias puts the ReLU threshold in the middle of the
widest gap between neighbouring pre-activation values near a hash quantile. No value is then
closer to the threshold than min_margin (printed, stored; 3e-4 of the channel's std at full
resolution, ~0.1 at the bottleneck), and at every ReLU PyTorch float32's largest drift is below
1/12 of that site's margin (printed; it flips no mask), so float32 and float64 take the same
masks and the gradients are smooth functions of the rounding.

Then every gradient can be held to TOL = 1e-3 relative, element-wise. Each tensor is seen as rows
(dim 0: output channels of a conv, input channels of a transposed conv) and the file keeps, per
row, its L2 norm and its projection on a hash vector, per dim-1 index ("column") its L2 norm, and
either every value (tensors up to FULL_LIMIT values) or SAMPLES_MIN or more values at hash
positions in every row (the largest tensors: storing all 27 M gradients would take 200 MB).
Errors are scaled by the row's norm (the column's for column norms; an element's by its row's
RMS), floored at FLOOR times an average row's, so a row that is exactly zero (a dropped channel)
must come out zero too. PyTorch float32's error on the same measure is stored beside each
tensor (<prefix>.torch32) and printed: with the masks pinned it is ~1e-5 in most tensors, but
reaches 3e-4 (V-Net) and 1.3e-3 (ResNet) at the bottleneck, where BatchNorm normalises 8 values
per channel and its backward cancels most of the gradient; there our direct AVX2 kernels land at
up to 2.9x PyTorch's error, the SGEMM path at up to 1x. So a tensor's tolerance is
max(TOL, TORCH32_FACTOR x PyTorch float32's error): 1e-3 in 392 of 403 tensors, up to 8e-3 at the
ResNet's bottleneck, and a wrong channel still fails by a factor of 100 or more (zeroing one
output channel's gradient makes that row's error 1). Conv biases followed by BatchNorm have an
exactly zero gradient (BatchNorm removes the mean): they are checked in absolute terms against
zero_tol.

Evaluation (eval_<net>.bin): the same hash weights, BatchNorm running statistics gathered by two
training forwards in PyTorch (momentum None: their average, stored), then an evaluation forward
on a 1x1x16x16x16 input; logits and feature summarised as above (512 and 64 samples per
channel besides the norms and projections). An evaluation forward is a continuous, fixed
function of the input, so no mask matters: TOL_EVAL = 1e-4.

Run: /usr/bin/python3 testing/nets/make_net_fixtures.py   (regenerates byte-identical files)
"""
import os
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.dirname(here))
from dsfixture import write_fixture  # noqa: E402
from reference_models import BasicBlock, ResNetVNet, VNet  # noqa: E402

TOL = 1e-3
TOL_EVAL = 1e-4
TORCH32_FACTOR = 6.0
FLOOR = 1e-2
FULL_LIMIT = 4096
SAMPLE_BUDGET = 1024  # samples per large tensor, spread over its rows ...
SAMPLES_MIN = 4       # ... but at least this many in every row
M32 = np.uint64(0xFFFFFFFF)
DROPOUT_SEED = 1337
DROPOUT_PURPOSE = {"vnet": 4, "resnet34_vnet": 3}  # DS_RNG_DROPOUT_B, DS_RNG_DROPOUT_A


def hash_uniform(stream, n):
    """Values in [-1, 1): the same integer hash as hash_uniform() in test_net_parity.c."""
    i = np.arange(n, dtype=np.uint64)
    x = (i * np.uint64(2654435761) + np.uint64(stream) * np.uint64(40503) + np.uint64(12345)) & M32
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(2246822519)) & M32
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(3266489917)) & M32
    x ^= x >> np.uint64(16)
    return x.astype(np.float64) / 2147483648.0 - 1.0


def hash_tensor(stream, shape, scale, offset=0.0):
    n = int(np.prod(shape))
    return (offset + scale * hash_uniform(stream, n)).astype(np.float32).reshape(shape)


def philox_uniform(seed, purpose, n):
    """The first n values of ds_rng_uniform() on the stream (seed, purpose): Philox4x32-10
    (core/util/rng.c; position p is lane p % 4 of block p / 4), 24 bits to [0, 1) in float32."""
    pos = np.arange(n, dtype=np.uint64)
    block = pos >> np.uint64(2)
    c = [block & M32, block >> np.uint64(32), np.full(n, purpose, np.uint64),
         np.zeros(n, np.uint64)]
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)
    for r in range(10):
        if r:
            k0, k1 = (k0 + np.uint64(0x9E3779B9)) & M32, (k1 + np.uint64(0xBB67AE85)) & M32
        p0, p1 = np.uint64(0xD2511F53) * c[0], np.uint64(0xCD9E8D57) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & M32,
             (p0 >> np.uint64(32)) ^ c[3] ^ k1, p0 & M32]
    lanes = np.stack(c)[(pos & np.uint64(3)).astype(np.int64), np.arange(n)]
    return (lanes >> np.uint64(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)


class FixedDropout(torch.nn.Module):
    """Dropout3d with given per-channel scales, one vector per call in call order (batch 1)."""

    def __init__(self, scales):
        super().__init__()
        self.scales, self.calls = scales, 0

    def forward(self, x):
        s = torch.from_numpy(self.scales[self.calls % len(self.scales)]).to(x.dtype)
        self.calls += 1
        return x * s.view(1, -1, 1, 1, 1)


def dropout_scales(net_name, channels):
    """The C network's masks: it draws one uniform per (n, c) plane, bottleneck first (V-Net
    only), then the feature; a plane is dropped when the uniform is below p = 0.5."""
    u = philox_uniform(DROPOUT_SEED, DROPOUT_PURPOSE[net_name], sum(channels))
    scales = np.where(u < np.float32(0.5), np.float32(0.0), np.float32(2.0))
    return np.split(scales, np.cumsum(channels)[:-1])


def weight_scale(name, p):
    """(scale, offset) of each parameter's hash values: He-like uniform for conv weights."""
    if p.dim() == 5:
        fan_in = p[0].numel()
        return np.sqrt(6.0 / fan_in), 0.0
    # conv biases and BatchNorm biases: 0.1 * h; BatchNorm weights: 1 + 0.1 * h
    return 0.1, (1.0 if name.endswith("weight") else 0.0)


def relu_feeds(model):
    """For every ReLU module, the BatchNorms whose outputs it receives, in call order (a
    BasicBlock calls its ReLU after bn1 and after bn2 + shortcut)."""
    feeds = {}
    for m in model.modules():
        if isinstance(m, torch.nn.Sequential):
            for i, child in enumerate(m):
                if isinstance(child, torch.nn.ReLU):
                    assert isinstance(m[i - 1], torch.nn.BatchNorm3d)
                    feeds[child] = [m[i - 1]]
        elif isinstance(m, BasicBlock):
            feeds[m.relu] = [m.bn1, m.bn2]
    return feeds


class ReluSites:
    """Forward pre-hooks on every ReLU: in "choose" mode each ReLU input v (shape 1, C, ...) is
    shifted per channel so that the threshold falls in a wide gap of its values, and the shift is
    recorded against the BatchNorm that produced v (adding it to that BatchNorm's bias is the same
    network); in "record" mode the inputs are kept, in call order."""

    def __init__(self, model, mode):
        self.mode, self.shift, self.values, self.margin = mode, {}, [], np.inf
        self.feeds, self.calls = relu_feeds(model), {}
        self.handles = [m.register_forward_pre_hook(self.hook) for m in self.feeds]

    def hook(self, module, args):
        k = self.calls.get(module, 0)
        self.calls[module] = k + 1
        bn = self.feeds[module][k % len(self.feeds[module])]
        v = args[0].detach().double().numpy()[0].reshape(args[0].shape[1], -1)
        if self.mode == "record":
            self.values.append(v.copy())
            return None
        site = len(self.shift)
        q = 0.5 + 0.2 * hash_uniform(3000 + site, v.shape[0])
        shift = np.empty(v.shape[0])
        for c in range(v.shape[0]):
            t, half_gap = threshold_in_gap(v[c], q[c])
            shift[c] = -t
            self.margin = min(self.margin, half_gap / max(v[c].std(), 1e-300))
        self.shift[bn] = shift
        return (args[0] + torch.from_numpy(shift).to(args[0].dtype).view(1, -1, 1, 1, 1),)

    def remove(self):
        for h in self.handles:
            h.remove()


def threshold_in_gap(values, q):
    """The middle of the widest gap between sorted neighbours among the values whose ranks lie
    within 0.2 of the quantile q, and half that gap."""
    s = np.sort(values)
    n = s.size
    lo = max(0, int(np.floor((q - 0.2) * n)))
    hi = max(min(n - 1, int(np.ceil((q + 0.2) * n))), lo + 1)
    gaps = s[lo + 1:hi + 1] - s[lo:hi]
    k = int(np.argmax(gaps))
    return 0.5 * (s[lo + k] + s[lo + k + 1]), 0.5 * gaps[k]


def build(make_model, dtype, overrides=None, scales=None):
    """The model in dtype with the hash weights, parameters overridden by index, and (when
    scales is given) fixed dropout masks."""
    model = make_model().to(dtype)
    for k, (name, p) in enumerate(model.named_parameters()):
        scale, offset = weight_scale(name, p)
        value = overrides[k] if overrides and k in overrides else \
            hash_tensor(k, tuple(p.shape), scale, offset)
        with torch.no_grad():
            p.copy_(torch.from_numpy(np.asarray(value)).to(dtype))
    if scales is not None:
        model.dropout = FixedDropout(scales)
    return model


def hash_input(stream, size, dtype):
    return torch.from_numpy(hash_tensor(stream, (1, 1, size, size, size), 1.0)).to(dtype)


def train_step(model, x):
    """Forward and backward of the fixed loss; logits, feature, gradients, BN statistics."""
    model.train()
    logits, feature = model(x)
    g_logits = torch.from_numpy(hash_tensor(1001, tuple(logits.shape), 1.0 / logits.numel()))
    g_feature = torch.from_numpy(hash_tensor(1002, tuple(feature.shape), 1.0 / feature.numel()))
    loss = (logits * g_logits.to(x.dtype)).sum() + (feature * g_feature.to(x.dtype)).sum()
    loss.backward()
    grads = [p.grad.double().numpy().copy() for p in model.parameters()]
    bn = [(m.running_mean.double().numpy().copy(), m.running_var.double().numpy().copy())
          for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    return logits.detach().double().numpy(), feature.detach().double().numpy(), grads, bn


def rows_of(a, activation):
    """A tensor as (rows, row length): a conv weight by dim 0, an activation (1, C, ...) by C, a
    vector (biases, BatchNorm parameters and statistics) as one row: its elements are sums over
    whole channels, some near zero by cancellation, so each is scaled by the vector's RMS."""
    a = np.asarray(a, dtype=np.float64)
    if activation:
        a = a[0]
    return a.reshape(a.shape[0], -1) if a.ndim >= 2 else a.reshape(1, -1)


def columns_of(a, activation):
    """Norm per dim-1 index of a parameter of 2+ dimensions (None otherwise)."""
    a = np.asarray(a, dtype=np.float64)
    if activation or a.ndim < 2:
        return None
    return np.sqrt(np.sum(np.swapaxes(a, 0, 1).reshape(a.shape[1], -1) ** 2, axis=1))


def sample_positions(rows, length):
    """(rows, s) positions within each row: s = max(SAMPLES_MIN, SAMPLE_BUDGET / rows), at hash
    positions (as sample_position() in test_net_parity.c)."""
    s = max(SAMPLES_MIN, SAMPLE_BUDGET // rows)
    i = np.arange(s, dtype=np.uint64)[None, :]
    r = np.arange(rows, dtype=np.uint64)[:, None]
    return ((i * np.uint64(2654435761) + r * np.uint64(40503) + np.uint64(17)) % np.uint64(length))\
        .astype(np.int64)


def summarise(a, activation=False):
    """What the file keeps of a tensor (module docstring)."""
    r = rows_of(a, activation)
    out = {"shape": np.array(np.asarray(a).shape, dtype=np.int64),
           "row_norm": np.sqrt(np.sum(r * r, axis=1))}
    cols = columns_of(a, activation)
    if cols is not None:
        out["col_norm"] = cols
    if r.shape[1] > 1:
        out["row_proj"] = np.sum(r * hash_uniform(7777, r.size).reshape(r.shape), axis=1)
    if r.size <= FULL_LIMIT:
        out["full"] = r.ravel()
    else:
        pos = sample_positions(*r.shape)
        out["samples"] = np.take_along_axis(r, pos, axis=1).astype(np.float32)
    return out


def summary_error(got, ref, activation=False):
    """The largest scaled error of got against the summary ref: the computation of
    summary_error() in test_net_parity.c."""
    r = rows_of(got, activation)
    rows, length = r.shape
    avg_row = np.sqrt(np.sum(ref["row_norm"] ** 2) / rows)
    row_scale = np.maximum(ref["row_norm"], FLOOR * avg_row)
    err = np.abs(np.sqrt(np.sum(r * r, axis=1)) - ref["row_norm"]) / row_scale
    worst = err.max()
    if "col_norm" in ref:
        cols = columns_of(got, activation)
        avg_col = np.sqrt(np.sum(ref["col_norm"] ** 2) / cols.size)
        worst = max(worst, (np.abs(cols - ref["col_norm"]) /
                            np.maximum(ref["col_norm"], FLOOR * avg_col)).max())
    if "row_proj" in ref:
        q = hash_uniform(7777, r.size).reshape(r.shape)
        proj = np.sum(r * q, axis=1)
        worst = max(worst, (np.abs(proj - ref["row_proj"]) /
                            (row_scale * np.sqrt(np.sum(q * q, axis=1)))).max())
    if "full" in ref:
        diff = np.abs(r - ref["full"].reshape(r.shape))
    else:
        pos = sample_positions(rows, length)
        diff = np.abs(np.take_along_axis(r, pos, axis=1) - ref["samples"].astype(np.float64))
    worst = max(worst, (diff / (row_scale[:, None] / np.sqrt(length))).max())
    return worst


def emit(out, prefix, ref, f32, tol, activation=False):
    """Stores the summary of ref, PyTorch float32's error on it, and the tolerance: tol, or
    TORCH32_FACTOR times PyTorch float32's own error where that is larger (module docstring)."""
    summary = summarise(ref, activation)
    for key, value in summary.items():
        out[f"{prefix}.{key}"] = value
    err = summary_error(f32, summary, activation)
    out[f"{prefix}.tol"] = np.array([max(tol, TORCH32_FACTOR * err)])
    out[f"{prefix}.torch32"] = np.array([err])
    return err


def stabilise(make_model, scales, x):
    """Chooses the BatchNorm biases in front of every ReLU (module docstring): one float64
    forward with ReluSites in "choose" mode. Returns {parameter index: float32 bias}, and the
    smallest distance of a pre-activation to its threshold, in channel standard deviations."""
    model = build(make_model, torch.float64, scales=scales)
    sites = ReluSites(model, "choose")
    model.train()
    with torch.no_grad():
        model(x)
    sites.remove()
    index = {id(p): k for k, p in enumerate(model.parameters())}
    overrides = {}
    for bn, shift in sites.shift.items():
        overrides[index[id(bn.bias)]] = (bn.bias.detach().numpy() + shift).astype(np.float32)
    return overrides, sites.margin


def hash_weights(model):
    """The (scale, offset) of every parameter's hash values, for the C test."""
    scales = [weight_scale(n, p) for n, p in model.named_parameters()]
    return {"param_scale": np.array([s for s, _ in scales], dtype=np.float64),
            "param_offset": np.array([o for _, o in scales], dtype=np.float64),
            "param_count": np.array([sum(p.numel() for p in model.parameters())], dtype=np.int64)}


def make_training(net_name, make_model):
    model = make_model()
    out = hash_weights(model)
    w = model.out_conv.weight.shape[1]
    drop = dropout_scales(net_name, [16 * w, w] if net_name == "vnet" else [w])
    out["dropout.seed"] = np.array([DROPOUT_SEED], dtype=np.int64)
    out["dropout.purpose"] = np.array([DROPOUT_PURPOSE[net_name]], dtype=np.int64)
    out["dropout.feature"] = drop[-1].astype(np.float64)
    x64 = hash_input(1000, 32, torch.float64)
    overrides, margin = stabilise(make_model, drop, x64)
    for k in sorted(overrides):
        out[f"param.{k}.value"] = overrides[k].astype(np.float64)

    runs = {}
    for dtype in (torch.float64, torch.float32):
        m = build(make_model, dtype, overrides, drop)
        sites = ReluSites(m, "record")
        runs[dtype] = train_step(m, hash_input(1000, 32, dtype)), sites.values
        sites.remove()
    (ref, v64), (f32, v32) = runs[torch.float64], runs[torch.float32]
    flips = sum(int(np.sum((a > 0) != (b > 0))) for a, b in zip(v64, v32))
    # Per ReLU site, in channel standard deviations: the largest float32 drift of a
    # pre-activation against the smallest distance of one to its threshold.
    drift = [np.max(np.abs(a - b).max(axis=1) / a.std(axis=1)) for a, b in zip(v64, v32)]
    near = [np.min(np.abs(a).min(axis=1) / a.std(axis=1)) for a in v64]
    ratio = max(d / n for d, n in zip(drift, near))
    out["min_margin"] = np.array([margin])
    print(f"{net_name}: {len(v64)} ReLU sites, nearest pre-activation {margin:.2e} std from its "
          f"threshold; PyTorch float32 flips {flips} masks, its drift is at most {ratio:.3f} of "
          f"the margin at the same site")
    assert flips == 0 and ratio < 0.25, "masks not safely pinned"

    global_scale = max(np.abs(g).max() for g in ref[2])
    out["zero_tol"] = np.array([1e-5 * global_scale])
    worst = [emit(out, "logits", ref[0], f32[0], TOL, True),
             emit(out, "feature", ref[1], f32[1], TOL, True)]
    for k, (g64, g32) in enumerate(zip(ref[2], f32[2])):
        if np.abs(g64).max() < 1e-12 * global_scale:  # conv bias before BatchNorm
            out[f"grad.{k}.zero"] = np.array([np.abs(g32).max()])
            continue
        worst.append(emit(out, f"grad.{k}", g64, g32, TOL))
    for k, ((m64, v64_), (m32, v32_)) in enumerate(zip(ref[3], f32[3])):
        worst.append(emit(out, f"bn.{k}.running_mean", m64, m32, TOL))
        worst.append(emit(out, f"bn.{k}.running_var", v64_, v32_, TOL))
    print(f"{net_name}: PyTorch float32's largest scaled error {max(worst):.2e} (tolerances "
          f"max({TOL}, {TORCH32_FACTOR} x that error, per tensor))")
    write_fixture(os.path.join(here, f"parity_{net_name}.bin"), out)


def make_evaluation(net_name, make_model):
    """Running statistics from two float64 training forwards (momentum None: their average),
    rounded to float32 as the C network holds them, then an evaluation forward on a 16^3 input."""
    m = build(make_model, torch.float64)
    out = hash_weights(m)
    m.dropout = torch.nn.Identity()  # statistics of the whole network, without random masks
    bns = [b for b in m.modules() if isinstance(b, torch.nn.BatchNorm3d)]
    for b in bns:
        b.momentum = None
    m.train()
    with torch.no_grad():
        for stream in (2000, 2001):
            m(hash_input(stream, 32, torch.float64))
    for k, b in enumerate(bns):
        for key in ("running_mean", "running_var"):
            out[f"bn.{k}.{key}"] = getattr(b, key).numpy().astype(np.float32).astype(np.float64)
    results = {}
    for dtype in (torch.float64, torch.float32):
        m = build(make_model, dtype)
        for k, b in enumerate(b for b in m.modules() if isinstance(b, torch.nn.BatchNorm3d)):
            b.running_mean.copy_(torch.from_numpy(out[f"bn.{k}.running_mean"]).to(dtype))
            b.running_var.copy_(torch.from_numpy(out[f"bn.{k}.running_var"]).to(dtype))
        m.eval()
        with torch.no_grad():
            results[dtype] = [t.double().numpy() for t in m(hash_input(1000, 16, dtype))]
    (l64, f64), (l32, f32) = results[torch.float64], results[torch.float32]
    worst = max(emit(out, "logits", l64, l32, TOL_EVAL, True),
                emit(out, "feature", f64, f32, TOL_EVAL, True))
    print(f"{net_name} evaluation: PyTorch float32's largest scaled error {worst:.2e} "
          f"(tolerance {TOL_EVAL})")
    write_fixture(os.path.join(here, f"eval_{net_name}.bin"), out)


if __name__ == "__main__":
    torch.set_num_threads(1)  # one thread: PyTorch's CPU reductions are then reproducible
    nets = (("vnet", lambda: VNet(n_classes=2, w=16, dropout=True)),
            ("resnet34_vnet", lambda: ResNetVNet(n_classes=2, w=16, dropout=True)))
    for name, make_model in nets:
        make_training(name, make_model)
        make_evaluation(name, make_model)
