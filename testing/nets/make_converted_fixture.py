#!/usr/bin/python3
"""The fixtures of test_model_convert: PyTorch networks of width 1 (a V-Net with 3 classes, a
ResNet34-V-Net with 2), with random weights and BatchNorm statistics, saved as state_dicts (the
V-Net from nn.DataParallel, "module." prefixed) and converted by scripts/convert_pytorch.py into
converted_<net>_w1.dsm, with PyTorch's evaluation-mode logits on a hash input (the hash of
make_net_fixtures.py) in converted_<net>_w1.bin. The C test loads the converted files and must
reproduce the logits.

Run: /usr/bin/python3 testing/nets/make_converted_fixture.py   (byte-identical on every run)
"""
import os
import subprocess
import sys
import tempfile

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.dirname(here))
from dsfixture import write_fixture  # noqa: E402
from make_net_fixtures import hash_tensor  # noqa: E402
from reference_models import ResNetVNet, VNet, kaiming_init  # noqa: E402


def randomise(model):
    kaiming_init(model)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(6000)
    model.eval()
    return model


def convert(name, model, prefix, options):
    x = torch.from_numpy(hash_tensor(1000, (1, 1, 16, 16, 16), 1.0))
    with torch.no_grad():
        logits, _ = model(x)
    with tempfile.TemporaryDirectory() as tmp:
        pth = os.path.join(tmp, f"{name}.pth")
        torch.save({"state_dict": {prefix + k: v for k, v in model.state_dict().items()}}, pth)
        subprocess.run([sys.executable, os.path.join(here, "..", "..", "scripts",
                                                     "convert_pytorch.py"),
                        os.path.join(here, f"converted_{name}_w1.dsm"), "--net-a", pth] + options,
                       check=True)
    write_fixture(os.path.join(here, f"converted_{name}_w1.bin"), {"logits": logits.numpy()})


torch.manual_seed(2024)
torch.set_num_threads(1)
convert("vnet", randomise(VNet(n_classes=3, w=1, dropout=True)), "module.",
        ["--classes", "background,anterior,posterior", "--patch", "48,32,16",
         "--spacing", "1,1,1.5", "--iteration", "6000"])
convert("resnet34_vnet", randomise(ResNetVNet(n_classes=2, w=1, dropout=True)), "",
        ["--patch", "32,32,32", "--spacing", "1,1,1", "--iteration", "6000"])
