#!/usr/bin/python3
"""The fixture of test_infer_parity: a pair (ResNet34-V-Net A and V-Net B, width 1, 3 classes,
random weights and BatchNorm statistics) converted by scripts/convert_pytorch.py into
pair_w1.dsm (patch 32 x 32 x 16, z-score), a raw image of 37 x 34 x 12 voxels (x, y, z: two
windows along x and y, z shorter than the patch so it is padded), and PyTorch's sliding window
(torch_sliding.py: Gaussian, flips, default stride) on it: probabilities, entropy,
disagreement, in infer_parity.bin.

Run: /usr/bin/python3 testing/infer/make_infer_fixture.py   (byte-identical on every run)
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
testing = os.path.dirname(here)
sys.path.insert(0, here)
sys.path.insert(0, testing)
sys.path.insert(0, os.path.join(testing, "nets"))
from dsfixture import write_fixture  # noqa: E402
from reference_models import ResNetVNet, VNet, kaiming_init  # noqa: E402
from torch_sliding import maps, sliding_window, zscore  # noqa: E402

PATCH = (32, 32, 16)  # x, y, z


def random_net(cls):
    net = cls(n_classes=3, w=1, dropout=False)
    kaiming_init(net)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return net.eval()


def main():
    torch.manual_seed(909)
    torch.set_num_threads(1)
    nets = [random_net(ResNetVNet), random_net(VNet)]
    rng = np.random.default_rng(909)
    z, y, x = np.meshgrid(np.arange(12), np.arange(34), np.arange(37), indexing="ij")
    image = (100 + 30 * np.sin(0.3 * x) * np.cos(0.2 * y + 0.4 * z)
             + 5 * rng.standard_normal(x.shape)).astype(np.float32)
    probs = sliding_window(nets, zscore(image), PATCH, gaussian=True, flips=True)
    p, _, entropy, dis = maps(probs)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, net in zip(("a", "b"), nets):
            paths.append(os.path.join(tmp, name + ".pth"))
            torch.save(net.state_dict(), paths[-1])
        convert = os.path.join(testing, "..", "scripts", "convert_pytorch.py")
        subprocess.run([sys.executable, convert, os.path.join(here, "pair_w1.dsm"),
                        "--net-a", paths[0], "--net-b", paths[1],
                        "--classes", "background,left,right",
                        "--patch", ",".join(map(str, PATCH))], check=True)
    write_fixture(os.path.join(here, "infer_parity.bin"), {
        "image": image, "prob": p.astype(np.float32), "entropy": entropy.astype(np.float32),
        "disagreement": dis.astype(np.float32)})


if __name__ == "__main__":
    main()
