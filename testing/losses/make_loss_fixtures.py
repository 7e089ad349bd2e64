#!/usr/bin/python3
"""Reference fixtures for the C losses (test_loss_supervised, test_loss_terms,
test_loss_percentile), from PyTorch (reference_losses.py) and numpy.

loss_fixtures.bin: for each case, the float32 inputs (logits, features, labels), the options
as numbers, and the float64 PyTorch values: every term for each network, the totals, dL(n)/dz_n
and dL(n)/df_n by autograd (partner detached), the thresholds, kept fractions and prototype counts.
Inputs are drawn again (next seed) until every discrete decision is far from its boundary: top-two
logit gaps > 2e-3, |max p - confidence| > 2e-3, and each entropy threshold more than 1e-4 from
every unlabelled entropy other than the order statistics it interpolates, which themselves differ
by more than 2e-4 (so float32 rounding, and the finite differences of the C tests, h = 1e-3,
cannot flip a mask). CON uses every eligible uncertain voxel (max_uncertain above their count),
so no random sampling enters the comparison.

percentile_fixtures.bin: value sets (ties, n = 1 and 2, sorted, reversed, constant) and
numpy.percentile(values as float64, P) for P in 0, 12.5, 50, 80, 99.9, 100.

Run: /usr/bin/python3 testing/losses/make_loss_fixtures.py   (regenerates byte-identical files)
"""
import os
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.dirname(here))
from dsfixture import write_fixture  # noqa: E402
import reference_losses as R  # noqa: E402

IGNORE = 255
MODES = {"global": 0, "class_aware": 1, "per_network": 0, "union": 1, "both": 0, "b_teaches_a": 1}


def option_vector(opt, ramp, nets):
    """The C test's decoding order (see fixture_options() in loss_test_util.h)."""
    v = [float(opt["enabled"][t]) for t in R.TERMS] + [opt["weight"][t] for t in R.TERMS]
    v += [opt["confidence"], opt["percentile"], MODES[opt["mask_mode"]],
          MODES[opt["pseudo_mode"]], MODES[opt["kl_direction"]], opt["tau"],
          opt["max_uncertain"], opt["dice_smooth"], ramp, IGNORE, nets]
    return np.array(v, dtype=np.float64)


