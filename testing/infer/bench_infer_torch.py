#!/usr/bin/python3
"""PyTorch counterpart of bench_infer (run by it, one process per case, so that its peak memory
is measured alone): the same pair (ResNet34-V-Net + V-Net, width 16, kaiming weights), the same
sliding window (torch_sliding.py: Gaussian weighting, half-patch stride, the same batch, no flips,
float32 accumulation), the same maps (entropy, disagreement), on the same image.

  bench_infer_torch.py hippocampus PATH THREADS BATCH   a NIfTI file, patch 32,48,32 (x, y, z),
                                                         K = 3
  bench_infer_torch.py la THREADS BATCH                  the 144 x 144 x 88 phantom, patch
                                                         112,112,80, K = 2
  bench_infer_torch.py volume:XxYxZ THREADS BATCH       a phantom of that size, patch 112,112,80
                                                         (a smaller volume is padded), K = 2
Prints "RESULT seconds=<s> cpu_s=<process CPU s> windows=<n>" (the median of 3 timed runs after a warm-up for
hippocampus, one run for la, as bench_infer does).
"""
import os
import statistics
import sys
import time

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(os.path.dirname(here), "nets"))
from reference_models import ResNetVNet, VNet, kaiming_init  # noqa: E402
from torch_sliding import maps, sliding_window, steps, zscore  # noqa: E402


def phantom(nx, ny, nz):
    """bench_infer.c's phantom, (z, y, x): an ellipsoid of 500 on 100, with texture."""
    z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    r = ((x - nx / 2) / (0.3 * nx)) ** 2 + ((y - ny / 2) / (0.25 * ny)) ** 2 + \
        ((z - nz / 2) / (0.3 * nz)) ** 2
    return (100.0 + 400.0 * (r < 1) + 20.0 * np.sin(0.7 * x) * np.cos(0.5 * y) *
            np.sin(0.3 * z)).astype(np.float32)


def main():
    case = sys.argv[1]
    if case == "hippocampus":
        import nibabel as nib
        image = np.asarray(nib.load(sys.argv[2]).dataobj, dtype=np.float32).transpose(2, 1, 0)
        threads, batch, patch, classes = int(sys.argv[3]), int(sys.argv[4]), (32, 48, 32), 3
    else:
        size = (144, 144, 88)
        if case.startswith("volume:"):
            size = tuple(int(v) for v in case[7:].split("x"))
        image = phantom(*size)
        threads, batch, patch, classes = int(sys.argv[2]), int(sys.argv[3]), (112, 112, 80), 2
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    nets = []
    for cls in (ResNetVNet, VNet):
        net = cls(n_classes=classes, w=16, dropout=False)
        kaiming_init(net)
        nets.append(net.eval())

    def run():
        probs = sliding_window(nets, zscore(image), patch, gaussian=True, batch=batch,
                               dtype=torch.float32)
        return maps([p.astype(np.float32) for p in probs])

    runs = 1
    if case == "hippocampus":
        run()
        runs = 3
    times, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    size = image.shape[::-1]
    windows = np.prod([len(steps(max(s, p), p, p // 2)) for s, p in zip(size, patch)])
    print(f"RESULT seconds={statistics.median(times):.3f} cpu_s={statistics.median(cpu):.3f} "
          f"windows={windows}", flush=True)


if __name__ == "__main__":
    main()
