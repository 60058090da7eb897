"""What a run's report must show, read with the Python `deltalake` package
(no seglake code): the run's customers per segment from `segments` and
sizes from `segment_profiles`, at the versions its `runs` row records, and
the numbers its `runs.metrics` holds.

Usage: python report_truth.py LAKE RUN_ID   (prints one JSON object)
"""

import json
import os
import sys
from collections import Counter

from deltalake import DeltaTable


def main() -> None:
    lake, run_id = sys.argv[1], sys.argv[2]
    runs = DeltaTable(f"{lake}/runs").to_pyarrow_table().to_pylist()
    run = next(r for r in runs if r["run_id"] == run_id)
    versions = {o["table"]: o["version"] for o in run["outputs"]}
    segments = DeltaTable(f"{lake}/segments", version=versions["segments"]).to_pyarrow_table()
    counts = Counter(segments.column("segment_id").to_pylist())
    profiles = DeltaTable(
        f"{lake}/segment_profiles", version=versions["segment_profiles"]
    ).to_pyarrow_table()
    metrics = json.loads(run["metrics"])
    risk = metrics.get("risk")
    print(
        json.dumps(
            {
                "segment_customers": {str(k): v for k, v in sorted(counts.items())},
                "profile_sizes": {
                    str(s): n
                    for s, n in zip(
                        profiles.column("segment_id").to_pylist(),
                        profiles.column("size").to_pylist(),
                    )
                },
                "k": metrics["segments"]["k"],
                "k_tried": len(metrics.get("sweep") or []),
                "auc_roc": risk["auc_roc"] if risk else None,
                "auc_pr": risk["auc_pr"] if risk else None,
                "runs_of_job": sum(
                    1
                    for r in runs
                    if r["job_name"] == run["job_name"]
                    and r["status"] == "succeeded"
                    and r["finished_at"] <= run["finished_at"]
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
    # deltalake 1.6 with pyarrow 26 can abort in interpreter teardown after
    # all work is done (see read_delta.py): leave without the finalisers.
    sys.stdout.flush()
    os._exit(0)
