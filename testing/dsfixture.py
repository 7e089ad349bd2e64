"""Writer of DualSeg's reference fixture files (format in testing/ds_fixture.h).

Used by the reference scripts under testing/ (run with Debian's /usr/bin/python3). Arrays are
written in C order; float32, float64 and int64 are kept as such, other dtypes are refused.
"""
import struct

import numpy as np

_DTYPES = {np.dtype(np.float32): 0, np.dtype(np.float64): 1, np.dtype(np.int64): 2}


def write_fixture(path, arrays):
    """Writes arrays (an ordered mapping name -> numpy array) to path, byte-for-byte
    reproducibly: same arrays, same file."""
    with open(path, "wb") as f:
        f.write(b"DSFX")
        f.write(struct.pack("<II", 1, len(arrays)))
        for name, value in arrays.items():
            a = np.asarray(value)
            a = np.ascontiguousarray(a) if a.ndim else a  # keeps 0-d arrays 0-d
            if a.dtype not in _DTYPES:
                raise TypeError(f"{name}: dtype {a.dtype} is not float32, float64 or int64")
            encoded = name.encode("utf-8")
            f.write(struct.pack("<I", len(encoded)))
            f.write(encoded)
            f.write(struct.pack("<II", _DTYPES[a.dtype], a.ndim))
            f.write(struct.pack(f"<{a.ndim}Q", *a.shape))
            f.write(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes(order="C"))
