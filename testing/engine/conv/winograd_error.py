"""Float32 error of Winograd F(2x2x2, 3x3x3) and F(4x4x4, 3x3x3) against a float64 direct
convolution, per output relative to the sum of the magnitudes of its terms (as test_conv_winograd
measures the C kernels). Why only F(2,3) is in the library: run /usr/bin/python3 winograd_error.py.

Transforms of Lavin & Gray 2016 (F(4,3) on the points 0, +-1, +-2), applied along the three axes
in float32, the products summed over cin channels in float32 (numpy einsum, pairwise order).
"""
import numpy as np

F23 = (np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64),
       np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]], np.float64),
       np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64))
F43 = (np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                 [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64),
       np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                 [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64),
       np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                 [0, 1, -1, 8, -8, 1]], np.float64))


def along3(m, t):
    """m applied on the last three axes of t (float32 after each axis)."""
    m = m.astype(np.float32)
    t = np.einsum('ia,...abc->...ibc', m, t).astype(np.float32)
    t = np.einsum('jb,...ibc->...ijc', m, t).astype(np.float32)
    return np.einsum('kc,...ijc->...ijk', m, t).astype(np.float32)


def direct(x, w):
    """float64 valid correlation of x (cin, a, a, a) with w (cout, cin, 3, 3, 3) and |terms|."""
    a = x.shape[1] - 2
    y = np.zeros((w.shape[0], a, a, a))
    s = np.zeros_like(y)
    for kd in range(3):
        for kh in range(3):
            for kw in range(3):
                p = x[:, kd:kd + a, kh:kh + a, kw:kw + a]
                y += np.einsum('oc,cijk->oijk', w[:, :, kd, kh, kw], p)
                s += np.einsum('oc,cijk->oijk', np.abs(w[:, :, kd, kh, kw]), np.abs(p))
    return y, s


def error(f, cin, cout, tiles, rng):
    bt, g, at = f
    a = at.shape[0]
    worst = 0.0
    for _ in range(tiles):
        x = rng.uniform(-1, 1, (cin, a + 2, a + 2, a + 2))
        w = rng.uniform(-1, 1, (cout, cin, 3, 3, 3))
        u = along3(g, w.astype(np.float32))
        v = along3(bt, x.astype(np.float32))
        m = np.einsum('ocxyz,cxyz->oxyz', u, v).astype(np.float32)
        y = along3(at, m)
        ref, s = direct(x, w)
        worst = max(worst, float(np.max(np.abs(y - ref) / s)))
    return worst


if __name__ == '__main__':
    rng = np.random.default_rng(1)
    for cin in (16, 64, 256):
        e2 = error(F23, cin, 8, 20, rng)
        e4 = error(F43, cin, 8, 20, rng)
        print(f'cin {cin:3d}: F(2x2x2,3x3x3) {e2:.2e}  F(4x4x4,3x3x3) {e4:.2e}  ratio {e4 / e2:.1f}'
              '  (of the sum of term magnitudes)')
