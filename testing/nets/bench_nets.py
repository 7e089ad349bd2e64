#!/usr/bin/python3
"""Runs bench_nets (DualSeg) and bench_nets_torch.py (PyTorch, when python3-torch is installed)
for the V-Net, the ResNet34-V-Net and the pair: a training step at batch 4 and an evaluation
forward at batch 1, patch 112x112x80, 2 threads; prints times, ratios and peak memory.

  /usr/bin/python3 testing/nets/bench_nets.py BUILD_DIR [--quick]
--quick uses a 48x48x32 patch and one repetition (a smoke run). Installs nothing.
"""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))


def run(cmd, env):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return None, (out.stderr.strip().splitlines() or ["failed"])[-1]
    fields = dict(kv.split("=") for kv in out.stdout.split())
    return (float(fields["time_s"]), float(fields["peak_rss_mib"])), None


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    build = sys.argv[1]
    quick = "--quick" in sys.argv
    shape = ["48", "48", "32"] if quick else ["112", "112", "80"]
    reps = "1" if quick else "2"
    env = dict(os.environ, DS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
        print("python3-torch is not installed: DualSeg figures only (apt-get install python3-torch)")
    c_bench = os.path.join(build, "testing", "nets", "bench_nets")
    print(f"patch {'x'.join(shape)}, 2 threads, median of {reps} after a warm-up")
    print(f"{'configuration':<30}{'DualSeg s':>11}{'PyTorch s':>11}{'ratio':>8}"
          f"{'DualSeg MiB':>13}{'PyTorch MiB':>13}")
    for arch in ("vnet", "resnet34_vnet", "pair"):
        for mode, batch in (("train", "4"), ("forward", "1")):
            args = [arch, mode, batch] + shape + [reps]
            ours, err = run([c_bench] + args, env)
            theirs, terr = (run([sys.executable, os.path.join(here, "bench_nets_torch.py")] + args,
                                env) if have_torch else (None, "not run"))
            name = f"{arch} {mode} batch {batch}"
            if ours is None:
                print(f"{name:<30} DualSeg failed: {err}")
                continue
            line = f"{name:<30}{ours[0]:>11.2f}"
            if theirs:
                line += f"{theirs[0]:>11.2f}{ours[0] / theirs[0]:>8.2f}{ours[1]:>13.0f}{theirs[1]:>13.0f}"
            else:
                line += f"{'-':>11}{'-':>8}{ours[1]:>13.0f}{'-':>13}  ({terr})"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
