"""scikit-learn's k-means on the same float32 matrix file as benches/kmeans.rs.

usage: sklearn_kmeans.py MATRIX.f32 ROWS COLS K {lloyd,minibatch}
prints one JSON line: fit wall time (the best of SEGLAKE_BENCH_FITS fits,
default 5, as benches/kmeans.rs, and the first), inertia on the full matrix,
peak memory. Run one configuration per process, so each peak is its own.
"""
import json
import os
import resource
import sys
import time

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans

path, rows, cols, k, kind = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
X = np.fromfile(path, dtype=np.float32).reshape(rows, cols)
fits = max(1, int(os.environ.get("SEGLAKE_BENCH_FITS", "5")))
times = []
for _ in range(fits):
    if kind == "lloyd":
        model = KMeans(n_clusters=k, algorithm="lloyd", n_init=1, random_state=0)
    else:
        # scikit-learn's documented advice for speed on many cores/rows:
        # larger batches than the 1024 default.
        model = MiniBatchKMeans(n_clusters=k, batch_size=4096, n_init=1, random_state=0)
    start = time.perf_counter()
    model.fit(X)
    times.append(time.perf_counter() - start)
fit_s = min(times)
inertia = float(-model.score(X))
print(json.dumps({
    "tool": f"sklearn-{kind}",
    "rows": rows,
    "fit_s": round(fit_s, 4),
    "first_fit_s": round(times[0], 4),
    "fits": fits,
    "inertia": inertia,
    "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    "iterations": int(model.n_iter_),
}))
