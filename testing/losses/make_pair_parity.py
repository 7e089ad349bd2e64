#!/usr/bin/python3
"""Reference for test_pair_parity: 10 SGD steps of the dual pair with every loss term on, in
PyTorch (reference_models.py networks, reference_losses.py losses).

Network A = ResNetVNet, B = VNet, width 4, K = 3 and K = 2 (two runs, keys "k3." and "k2."),
dropout off, training mode (batch statistics).
Weights, images and labels come from the hash formula of testing/nets/make_net_fixtures.py, which
the C test reproduces bit for bit, so nothing but the per-step losses is stored:
  weights of A: stream k (k-th parameter), of B: stream 500 + k, with weight_scale()'s scale/offset;
  step t's batch: 1 labelled + 1 unlabelled sample, 16x32x32, image = hash stream 3000 + t in
  [-1, 1); labelled sample's label (K = 3) 2 where x > 0.4, 1 where x > -0.2, else 0, or (K = 2)
  1 where x > 0.2, else 0, and the ignore label 255 on the stripe w < 6 (a partial label); the
  unlabelled sample is all 255.
Losses: the paper's defaults (ds_loss_options_init) except max_uncertain = 10^6, so CON uses every
eligible uncertain voxel and no random draw enters; ramp = 0.5 + 0.05 t.
SGD: lr 0.01, momentum 0.9, weight decay 1e-4, one optimiser per network.
The reference runs in float64; the same run in float32 is stored too, to show PyTorch's own
float32 deviation from it.

Run: /usr/bin/python3 testing/losses/make_pair_parity.py   (regenerates a byte-identical file)
"""
import os
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.dirname(here))
sys.path.insert(0, os.path.join(os.path.dirname(here), "nets"))
from dsfixture import write_fixture  # noqa: E402
from make_net_fixtures import hash_tensor, weight_scale  # noqa: E402
from reference_models import ResNetVNet, VNet  # noqa: E402
import reference_losses as R  # noqa: E402

STEPS, WIDTH, SHAPE, IGNORE = 10, 4, (2, 1, 16, 32, 32), 255


def batch(step, k):
    x = hash_tensor(3000 + step, SHAPE, 1.0)
    if k == 3:
        y = np.where(x[:, 0] > 0.4, 2, np.where(x[:, 0] > -0.2, 1, 0)).astype(np.int64)
    else:
        y = (x[:, 0] > 0.2).astype(np.int64)
    y[0, :, :, :6] = IGNORE
    y[1] = IGNORE
    return x, y


def make_pair(dtype, k):
    nets = [ResNetVNet(1, k, WIDTH, dropout=False), VNet(1, k, WIDTH, dropout=False)]
    for base, net in zip((0, 500), nets):
        net.to(dtype).train()
        for k, (name, p) in enumerate(net.named_parameters()):
            scale, offset = weight_scale(name, p)
            with torch.no_grad():
                p.copy_(torch.from_numpy(hash_tensor(base + k, tuple(p.shape), scale, offset)))
    return nets


def run(dtype, k):
    nets = make_pair(dtype, k)
    opts = [torch.optim.SGD(n.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
            for n in nets]
    opt = R.default_options()
    opt["max_uncertain"] = 10 ** 6
    terms_out = np.zeros((STEPS, 2, len(R.TERMS)))
    totals_out = np.zeros((STEPS, 2))
    kept = np.zeros((STEPS, 2))
    for step in range(STEPS):
        x, y = batch(step, k)
        xt = torch.from_numpy(x).to(dtype)
        outs = [n(xt) for n in nets]
        totals, terms, info = R.dual_losses([o[0] for o in outs], [o[1] for o in outs],
                                            torch.from_numpy(y), IGNORE, opt, 0.5 + 0.05 * step)
        for o in opts:
            o.zero_grad()
        (totals[0] + totals[1]).backward()
        for o in opts:
            o.step()
        for n in range(2):
            terms_out[step, n] = [float(terms[n][t]) for t in R.TERMS]
            totals_out[step, n] = float(totals[n])
            kept[step, n] = info["kept_fraction"][n]
    return terms_out, totals_out, kept


def main():
    torch.set_num_threads(1)
    out = {}
    for k in (3, 2):
        terms, totals, kept = run(torch.float64, k)
        _, totals32, _ = run(torch.float32, k)
        out.update({f"k{k}.terms": terms, f"k{k}.totals": totals,
                    f"k{k}.totals_float32": totals32, f"k{k}.kept": kept})
        for tag, net in zip(("a", "b"), make_pair(torch.float64, k)):
            s = [weight_scale(n, p) for n, p in net.named_parameters()]
            out[f"k{k}.{tag}.param_scale"] = np.array([v for v, _ in s], dtype=np.float64)
            out[f"k{k}.{tag}.param_offset"] = np.array([o for _, o in s], dtype=np.float64)
        for step in range(STEPS):
            rel = np.abs(totals32[step] - totals[step]) / np.abs(totals[step])
            print(f"K={k} step {step}: L(A) {totals[step, 0]:.6f} L(B) {totals[step, 1]:.6f} "
                  f"kept {kept[step, 0]:.3f} {kept[step, 1]:.3f} float32 rel {rel.max():.2e}")
    write_fixture(os.path.join(here, "pair_parity.bin"), out)


if __name__ == "__main__":
    main()
