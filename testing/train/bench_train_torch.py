#!/usr/bin/python3
"""The PyTorch side of bench_train: one training iteration of the full dual method (ResNet34-V-Net
+ V-Net of testing/nets/reference_models.py, every loss term of testing/losses/reference_losses.py,
both SGD steps) on the CPU, timed the same way (median of the iterations after the first).

usage: bench_train_torch.py [WIDTH [X Y Z [LABELLED UNLABELLED [ITERATIONS]]]]
  defaults 16 32 48 32 2 2 6; threads from DS_NUM_THREADS (2). Patch in (x, y, z) as bench_train
  takes it; the tensors are (N, 1, z, y, x).
The contrastive term samples at most S = 2000 uncertain voxels (torch.randperm), as the C code
does, instead of the reference's every-voxel default, so the two do the same work."""
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "nets"))
sys.path.insert(0, os.path.join(here, "..", "losses"))
import reference_losses as rl  # noqa: E402
from reference_models import ResNetVNet, VNet, kaiming_init  # noqa: E402


def contrastive_sampled(f_self, label, rel, unc, tau, k, sample=None, limit=2000):
    g = F.normalize(f_self, dim=1)
    nf = g.shape[1]
    gflat = g.permute(0, 2, 3, 4, 1).reshape(-1, nf)
    lab, relf, uncf = label.reshape(-1), rel.reshape(-1), unc.reshape(-1)
    with torch.no_grad():
        onehot = F.one_hot(lab, k).to(g.dtype) * relf.unsqueeze(1).to(g.dtype)
        sums = onehot.t() @ gflat.detach()
        has = onehot.sum(0) > 0
        protos = F.normalize(sums, dim=1)
    eligible = torch.nonzero(uncf & has[lab]).squeeze(1)
    if eligible.numel() == 0:
        return (f_self * 0).sum(), int(has.sum()), eligible
    idx = eligible[torch.randperm(eligible.numel())[:limit]]
    classes = torch.nonzero(has).squeeze(1)
    remap = torch.full((k,), -1, dtype=torch.long)
    remap[classes] = torch.arange(classes.numel())
    logits = gflat[idx] @ protos[classes].t() / tau
    return F.cross_entropy(logits, remap[lab[idx]]), int(classes.numel()), idx


def main():
    a = sys.argv[1:]
    width = int(a[0]) if a else 16
    x, y, z = (int(v) for v in a[1:4]) if len(a) >= 4 else (32, 48, 32)
    nl, nu = (int(v) for v in a[4:6]) if len(a) >= 6 else (2, 2)
    iterations = int(a[6]) if len(a) >= 7 else 6
    torch.set_num_threads(int(os.environ.get("DS_NUM_THREADS", "2")))
    torch.manual_seed(1337)
    rl.contrastive = contrastive_sampled
    nets = [ResNetVNet(n_classes=2, w=width), VNet(n_classes=2, w=width)]
    for n in nets:
        kaiming_init(n)
        n.train()
    opts = [torch.optim.SGD(n.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
            for n in nets]
    n = nl + nu
    img = torch.randn(n, 1, z, y, x)
    labels = (F.avg_pool3d(torch.randn(n, 1, z, y, x), 5, 1, 2)[:, 0] > 0.1).long()
    labels[nl:] = 255
    opt = rl.default_options()
    times = []
    for it in range(iterations):
        t0 = time.perf_counter()
        outs = [net(img) for net in nets]
        totals, _, _ = rl.dual_losses([o[0] for o in outs], [o[1] for o in outs], labels, 255,
                                      opt, 0.5)
        for o in opts:
            o.zero_grad()
        (totals[0] + totals[1]).backward()  # partner detached in each: each net gets its own
        for o in opts:
            o.step()
        if it > 0:
            times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch width={width} patch={x}x{y}x{z} batch={nl}+{nu} "
          f"threads={torch.get_num_threads()}")
    print(f"s_per_iteration={statistics.median(times):.3f} peak_rss_mib={peak:.0f}")


if __name__ == "__main__":
    main()
