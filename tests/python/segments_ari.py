"""Adjusted Rand index of a published segmentation against the generator's
planted archetypes, computed independently of seglake: the `segments` Delta
table read by the Python `deltalake` reader, the score by scikit-learn.

usage: segments_ari.py SEGMENTS_TABLE GROUND_TRUTH_PARQUET
prints: {"ari": ..., "rows": ..., "segments": ...}
"""
import json
import os
import sys

import deltalake
import pyarrow.parquet as pq
from sklearn.metrics import adjusted_rand_score

segments = deltalake.DeltaTable(sys.argv[1]).to_pyarrow_table(columns=["customer_id", "segment_id"])
truth = pq.read_table(sys.argv[2], columns=["customer_id", "archetype"])
segment_of = dict(zip(segments.column("customer_id").to_pylist(), segments.column("segment_id").to_pylist()))
customers = truth.column("customer_id").to_pylist()
archetypes = truth.column("archetype").to_pylist()
assert set(segment_of) == set(customers), "segments and ground truth cover different customers"
predicted = [segment_of[c] for c in customers]
print(json.dumps({
    "ari": adjusted_rand_score(archetypes, predicted),
    "rows": len(customers),
    "segments": len(set(predicted)),
}))
sys.stdout.flush()
# deltalake 1.6.6 + pyarrow 26 can abort in interpreter teardown after the
# work is done (see read_delta.py); the result is already printed.
os._exit(0)
