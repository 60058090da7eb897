"""Writes ROWS x COLS float32 Gaussian blobs around K centres (seeded) as a
raw little-endian matrix, the input of benches/kmeans_compare.sh.

usage: make_blobs_f32.py OUT ROWS COLS K
"""
import sys

import numpy as np

out, rows, cols, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(2026)
centres = rng.uniform(-6, 6, size=(k, cols)).astype(np.float32)
spread = rng.uniform(0.8, 2.5, size=k).astype(np.float32)
with open(out, "wb") as f:
    for start in range(0, rows, 1_000_000):
        n = min(1_000_000, rows - start)
        which = rng.integers(0, k, size=n)
        block = centres[which] + rng.standard_normal((n, cols), dtype=np.float32) * spread[which, None]
        block.astype("<f4").tofile(f)
