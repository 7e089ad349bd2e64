#!/usr/bin/python3
"""Writes testing/engine/layers/layer_fixtures.bin: PyTorch's (1.13, float32, CPU) results for
BatchNorm3d (training and evaluation, forward and backward, running statistics), channel softmax,
ReLU and SGD with momentum, weight decay and MultiStepLR (and the same run without weight decay).
Read by test_layer_parity.c.

Run: /usr/bin/python3 testing/engine/layers/make_layer_fixtures.py
Seeded and single-threaded: running it again writes a byte-identical file."""
import os
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(here)))
from dsfixture import write_fixture  # noqa: E402

torch.manual_seed(20240611)
torch.set_num_threads(1)
out = {}


def f32(t):
    return t.detach().cpu().numpy().astype(np.float32)


# --- BatchNorm3d, training: two forward calls, backward through the second ----------------------
shape = (2, 3, 5, 3, 7)
bn = torch.nn.BatchNorm3d(3)  # momentum 0.1, eps 1e-5
with torch.no_grad():
    bn.weight.copy_(torch.tensor([1.5, -0.7, 0.9]))
    bn.bias.copy_(torch.tensor([0.2, -0.3, 1.1]))
offset = torch.tensor([0.5, -2.0, 3.0]).view(1, 3, 1, 1, 1)
x1 = torch.randn(shape) * 2.0 + offset
x2 = (torch.randn(shape) * 0.5 + offset * 0.7).requires_grad_(True)
dy = torch.randn(shape)
bn.train()
y1 = bn(x1)
y2 = bn(x2)
y2.backward(dy)
out.update({
    "bn_train_weight": f32(bn.weight), "bn_train_bias": f32(bn.bias),
    "bn_train_x1": f32(x1), "bn_train_y1": f32(y1),
    "bn_train_x2": f32(x2), "bn_train_y2": f32(y2), "bn_train_dy": f32(dy),
    "bn_train_dx": f32(x2.grad), "bn_train_dweight": f32(bn.weight.grad),
    "bn_train_dbias": f32(bn.bias.grad),
    "bn_train_running_mean": f32(bn.running_mean), "bn_train_running_var": f32(bn.running_var),
    "bn_train_num_batches_tracked": bn.num_batches_tracked.detach().numpy().astype(np.int64),
})

# --- BatchNorm3d, evaluation: given running statistics --------------------------------------------
bn = torch.nn.BatchNorm3d(3)
with torch.no_grad():
    bn.weight.copy_(torch.tensor([0.8, 1.3, -1.1]))
    bn.bias.copy_(torch.tensor([-0.4, 0.0, 0.6]))
    bn.running_mean.copy_(torch.tensor([0.3, -1.2, 2.5]))
    bn.running_var.copy_(torch.tensor([0.7, 2.2, 0.4]))
bn.eval()
x = (torch.randn(shape) * 1.5 + offset).requires_grad_(True)
dy = torch.randn(shape)
y = bn(x)
y.backward(dy)
out.update({
    "bn_eval_weight": f32(bn.weight), "bn_eval_bias": f32(bn.bias),
    "bn_eval_running_mean": f32(bn.running_mean), "bn_eval_running_var": f32(bn.running_var),
    "bn_eval_x": f32(x), "bn_eval_y": f32(y), "bn_eval_dy": f32(dy), "bn_eval_dx": f32(x.grad),
    "bn_eval_dweight": f32(bn.weight.grad), "bn_eval_dbias": f32(bn.bias.grad),
})

# --- softmax over channels -----------------------------------------------------------------------
x = (torch.randn(2, 4, 3, 5, 3) * 3.0).requires_grad_(True)
dy = torch.randn(x.shape)
y = torch.softmax(x, dim=1)
y.backward(dy)
out.update({"softmax_x": f32(x), "softmax_y": f32(y), "softmax_dy": f32(dy),
            "softmax_dx": f32(x.grad)})

# --- ReLU ----------------------------------------------------------------------------------------
x = torch.randn(2, 3, 5, 4, 3).requires_grad_(True)
dy = torch.randn(x.shape)
y = torch.relu(x)
y.backward(dy)
out.update({"relu_x": f32(x), "relu_y": f32(y), "relu_dy": f32(dy), "relu_dx": f32(x.grad)})

# --- SGD (momentum 0.9, weight decay 0.05) with MultiStepLR, given gradients ---------------------
# Weight decay is large enough that its effect (lr * wd * p, 5e-3 of the values at the first step)
# is thousands of times the float32 rounding the test allows; the same run without weight decay
# (sgd_*_traj_nowd) lets the test check that margin.
steps = 5
p0 = torch.randn(4, 3)
p1 = torch.randn(5) * 0.1
out["sgd_p0_init"] = f32(p0)
out["sgd_p1_init"] = f32(p1)
g0 = torch.randn(steps, 4, 3)
g1 = torch.randn(steps, 5)


def sgd_trajectory(weight_decay):
    q0 = torch.nn.Parameter(p0.clone())
    q1 = torch.nn.Parameter(p1.clone())
    opt = torch.optim.SGD([q0, q1], lr=0.1, momentum=0.9, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.1)
    traj0, traj1, lrs = [], [], []
    for k in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        q0.grad = g0[k].clone()
        q1.grad = g1[k].clone()
        opt.step()
        sched.step()
        traj0.append(f32(q0))
        traj1.append(f32(q1))
    return np.stack(traj0), np.stack(traj1), lrs


traj0, traj1, lrs = sgd_trajectory(0.05)
nowd0, nowd1, _ = sgd_trajectory(0.0)
out.update({"sgd_g0": f32(g0), "sgd_g1": f32(g1), "sgd_p0_traj": traj0, "sgd_p1_traj": traj1,
            "sgd_p0_traj_nowd": nowd0, "sgd_p1_traj_nowd": nowd1,
            "sgd_lr": np.array(lrs, dtype=np.float64)})

write_fixture(os.path.join(here, "layer_fixtures.bin"), out)
