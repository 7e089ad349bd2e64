#!/usr/bin/python3
"""PyTorch counterpart of bench_losses: time of reference_losses.dual_losses (every term on, the
paper's options) forward + backward in float32 at the Hippocampus patch (32x48x32, K = 3) and the
Left Atrium patch (112x112x80, K = 2), batch 2 + 2, F = 16; median of REPEATS after a warm-up.

Run: /usr/bin/python3 testing/losses/bench_losses_torch.py [REPEATS] [THREADS]
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_losses as R  # noqa: E402


def bench(name, shape, k, repeats):
    g = torch.Generator().manual_seed(7)
    z = [(2 * torch.randn((4, k) + shape, generator=g)).requires_grad_(True) for _ in range(2)]
    f = [torch.randn((4, 16) + shape, generator=g).requires_grad_(True) for _ in range(2)]
    y = torch.randint(0, k, (4,) + shape, generator=g)
    y[2:] = 255
    opt = R.default_options()
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        totals, _, _ = R.dual_losses(z, f, y, 255, opt, 0.5)
        (totals[0] + totals[1]).backward()
        if i:
            times.append(1e3 * (time.perf_counter() - t0))
    times.sort()
    print(f"{name} {'x'.join(map(str, shape))} K={k} batch 2+2 F=16, "
          f"{torch.get_num_threads()} threads: PyTorch dual loss {times[len(times) // 2]:.1f} ms")


if __name__ == "__main__":
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
    bench("hippocampus", (32, 48, 32), 3, repeats)
    bench("left_atrium", (80, 112, 112), 2, repeats)
