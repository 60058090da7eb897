"""Per-stage wall time and peak memory for benches/job_compare.sh.

Three things live here, shared by the two sides of the benchmark:

- `StageMeter`: a thread that reads VmRSS from /proc/PID/status every
  20 ms and charges each sample to the step running at that moment.
  A sample can miss a short spike, so the kernel's high-water mark (VmHWM)
  is read at every step boundary too: when it rose during a step, the
  process's peak so far was reached in that step, and it is exact. The
  peer (benches/job_peers.py) meters itself with it.
- `seglake`: runs `seglake run JOB --json` as a subprocess with
  `RUST_LOG=...=info --log-format json`, reads its progress lines as they
  come, starts a new step at each, and maps the steps to the benchmark's
  stages (`SEGLAKE_STAGES`).
- `report`: the table of both sides from their JSON lines.

usage: job_stages.py seglake BINARY JOB LAKE CUSTOMERS
       job_stages.py report RESULTS.jsonl
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

SAMPLE_SECONDS = 0.02

# seglake's progress lines (crates/seglake-jobs: every `step(...)` call),
# by prefix, and the stage that starts with each. Lines in between (pinning,
# materialising, counting, computing, checking quality; committing, ...)
# stay in the stage before them. (A run that predates the "scoring and
# explaining" step reports training and explaining as one "risk" stage.)
SEGLAKE_STAGES = [
    ("pinning input versions", "features"),
    ("segmenting customers", "segments"),
    ("training the risk model", "risk"),
    ("scoring and explaining", "explain"),
    ("writing the data files", "publish"),
]
FIRST_STAGE = "startup"

# Only seglake's own steps: the query engine's and delta-rs's info lines
# would be noise.
SEGLAKE_LOG = "warn,seglake_jobs=info,seglake_features=info"
PROGRESS_TARGETS = ("seglake_jobs::progress", "seglake_features::engine")


def read_status(pid):
    """(VmRSS, VmHWM) of a process in KiB; (None, None) once it is gone."""
    rss = hwm = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return rss, hwm


class StageMeter:
    """Wall time and peak resident memory of one process, step by step."""

    def __init__(self, pid="self", interval=SAMPLE_SECONDS):
        self.pid = pid
        self.steps = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval,), daemon=True)
        self._thread.start()

    def begin(self, name, stage, at=None):
        """Ends the running step and starts `name`, part of `stage`; `at`
        back-dates the start (a perf_counter() value) of a first step."""
        now = time.perf_counter() if at is None else at
        rss, hwm = read_status(self.pid)
        with self._lock:
            self._close(now, rss, hwm)
            self.steps.append({
                "step": name, "stage": stage, "start": now, "end": None,
                "sampled_kib": rss or 0, "hwm_start_kib": hwm, "hwm_end_kib": None,
            })

    def end(self, final_hwm_kib=None):
        """Ends the last step. `final_hwm_kib`: the process's peak when it
        has exited already (from wait4), since /proc no longer has it."""
        now = time.perf_counter()
        rss, hwm = read_status(self.pid)
        with self._lock:
            self._close(now, rss, hwm if hwm is not None else final_hwm_kib)
        self._done.set()
        self._thread.join()

    def _close(self, now, rss, hwm):
        if not self.steps or self.steps[-1]["end"] is not None:
            return
        step = self.steps[-1]
        step["end"] = now
        step["hwm_end_kib"] = hwm
        if rss:
            step["sampled_kib"] = max(step["sampled_kib"], rss)

    def _sample(self, interval):
        while not self._done.wait(interval):
            rss, _ = read_status(self.pid)
            with self._lock:
                if rss and self.steps and self.steps[-1]["end"] is None:
                    step = self.steps[-1]
                    step["sampled_kib"] = max(step["sampled_kib"], rss)

    def step_rows(self):
        """Every step: seconds and peak MiB."""
        return [{
            "step": s["step"], "stage": s["stage"],
            "seconds": s["end"] - s["start"], "peak_mib": peak_kib(s) / 1024,
        } for s in self.steps]

    def stage_rows(self):
        """Steps summed into stages, in order of first appearance."""
        stages = {}
        for row in self.step_rows():
            stage = stages.setdefault(row["stage"], {"stage": row["stage"], "seconds": 0.0, "peak_mib": 0.0})
            stage["seconds"] += row["seconds"]
            stage["peak_mib"] = max(stage["peak_mib"], row["peak_mib"])
        return list(stages.values())


def peak_kib(step):
    """A step's peak: the high-water mark when it rose during the step
    (exact), else the largest sample."""
    start, end = step["hwm_start_kib"], step["hwm_end_kib"]
    if start is not None and end is not None and end > start:
        return max(end, step["sampled_kib"])
    return step["sampled_kib"]


# --- seglake --------------------------------------------------------------

def progress_message(line):
    """The step a seglake log line starts, or None for any other line."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    if event.get("target") not in PROGRESS_TARGETS:
        return None
    fields = event.get("fields", {})
    message = fields.get("message", "")
    if message == "materialising":
        return f"materialising {fields.get('table', '?')}"
    return message


def stage_of(message, current):
    for prefix, stage in SEGLAKE_STAGES:
        if message.startswith(prefix):
            return stage
    return current


