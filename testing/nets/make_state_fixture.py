#!/usr/bin/python3
"""PyTorch's view of the two networks' parameters (state_dict.bin), for test_net_init and
test_model_convert: the state_dict names, in order, with their shapes, and what the literature's
initialisation (reference_models.kaiming_init: kaiming_normal_ on every Conv3d weight, BatchNorm
weight 1 and bias 0, everything else PyTorch's default) draws for each parameter.

For each network at width 16 (K = 2), "<net>.sd.<name>" holds [ndim, dims...] of every
state_dict entry, in state_dict order (parameters and BatchNorm buffers interleaved), and
"<net>.init.kind" / ".std" / ".bound" / ".value" hold, per parameter in named_parameters()
order: kind 1 = normal(0, std) (kaiming_normal_), 2 = uniform(-bound, bound) (PyTorch's default
reset_parameters: kaiming_uniform_(a = sqrt(5)) for weights, 1 / sqrt(fan_in) for biases),
3 = the constant value. Every std and bound is computed by torch's own functions
(nn.init._calculate_fan_in_and_fan_out, nn.init.calculate_gain) on the real modules, so a
ConvTranspose3d weight (in, out, k, k, k) gets torch's fan_in = out * k^3 (dim 1 times the
kernel volume), and is then checked here against what torch actually draws (5 standard errors).

Run: /usr/bin/python3 testing/nets/make_state_fixture.py   (byte-identical on every run)
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.dirname(here))
from dsfixture import write_fixture  # noqa: E402
from reference_models import ResNetVNet, VNet, kaiming_init  # noqa: E402

NORMAL, UNIFORM, CONSTANT = 1, 2, 3


def expectation(module, pname, p):
    """(kind, std, bound, value) of what kaiming_init leaves in parameter pname of module."""
    if isinstance(module, nn.BatchNorm3d):
        return CONSTANT, 0.0, 0.0, 1.0 if pname == "weight" else 0.0
    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(module.weight)
    if pname == "bias":  # _ConvNd.reset_parameters, for Conv3d and ConvTranspose3d alike
        bound = 1.0 / math.sqrt(fan_in)
        return UNIFORM, bound / math.sqrt(3.0), bound, 0.0
    if type(module) is nn.Conv3d:  # kaiming_normal_(w): mode fan_in, leaky_relu with a = 0
        return NORMAL, nn.init.calculate_gain("leaky_relu", 0) / math.sqrt(fan_in), 0.0, 0.0
    assert type(module) is nn.ConvTranspose3d  # default: kaiming_uniform_(w, a = sqrt(5))
    bound = nn.init.calculate_gain("leaky_relu", math.sqrt(5)) * math.sqrt(3.0 / fan_in)
    return UNIFORM, bound / math.sqrt(3.0), bound, 0.0


def check_torch_draws(model, table):
    """What torch draws matches the table: sample std within 5 standard errors (relative SE
    sqrt((kurtosis - 1) / 4n): 1/sqrt(2n) for a normal, sqrt(0.2/n) for a uniform), uniform
    values within their bound, constants exact."""
    for (name, p), (kind, std, bound, value) in zip(model.named_parameters(), table):
        v = p.detach().double().numpy().ravel()
        if kind == CONSTANT:
            assert np.all(v == value), name
            continue
        rel_se = math.sqrt((2.0 if kind == NORMAL else 0.8) / (4.0 * v.size))
        assert abs(v.std() / std - 1.0) < 5.0 * rel_se, (name, v.std(), std)
        assert kind == NORMAL or np.abs(v).max() <= bound, name


def describe(net_name, model):
    out = {}
    for name, t in model.state_dict().items():
        out[f"{net_name}.sd.{name}"] = np.array([t.dim()] + list(t.shape), dtype=np.int64)
    owner = {}
    for mname, m in model.named_modules():
        for pname, p in m.named_parameters(recurse=False):
            owner[id(p)] = (m, pname)
    table = [expectation(*owner[id(p)], p) for p in model.parameters()]
    kaiming_init(model)
    check_torch_draws(model, table)
    for i, key in enumerate(("kind", "std", "bound", "value")):
        out[f"{net_name}.init.{key}"] = np.array([row[i] for row in table], dtype=np.float64)
    transposed = [m for m in model.modules() if isinstance(m, nn.ConvTranspose3d)]
    fans = [nn.init._calculate_fan_in_and_fan_out(m.weight)[0] for m in transposed]
    assert fans == [m.weight.shape[1] * 8 for m in transposed]  # dim 1 x kernel volume
    print(f"{net_name}: {len(out) - 4} state_dict entries; transposed-conv fan_in {fans}")
    return out


if __name__ == "__main__":
    torch.manual_seed(0)
    torch.set_num_threads(1)
    out = describe("vnet", VNet(n_classes=2, w=16))
    out.update(describe("resnet34_vnet", ResNetVNet(n_classes=2, w=16)))
    write_fixture(os.path.join(here, "state_dict.bin"), out)
