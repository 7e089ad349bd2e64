#!/usr/bin/python3
"""Converts PyTorch state_dicts of DualSeg's networks into a DualSeg model file (ds_model.h).

For users with GPU-trained PyTorch weights of the same architectures (testing/nets/
reference_models.py: the literature's VNet with BatchNorm, and the ResNet-34-encoder V-Net).
The architecture, width, input channels and classes are read from the tensors' names and shapes.
Checkpoints saved from nn.DataParallel ("module." prefix) and dicts holding the state_dict under
"state_dict", "model" or "net" are accepted.

  /usr/bin/python3 scripts/convert_pytorch.py --net-a resnet.pth --net-b vnet.pth \\
      --classes background,left_atrium --patch 112,112,80 --spacing 0.625,0.625,0.625 out.dsm

One network alone (--net-a only) makes a single-network model. The file is written to a
temporary name beside the destination and renamed, so an existing file is never half-written.
Requires torch (Debian: python3-torch).
"""
import argparse
import os
import struct
import sys
import tempfile
import zlib

MAGIC = b"DUALSEG\x1a"
VERSION = 1
TAG_META, TAG_NET, TAG_RNG = 0x4154454D, 0x2054454E, 0x20474E52
ARCH = {"vnet": 1, "resnet34_vnet": 2}


class ConversionError(Exception):
    pass


def load_state_dict(path):
    import torch
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any unreadable file is reported the same way
        raise ConversionError(f"{path}: cannot read a PyTorch file: {e}") from e
    for key in ("state_dict", "model", "net"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not obj:
        raise ConversionError(f"{path}: no state_dict found")
    return {(k[7:] if k.startswith("module.") else k): v for k, v in obj.items()}


def describe(path, sd):
    """(arch, in_channels, classes, width) from the tensors."""
    if "stem.0.weight" in sd:
        arch, first = "resnet34_vnet", sd["stem.0.weight"]
    elif "block_one.conv.0.weight" in sd:
        arch, first = "vnet", sd["block_one.conv.0.weight"]
    else:
        raise ConversionError(f"{path}: neither a V-Net (block_one.*) nor a ResNet34-V-Net (stem.*)")
    if "out_conv.weight" not in sd:
        raise ConversionError(f"{path}: no out_conv.weight")
    return arch, int(first.shape[1]), int(sd["out_conv.weight"].shape[0]), int(first.shape[0])


def build(arch, in_channels, classes, width):
    """The reference module, to get the exact parameter and BatchNorm order and names."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testing",
                                    "nets"))
    from reference_models import ResNetVNet, VNet
    cls = VNet if arch == "vnet" else ResNetVNet
    return cls(n_channels=in_channels, n_classes=classes, w=width, dropout=False)


def pack_str(s):
    b = s.encode("utf-8")
    return struct.pack("<I", len(b)) + b


def f32(t):
    import numpy as np
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype="<f4").tobytes()


def net_section(path, index, sd):
    import torch
    arch, in_ch, classes, width = describe(path, sd)
    model = build(arch, in_ch, classes, width)
    expected = model.state_dict()
    missing = [k for k in expected if k not in sd]
    extra = [k for k in sd if k not in expected]
    if missing or extra:
        raise ConversionError(f"{path}: not a {arch} of width {width}: missing {missing[:3]}, "
                              f"unexpected {extra[:3]}")
    for k, v in expected.items():
        if tuple(sd[k].shape) != tuple(v.shape):
            raise ConversionError(f"{path}: {k} has shape {tuple(sd[k].shape)}, "
                                  f"expected {tuple(v.shape)}")
        if sd[k].is_floating_point() and not torch.isfinite(sd[k]).all():
            raise ConversionError(f"{path}: {k} holds NaN or Inf")
    body = struct.pack("<5I", index, ARCH[arch], in_ch, classes, width)
    names = [n for n, _ in model.named_parameters()]
    body += struct.pack("<I", len(names))
    for n in names:
        body += pack_str(n) + struct.pack("<Q", sd[n].numel()) + f32(sd[n])
    bns = [n for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm3d)]
    body += struct.pack("<I", len(bns))
    for n in bns:
        c = sd[n + ".running_mean"].numel()
        body += pack_str(n) + struct.pack("<I", c) + f32(sd[n + ".running_mean"])
        body += f32(sd[n + ".running_var"]) + struct.pack("<q", int(sd[n + ".num_batches_tracked"]))
    return body, classes, in_ch


def meta_section(args, classes, in_channels):
    names = args.classes.split(",") if args.classes else \
        ["background"] + [f"class {k}" for k in range(1, classes)]
    if len(names) != classes:
        raise ConversionError(f"--classes names {len(names)} classes, the network has {classes}")
    patch = [int(v) for v in args.patch.split(",")]
    spacing = [float(v) for v in args.spacing.split(",")]
    if len(patch) != 3 or len(spacing) != 3 or min(patch) < 1 or min(spacing) < 0:
        raise ConversionError("--patch and --spacing take three positive numbers (x,y,z)")
    body = struct.pack("<II", classes, in_channels)
    for n in names:
        if len(n.encode("utf-8")) >= 64:
            raise ConversionError(f"class name '{n}' is longer than 63 bytes")
        body += pack_str(n)
    mode = 0 if args.window is None else 1
    lo, hi = (0.0, 0.0) if args.window is None else [float(v) for v in args.window.split(",")]
    body += struct.pack("<Iff", mode, lo, hi)
    body += struct.pack("<3Q", *patch) + struct.pack("<3d", *spacing)
    body += struct.pack("<qQ", args.iteration, args.seed)
    return body


def section(tag, body):
    return struct.pack("<IQ", tag, len(body)) + body


def convert(args):
    nets = []
    for index, path in enumerate(p for p in (args.net_a, args.net_b) if p):
        nets.append(net_section(path, index, load_state_dict(path)))
    if not nets:
        raise ConversionError("give at least --net-a")
    if len({(c, i) for _, c, i in nets}) != 1:
        raise ConversionError("the two networks differ in classes or input channels")
    _, classes, in_channels = nets[0]
    sections = [section(TAG_META, meta_section(args, classes, in_channels))]
    sections += [section(TAG_NET, body) for body, _, _ in nets]
    sections.append(section(TAG_RNG, struct.pack("<I", 0)))
    data = MAGIC + struct.pack("<II", VERSION, len(sections)) + b"".join(sections)
    data += struct.pack("<I", zlib.crc32(data) & 0xFFFFFFFF)
    folder = os.path.dirname(os.path.abspath(args.output))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(args.output) + ".tmp.", dir=folder)
    os.chmod(tmp, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, args.output)
    except BaseException:
        os.unlink(tmp)
        raise


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("output", help="the DualSeg model file to write")
    p.add_argument("--net-a", required=True, help="state_dict of network A (.pth)")
    p.add_argument("--net-b", help="state_dict of network B (.pth), for a pair")
    p.add_argument("--classes", help="comma-separated class names, background first")
    p.add_argument("--patch", default="112,112,80", help="training patch x,y,z (voxels)")
    p.add_argument("--spacing", default="0,0,0", help="training spacing x,y,z in mm (0: native)")
    p.add_argument("--window", help="lo,hi intensity window (CT); default: per-volume z-score")
    p.add_argument("--iteration", type=int, default=0, help="training iterations done")
    p.add_argument("--seed", type=int, default=1337)
    args = p.parse_args()
    try:
        convert(args)
    except (ConversionError, OSError, ValueError) as e:
        print(f"convert_pytorch: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
