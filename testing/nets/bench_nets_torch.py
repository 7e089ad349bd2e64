#!/usr/bin/python3
"""The PyTorch side of bench_nets (same arguments, same output line): the same models
(reference_models.py) in PyTorch from Debian's python3-torch, on the CPU with 2 threads."""
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from reference_models import ResNetVNet, VNet, kaiming_init  # noqa: E402


def main():
    arch, mode, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    d, h, w = (int(v) for v in sys.argv[4:7]) if len(sys.argv) >= 7 else (112, 112, 80)
    repeats = int(sys.argv[7]) if len(sys.argv) >= 8 else 3
    torch.set_num_threads(int(__import__("os").environ.get("DS_NUM_THREADS", "2")))
    torch.manual_seed(1337)
    classes = {"vnet": [VNet], "resnet34_vnet": [ResNetVNet], "pair": [ResNetVNet, VNet]}[arch]
    nets = [cls(n_classes=2, w=16) for cls in classes]
    for n in nets:
        kaiming_init(n)
    opts = [torch.optim.SGD(n.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4) for n in nets]
    x = torch.randn(batch, 1, d, h, w)
    g = torch.randn(batch, 2, d, h, w) / (batch * 2 * d * h * w)
    train = mode == "train"
    times = []
    for r in range(repeats + 1):
        t0 = time.perf_counter()
        for net in nets:
            net.train(train)
        if train:  # both forwards, one backward through both graphs, both steps (as in training)
            loss = sum((net(x)[0] * g).sum() for net in nets)
            for opt in opts:
                opt.zero_grad()
            loss.backward()
            for opt in opts:
                opt.step()
        else:
            with torch.no_grad():
                for net in nets:
                    net(x)
        if r > 0:
            times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"time_s={statistics.median(times):.3f} peak_rss_mib={peak:.0f}")


if __name__ == "__main__":
    main()
