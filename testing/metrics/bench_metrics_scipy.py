#!/usr/bin/python3
"""The scipy side of bench_metrics: medpy's definitions (make_metric_fixtures.all_metrics) on two
raw uint8 masks written by the benchmark. Prints one line: seconds dc jc hd95 asd assd hd.
Usage: bench_metrics_scipy.py pred.raw ref.raw nx ny nz sx sy sz"""
import os
import sys
import time

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_metric_fixtures import all_metrics  # noqa: E402

pred_path, ref_path = sys.argv[1], sys.argv[2]
nx, ny, nz = (int(v) for v in sys.argv[3:6])
sx, sy, sz = (float(v) for v in sys.argv[6:9])
pred = np.fromfile(pred_path, np.uint8).reshape(nz, ny, nx)
ref = np.fromfile(ref_path, np.uint8).reshape(nz, ny, nx)
t0 = time.perf_counter()
m = all_metrics(pred, ref, (sz, sy, sx))
t1 = time.perf_counter()
print("%.3f %.17g %.17g %.17g %.17g %.17g %.17g" % (t1 - t0, *m[:6]))
