#!/usr/bin/python3
"""Writes testing/engine/conv/conv_fixtures.bin: PyTorch's (1.13, float32, CPU) Conv3d and
ConvTranspose3d results for every variant the networks use (and two general ones), and for
shapes that take the direct AVX2 kernels and the split-K forward: input x,
weight, bias, output y, upstream gradient dy, and the gradients dx, dweight, dbias of sum(y * dy).
Read by test_conv_parity.c; the variant list there must match VARIANTS here.

Run: /usr/bin/python3 testing/engine/conv/make_conv_fixtures.py
Seeded and single-threaded: running it again on the same machine writes a byte-identical file
(PyTorch picks its CPU kernels by instruction set, so on another CPU the outputs may differ in
their last bits; the inputs do not)."""
import os
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(here)))
from dsfixture import write_fixture  # noqa: E402

torch.set_num_threads(1)

# name, transposed, in, out, kernel, stride, padding, bias, input spatial (D, H, W); batch 2.
VARIANTS = [
    ("conv_k3s1p1_bias", False, 3, 4, 3, 1, 1, True, (5, 6, 7)),
    ("conv_k3s1p1_nobias", False, 3, 4, 3, 1, 1, False, (5, 6, 7)),
    ("conv_k2s2_bias", False, 3, 4, 2, 2, 0, True, (7, 6, 5)),
    ("conv_k1s1_bias", False, 3, 4, 1, 1, 0, True, (5, 3, 7)),
    ("conv_k7s1p3_nobias", False, 2, 3, 7, 1, 3, False, (5, 6, 7)),
    ("conv_k1s2_nobias", False, 3, 4, 1, 2, 0, False, (7, 5, 9)),
    ("conv_k3s2p1_bias", False, 2, 3, 3, 2, 1, True, (7, 6, 5)),
    ("convT_k2s2_bias", True, 3, 4, 2, 2, 0, True, (3, 4, 5)),
    ("convT_k2s2_nobias", True, 3, 4, 2, 2, 0, False, (3, 4, 5)),
    ("convT_k3s2p1_bias", True, 2, 3, 3, 2, 1, True, (3, 4, 5)),
    # Rows of 16 columns or more, stride 1: the direct AVX2 kernels (forward, backward-data as a
    # flipped convolution, backward-weights for kernel 3 with out % 4 == 0); partial vectors
    # (19, 17 columns) and a channel tail (6 outputs).
    ("conv_k3s1p1_direct_bias", False, 4, 8, 3, 1, 1, True, (3, 5, 19)),
    ("conv_k3s1p1_direct_tail_nobias", False, 3, 6, 3, 1, 1, False, (2, 3, 17)),
    ("conv_k7s1p3_direct_nobias", False, 1, 4, 7, 1, 3, False, (3, 3, 16)),
    ("convT_k3s1p1_direct_bias", True, 8, 4, 3, 1, 1, True, (3, 4, 17)),
    # 20 x 27 = 540 lowered rows on short rows: the split-K forward of the deep layers (and
    # backward-data the same way).
    ("conv_k3s1p1_splitk_bias", False, 20, 20, 3, 1, 1, True, (3, 3, 4)),
]


def f32(t):
    return t.detach().cpu().numpy().astype(np.float32)


out = {}
for i, (name, transposed, cin, cout, k, s, p, bias, spatial) in enumerate(VARIANTS):
    torch.manual_seed(1000 + i)
    cls = torch.nn.ConvTranspose3d if transposed else torch.nn.Conv3d
    layer = cls(cin, cout, k, stride=s, padding=p, bias=bias)  # PyTorch's default init
    x = torch.randn((2, cin) + spatial, requires_grad=True)
    y = layer(x)
    dy = torch.randn(y.shape)
    y.backward(dy)
    out[name + ".x"] = f32(x)
    out[name + ".weight"] = f32(layer.weight)
    if bias:
        out[name + ".bias"] = f32(layer.bias)
    out[name + ".y"] = f32(y)
    out[name + ".dy"] = f32(dy)
    out[name + ".dx"] = f32(x.grad)
    out[name + ".dweight"] = f32(layer.weight.grad)
    if bias:
        out[name + ".dbias"] = f32(layer.bias.grad)

write_fixture(os.path.join(here, "conv_fixtures.bin"), out)