def draw(rng, n, k, f, shape, labelled):
    z0 = rng.normal(0, 2.0, (n, k) + shape)
    z1 = 0.6 * z0 + rng.normal(0, 1.5, (n, k) + shape)  # partly agreeing networks
    fe = [rng.normal(0, 1.0, (n, f) + shape) for _ in range(2)]
    y = rng.integers(0, k, (n,) + shape)
    y[labelled:] = IGNORE
    y[0, :, :, : shape[2] // 3] = IGNORE  # a partial label: unannotated stripe
    return ([z0.astype(np.float32), z1.astype(np.float32)],
            [x.astype(np.float32) for x in fe], y.astype(np.int64))


def threshold_ok(h, t):
    """t far from every value except the two it interpolates, which are far apart."""
    s = np.sort(h)
    lo = np.searchsorted(s, t, side="right") - 1
    far = np.ones(s.size, bool)
    far[max(lo, 0): lo + 2] = False
    if np.any(np.abs(s[far] - t) <= 1e-4):
        return False
    pair = s[max(lo, 0): lo + 2]
    return pair.size < 2 or pair[1] - pair[0] > 2e-4


def well_separated(z, y, opt):
    unl = y == IGNORE
    for zn in z:
        srt = np.sort(zn, axis=1)
        if np.min(srt[:, -1] - srt[:, -2]) <= 2e-3:
            return False
        p = torch.softmax(torch.from_numpy(zn).double(), 1).numpy()
        if np.min(np.abs(p.max(1) - opt["confidence"])) <= 2e-3:
            return False
        h = R.entropy(torch.from_numpy(zn).double()).float().double().numpy()
        arg = zn.argmax(1)
        groups = [unl] if opt["mask_mode"] == "global" else [unl & (arg == c)
                                                            for c in range(zn.shape[1])]
        for sel in groups:
            if sel.sum() == 0:
                continue
            if not threshold_ok(h[sel], float(np.percentile(h[sel], opt["percentile"]))):
                return False
    return True


def make_case(name, seed, n, labelled, k, f, shape, ramp, nets=2, **changes):
    opt = R.default_options()
    opt["max_uncertain"] = 100000
    for key, value in changes.items():
        if key in ("enabled", "weight"):
            opt[key].update(value)
        else:
            opt[key] = value
    if nets == 1:
        for t in R.TERMS[2:]:
            opt["enabled"][t] = False
    rng = np.random.default_rng(seed)
    while True:
        z, fe, y = draw(rng, n, k, f, shape, labelled)
        if well_separated(z[:nets], y, opt):
            break
    zt = [torch.from_numpy(x).double().requires_grad_(True) for x in z[:nets]]
    ft = [torch.from_numpy(x).double().requires_grad_(True) for x in fe[:nets]]
    yt = torch.from_numpy(y)
    out = {f"{name}.z0": z[0], f"{name}.z1": z[1], f"{name}.f0": fe[0], f"{name}.f1": fe[1],
           f"{name}.labels": y, f"{name}.options": option_vector(opt, ramp, nets)}
    totals, terms, info = R.dual_losses(zt, ft, yt, IGNORE, opt, ramp)
    tv = np.zeros((2, len(R.TERMS)))
    for i in range(nets):
        tv[i] = [float(terms[i][t]) for t in R.TERMS]
        totals[i].backward()
    out[f"{name}.terms"] = tv
    out[f"{name}.totals"] = np.array([float(t) for t in totals] + [0.0] * (2 - nets))
    for i in range(2):
        gz = zt[i].grad if i < nets else None
        gf = ft[i].grad if i < nets else None
        out[f"{name}.dz{i}"] = gz.numpy() if gz is not None else np.zeros_like(z[i], np.float64)
        out[f"{name}.df{i}"] = gf.numpy() if gf is not None else np.zeros_like(fe[i], np.float64)
    out[f"{name}.info"] = np.array(info["threshold"] + info["kept_fraction"] +
                                   info["kept_foreground"] + info["prototypes"], dtype=np.float64)
    return out


def percentile_fixtures():
    rng = np.random.default_rng(7)
    sets = {
        "random": rng.normal(0, 1, 1000).astype(np.float32),
        "ties": rng.integers(0, 4, 101).astype(np.float32),
        "zeros_and_some": np.concatenate([np.zeros(90), rng.uniform(0, 1, 13)]).astype(np.float32),
        "one": np.array([0.25], np.float32),
        "two": np.array([3.0, -1.5], np.float32),
        "sorted": np.arange(257, dtype=np.float32) * 0.5,
        "reversed": (np.arange(300, dtype=np.float32) * -0.25),
        "constant": np.full(64, 0.75, np.float32),
    }
    ps = np.array([0.0, 12.5, 50.0, 80.0, 99.9, 100.0])
    out = {"percents": ps}
    for name, v in sets.items():
        out[f"{name}.values"] = v
        out[f"{name}.want"] = np.array([np.percentile(v.astype(np.float64), p) for p in ps])
    return out


def main():
    cases = {}
    cases.update(make_case("sup_k2", 1, 2, 2, 2, 4, (4, 4, 6), 1.0, nets=1))
    cases.update(make_case("sup_k3", 2, 3, 2, 3, 4, (3, 4, 6), 1.0, nets=1))
    cases.update(make_case("all_k3", 3, 4, 2, 3, 5, (4, 4, 6), 0.7))
    cases.update(make_case("all_k2", 4, 2, 1, 2, 4, (4, 5, 6), 0.3))
    cases.update(make_case("union_k2", 5, 4, 2, 2, 4, (4, 4, 5), 0.5, pseudo_mode="union",
                           kl_direction="b_teaches_a"))
    cases.update(make_case("class_k3", 6, 4, 2, 3, 3, (4, 4, 6), 0.9, mask_mode="class_aware",
                           percentile=60.0, weight={"con": 0.4, "cr": 0.8}))
    write_fixture(os.path.join(here, "loss_fixtures.bin"), cases)
    write_fixture(os.path.join(here, "percentile_fixtures.bin"), percentile_fixtures())


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
