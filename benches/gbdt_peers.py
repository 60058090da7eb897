"""One peer of benches/gbdt_compare.sh: trains TOOL (lightgbm, xgboost or
sklearn) with the benchmark's hyperparameters on the first TRAIN rows,
scores the rest, and prints one JSON line (fit time, peak memory, AUC;
for LightGBM also the time of its TreeSHAP, `pred_contrib`, over every
held-out row).

usage: gbdt_peers.py TOOL PREFIX ROWS COLS TRAIN
"""
import json
import resource
import sys
import time

import numpy as np
from sklearn.metrics import roc_auc_score

tool, prefix, rows, cols, train = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
x = np.fromfile(prefix + ".x.f64", dtype="<f8").reshape(rows, cols)
y = np.fromfile(prefix + ".y.u8", dtype=np.uint8)
xt, yt, xv, yv = x[:train], y[:train], x[train:], y[train:]

# 100 trees, 31 leaves, 255 bins, learning rate 0.1, 2 threads, no
# subsampling, no early stopping: the same model family everywhere.
if tool == "lightgbm":
    import lightgbm as lib

    model = lib.LGBMClassifier(n_estimators=100, num_leaves=31, max_bin=255, learning_rate=0.1,
                               min_child_samples=20, n_jobs=2, verbose=-1)
elif tool == "xgboost":
    import xgboost as lib

    model = lib.XGBClassifier(n_estimators=100, tree_method="hist", grow_policy="lossguide",
                              max_leaves=31, max_depth=0, max_bin=256, learning_rate=0.1, n_jobs=2)
elif tool == "sklearn":
    import sklearn as lib
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=100, max_leaf_nodes=31, max_bins=255,
                                           learning_rate=0.1, min_samples_leaf=20,
                                           early_stopping=False)
else:
    sys.exit(f"unknown tool {tool}")

start = time.perf_counter()
model.fit(xt, yt)
fit_s = time.perf_counter() - start
p = model.predict_proba(xv)[:, 1]
shap = {}
if tool == "lightgbm":
    start = time.perf_counter()
    contributions = model.booster_.predict(xv, pred_contrib=True, num_threads=2)
    shap = {"shap_rows": len(contributions), "shap_s": time.perf_counter() - start}
print(json.dumps({
    **shap,
    "tool": tool,
    "version": lib.__version__,
    "fit_s": fit_s,
    "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "auc": roc_auc_score(yv, p),
}))
