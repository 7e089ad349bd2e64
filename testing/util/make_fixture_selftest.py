#!/usr/bin/python3
"""Writes testing/util/fixture_selftest.bin, the known-content file that test_fixture reads to
prove the fixture reader (testing/ds_fixture.c) decodes what dsfixture.py writes.
Run: /usr/bin/python3 testing/util/make_fixture_selftest.py"""
import os
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
from dsfixture import write_fixture  # noqa: E402

write_fixture(os.path.join(here, "fixture_selftest.bin"), {
    "f32": np.array([[1.5, -2.0, 0.25], [3.0, 1e-7, -65504.0]], dtype=np.float32),
    "f64": np.array([np.pi], dtype=np.float64),
    "i64": np.array([-3, 2**40], dtype=np.int64),
    "scalar": np.float64(0.5),
})