def run_seglake(binary, job, lake):
    """Runs the job, metered. Returns (meter, wall seconds, peak KiB, record)."""
    env = dict(os.environ, RUST_LOG=SEGLAKE_LOG)
    command = [binary, "--log-format", "json", "run", job, "--var", f"lake={lake}", "--json"]
    other_lines = []
    with tempfile.TemporaryFile(mode="w+") as stdout:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE, text=True, env=env)
        meter = StageMeter(process.pid)
        stage = FIRST_STAGE
        meter.begin("(process start)", stage)
        for line in process.stderr:
            message = progress_message(line)
            if message is None:
                other_lines.append(line)
                continue
            stage = stage_of(message, stage)
            meter.begin(message, stage)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        meter.end(final_hwm_kib=usage.ru_maxrss)
        stdout.seek(0)
        output = stdout.read()
    if process.returncode != 0:
        sys.stderr.write("".join(other_lines) + output)
        sys.exit(f"seglake run exited with {process.returncode}")
    # `run --json` prints the run's record; its metrics are a JSON string.
    record = json.loads(output)
    return meter, wall, usage.ru_maxrss, record


def run_summary(record):
    """What the run found: rows, k, silhouette, trees, held-out AUC."""
    metrics = json.loads(record.get("metrics") or "{}")
    segments = metrics.get("segments", {})
    risk = metrics.get("risk", {})
    rows = {r["table"]: r["rows"] for r in record.get("rows_out", [])}
    return {
        "rows": rows.get("customer_features"),
        "k": segments.get("k"),
        "silhouette": segments.get("silhouette"),
        "labelled": risk.get("labelled_customers"),
        "trees": risk.get("training", {}).get("trees_kept"),
        "auc": risk.get("auc_roc"),
    }


def seglake_main(binary, job, lake, customers):
    meter, wall, peak, record = run_seglake(binary, job, lake)
    common = {"engine": "seglake", "customers": customers}
    for row in meter.step_rows():
        print(json.dumps({**common, **row, "kind": "step"}))
    for row in meter.stage_rows():
        print(json.dumps({**common, **row, "kind": "stage"}))
    print(json.dumps({**common, "kind": "total", "stage": "total", "seconds": wall,
                      "peak_mib": peak / 1024, **run_summary(record)}))


# --- the table ------------------------------------------------------------

# Rows of the table: (label, seglake stages, peer stages).
TABLE_ROWS = [
    ("startup", ["startup"], ["startup"]),
    ("features", ["features"], ["features"]),
    ("segments", ["segments"], ["segments"]),
    ("risk (train)", ["risk"], ["risk"]),
    ("explain (all)", ["explain"], ["explain"]),
    ("publish", ["publish"], []),
]


def combine(stages, names):
    """Summed seconds and largest peak of `names`, or (None, None)."""
    chosen = [stages[n] for n in names if n in stages]
    if not chosen:
        return None, None
    return sum(s["seconds"] for s in chosen), max(s["peak_mib"] for s in chosen)


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def report_main(path):
    rows = [json.loads(line) for line in open(path) if line.startswith("{")]
    machine = next((r for r in rows if r.get("kind") == "machine"), None)
    rows = [r for r in rows if "engine" in r]
    stages = {"seglake": {}, "peer": {}}
    totals = {}
    for r in rows:
        side = "seglake" if r["engine"] == "seglake" else "peer"
        if r["kind"] == "stage":
            stages[side][r["stage"]] = r
        elif r["kind"] == "total":
            totals[side] = r
    steps = [r for r in rows if r["engine"] == "seglake" and r["kind"] == "step"]
    s_total, p_total = totals["seglake"], totals["peer"]
    print(f"\n{s_total['customers']:,} customers generated, {s_total['rows']:,} feature rows "
          f"(peer: {p_total['rows']:,})")
    print(f"peer: {p_total['tools']}")
    if machine:
        print(f"{machine['seglake']} ({machine['commit']}), {machine['cores']} cores, load average "
              f"{machine['load_before']} before, {machine['load_after']} after")
    header = f"{'stage':<18}{'seglake s':>11}{'peer s':>10}{'ratio':>8}{'seglake MiB':>13}{'peer MiB':>10}"
    print(header)
    print("-" * len(header))
    for label, s_names, p_names in TABLE_ROWS:
        s_sec, s_mib = combine(stages["seglake"], s_names)
        p_sec, p_mib = combine(stages["peer"], p_names)
        print(f"{label:<18}{fmt(s_sec, '.2f'):>11}{fmt(p_sec, '.2f'):>10}"
              f"{fmt(ratio(s_sec, p_sec), '.2f'):>8}{fmt(s_mib, ',.0f'):>13}{fmt(p_mib, ',.0f'):>10}")
    print("-" * len(header))
    s_pub, _ = combine(stages["seglake"], ["publish"])
    s_wo = s_total["seconds"] - (s_pub or 0.0)
    print(f"{'total':<18}{s_total['seconds']:>11.2f}{p_total['seconds']:>10.2f}"
          f"{fmt(ratio(s_total['seconds'], p_total['seconds']), '.2f'):>8}"
          f"{s_total['peak_mib']:>13,.0f}{p_total['peak_mib']:>10,.0f}")
    print(f"{'total w/o publish':<18}{s_wo:>11.2f}{p_total['seconds']:>10.2f}"
          f"{fmt(ratio(s_wo, p_total['seconds']), '.2f'):>8}")
    print("ratio: seglake / peer (under 1: seglake faster). Peaks: the largest resident set "
          "during the stage.")
    for side, total in (("seglake", s_total), ("peer", p_total)):
        print(f"{side:<8} k = {total.get('k')}, silhouette {fmt(total.get('silhouette'), '.3f')}, "
              f"{total.get('labelled')} labelled, {total.get('trees')} trees kept, "
              f"held-out AUC {fmt(total.get('auc'), '.3f')}")
    print("\nseglake's steps (its progress lines):")
    for r in steps:
        print(f"  {r['stage']:<13}{r['seconds']:>8.2f} s{r['peak_mib']:>8,.0f} MiB  {r['step']}")


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "seglake":
        seglake_main(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) == 3 and sys.argv[1] == "report":
        report_main(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
