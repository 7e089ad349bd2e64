#!/usr/bin/python3
"""The fixture of test_model_convert: a PyTorch V-Net (width 1, 3 classes, random weights and
BatchNorm statistics) saved as a state_dict and converted by scripts/convert_pytorch.py into
converted_vnet_w1.dsm, with PyTorch's evaluation-mode logits on a hash input (the hash of
make_net_fixtures.py) in converted_vnet_w1.bin. The C test loads the converted file and must
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
from reference_models import VNet, kaiming_init  # noqa: E402

torch.manual_seed(2024)
torch.set_num_threads(1)
model = VNet(n_classes=3, w=1, dropout=True)
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
x = torch.from_numpy(hash_tensor(1000, (1, 1, 16, 16, 16), 1.0))
with torch.no_grad():
    logits, _ = model(x)
with tempfile.TemporaryDirectory() as tmp:
    pth = os.path.join(tmp, "vnet.pth")
    torch.save({"state_dict": {"module." + k: v for k, v in model.state_dict().items()}}, pth)
    subprocess.run([sys.executable, os.path.join(here, "..", "..", "scripts", "convert_pytorch.py"),
                    os.path.join(here, "converted_vnet_w1.dsm"), "--net-a", pth,
                    "--classes", "background,anterior,posterior", "--patch", "48,32,16",
                    "--spacing", "1,1,1.5", "--iteration", "6000"], check=True)
write_fixture(os.path.join(here, "converted_vnet_w1.bin"), {"logits": logits.numpy()})
