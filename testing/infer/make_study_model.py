#!/usr/bin/python3
"""A small trained V-Net for bench_infer's weighting study (uniform against Gaussian weighting
needs a network that really segments something: random weights only measure noise).

Trains a V-Net (width 4, K = 2, BatchNorm, no dropout) with Adam on 32^3 crops of the study's
phantom family (ellipsoids of intensity 1 on 0, radii 6..16 voxels, Gaussian noise sigma 0.8),
then converts it with scripts/convert_pytorch.py (patch 32,32,32). bench_infer gives the
phantoms to ds_infer_volume as they are (the scale the network was trained on), so the model's
normalisation field is not used.

  /usr/bin/python3 testing/infer/make_study_model.py OUT.dsm [ITERATIONS]   (default 300)
The model is not committed (a few MB): bench_infer --study OUT.dsm reads it.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(here), "nets"))
from reference_models import VNet, kaiming_init  # noqa: E402


def phantom(rng, shape):
    """(image, mask) in (z, y, x): 1..3 ellipsoids, noise sigma 0.8 (bench_infer.c's family)."""
    z, y, x = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    mask = np.zeros(shape, dtype=bool)
    for _ in range(rng.integers(1, 4)):
        c = [rng.uniform(0.2, 0.8) * s for s in shape]
        r = rng.uniform(6, 16, size=3)
        mask |= ((z - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((x - c[2]) / r[2]) ** 2 < 1
    image = mask + 0.8 * rng.standard_normal(shape)
    return image.astype(np.float32), mask.astype(np.int64)


def main():
    out = sys.argv[1]
    iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    torch.manual_seed(3)
    torch.set_num_threads(2)
    rng = np.random.default_rng(3)
    net = VNet(n_classes=2, w=4, dropout=False)
    kaiming_init(net)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    net.train()
    for it in range(iterations):
        xs, ys = [], []
        for _ in range(2):
            img, mask = phantom(rng, (48, 48, 48))
            o = rng.integers(0, 17, size=3)
            xs.append(img[o[0]:o[0] + 32, o[1]:o[1] + 32, o[2]:o[2] + 32])
            ys.append(mask[o[0]:o[0] + 32, o[1]:o[1] + 32, o[2]:o[2] + 32])
        x = torch.from_numpy(np.stack(xs))[:, None]
        y = torch.from_numpy(np.stack(ys))
        logits, _ = net(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 50 == 0 or it == iterations - 1:
            print(f"iteration {it}: loss {loss.item():.4f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        pth = os.path.join(tmp, "vnet.pth")
        torch.save(net.state_dict(), pth)
        subprocess.run([sys.executable, os.path.join(here, "..", "..", "scripts",
                                                     "convert_pytorch.py"), out, "--net-a", pth,
                        "--patch", "32,32,32"], check=True)


if __name__ == "__main__":
    main()
