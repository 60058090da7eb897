"""Writes a seeded binary classification problem for benches/gbdt_compare.sh:
ROWS x COLS float64 features (raw little-endian, row-major, 3% NaN in two
columns) and ROWS uint8 labels (about 10% positive, 3% flipped).

usage: make_classification_f64.py OUT_PREFIX ROWS COLS
writes OUT_PREFIX.x.f64 and OUT_PREFIX.y.u8
"""
import sys

import numpy as np
from sklearn.datasets import make_classification

prefix, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
x, y = make_classification(
    n_samples=rows,
    n_features=cols,
    n_informative=cols // 2,
    n_redundant=cols // 4,
    n_clusters_per_class=4,
    weights=[0.9, 0.1],
    flip_y=0.03,
    class_sep=0.8,
    random_state=2026,
)
rng = np.random.default_rng(2026)
for c in (1, 5):
    x[rng.random(rows) < 0.03, c] = np.nan
x.astype("<f8").tofile(prefix + ".x.f64")
y.astype(np.uint8).tofile(prefix + ".y.u8")
