#!/usr/bin/python3
"""The PyTorch side of bench_train: one training iteration of the full dual method (ResNet34-V-Net
+ V-Net of testing/nets/reference_models.py, every loss term of testing/losses/reference_losses.py,
both SGD steps) on the CPU, timed the same way (median of the iterations after the first).

usage: bench_train_torch.py [--single] [WIDTH [X Y Z [LABELLED UNLABELLED [ITERATIONS]]]]
  defaults 16 32 48 32 2 2 6; threads from DS_NUM_THREADS (2). Patch in (x, y, z) as bench_train
  takes it; the tensors are (N, 1, z, y, x). --single: the V-Net alone on the labelled crops with
  CE + Dice (bench_train's "single" mode).
Also prints conv_gflop, the floating-point work of the convolutions in one iteration (2 x the
multiply-adds of every Conv3d / ConvTranspose3d forward, counted by hooks, times 3 for the
forward, the input gradient and the weight gradient, less the input gradient of the first
convolution, whose input needs none): the numerator of the fraction of the SGEMM peak.
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


def count_conv_flops(nets):
    """Hooks adding each convolution's training FLOPs to the returned one-element list."""
    total = [0.0]

    def hook(mod, inputs, out):
        k = mod.kernel_size[0] * mod.kernel_size[1] * mod.kernel_size[2]
        if isinstance(mod, torch.nn.ConvTranspose3d):
            macs = inputs[0].numel() * mod.out_channels * k // mod.groups
        else:
            macs = out.numel() * (mod.in_channels // mod.groups) * k
        total[0] += 2.0 * macs * (3 if inputs[0].requires_grad else 2)

    for net in nets:
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv3d, torch.nn.ConvTranspose3d)):
                m.register_forward_hook(hook)
    return total


def main():
    a = sys.argv[1:]
    single = "--single" in a
    a = [v for v in a if v != "--single"]
    width = int(a[0]) if a else 16
    x, y, z = (int(v) for v in a[1:4]) if len(a) >= 4 else (32, 48, 32)
    nl, nu = (int(v) for v in a[4:6]) if len(a) >= 6 else (2, 2)
    iterations = int(a[6]) if len(a) >= 7 else 6
    torch.set_num_threads(int(os.environ.get("DS_NUM_THREADS", "2")))
    torch.manual_seed(1337)
    rl.contrastive = contrastive_sampled
    nets = [VNet(n_classes=2, w=width)] if single else [ResNetVNet(n_classes=2, w=width),
                                                         VNet(n_classes=2, w=width)]
    for n in nets:
        kaiming_init(n)
        n.train()
    opts = [torch.optim.SGD(n.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
            for n in nets]
    n = nl if single else nl + nu
    img = torch.randn(n, 1, z, y, x)
    labels = (F.avg_pool3d(torch.randn(n, 1, z, y, x), 5, 1, 2)[:, 0] > 0.1).long()
    labels[nl:] = 255
    opt = rl.default_options()
    flops = count_conv_flops(nets)
    times = []
    for it in range(iterations):
        t0 = time.perf_counter()
        flops[0] = 0.0
        outs = [net(img) for net in nets]
        if single:
            logits = outs[0][0]
            lab = labels != 255
            loss = rl.masked_ce(logits, labels.clamp(max=1), lab) + rl.dice(
                F.softmax(logits, dim=1), labels, lab, 2, opt["dice_smooth"])
            totals = [loss, 0.0]
        else:
            totals, _, _ = rl.dual_losses([o[0] for o in outs], [o[1] for o in outs], labels,
                                          255, opt, 0.5)
        for o in opts:
            o.zero_grad()
        (totals[0] + totals[1]).backward()  # partner detached in each: each net gets its own
        for o in opts:
            o.step()
        if it > 0:
            times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch mode={'single' if single else 'dual'} width={width} patch={x}x{y}x{z} "
          f"batch={nl}+{0 if single else nu} threads={torch.get_num_threads()}")
    print(f"s_per_iteration={statistics.median(times):.3f} peak_rss_mib={peak:.0f} "
          f"conv_gflop={flops[0] / 1e9:.2f}")


if __name__ == "__main__":
    main()
