#!/usr/bin/env bash
# Sanctions screening side by side: seglake vs a Python peer doing the same
# matching with rapidfuzz (benches/screening_peer.py), against the full OFAC
# SDN list (reference/ofac_sdn.parquet, individuals and entities with their
# aliases). seglake screens NAMES generated counterparty names; the peer the
# first PEER_NAMES of them (it is slower; throughput is per name). Prints
# names/s, peak memory, the planted near-matches' precision and recall, the
# matches the blocking index lost against brute force on a sample, whether
# the two tools found the same hits, and the throughput ratio.
# Usage: benches/screening_compare.sh [NAMES] [PEER_NAMES]   (1000000, 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
venv="${SEGLAKE_BENCH_VENV:-$HOME/.cache/seglake/bench-venv}"
names=${1:-1000000}
peer_names=${2:-20000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cargo build --release --locked --workspace --all-targets
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r benches/requirements.txt
bench_bin=$(ls -t "$target_dir"/release/deps/screening-* | grep -v '\.d$' | head -1)
echo "== $names counterparty names against the OFAC SDN list, threshold 0.9"
"$bench_bin" reference/ofac_sdn.parquet "$out" "$names" "$peer_names" | tee "$out/seglake.json"
"$venv/bin/python" benches/screening_peer.py "$out" | tee "$out/peer.json"
python3 - "$out" "$peer_names" <<'PY'
import json, sys
out, peer_names = sys.argv[1], int(sys.argv[2])
s = json.load(open(f"{out}/seglake.json"))
p = json.load(open(f"{out}/peer.json"))
def hits(name):
    return {(int(q), int(e)): float(v) for q, e, v in (l.split("\t") for l in open(f"{out}/{name}"))}
mine, theirs = hits("seglake_hits.tsv"), hits("peer_hits.tsv")
same = mine.keys() == theirs.keys() and all(abs(mine[k] - theirs[k]) <= 1e-12 for k in mine)
print(f"\n  {'':<18} {'names':>9} {'names/s':>10} {'peak MiB':>9}")
for r in (s, p):
    print(f"  {r['tool']:<18} {r['names']:>9} {r['names_per_s']:>10.0f} {r['peak_mib']:>9.0f}")
print(f"  planted near-matches {s['planted_near_matches']}: recall {s['recall']:.3f}, precision {s['precision']:.3f}")
print(f"  blocking lost {s['lost_by_blocking']} brute-force matches on {s['brute_force_sample']} names")
print(f"  same hits on the first {peer_names} names: {same} ({len(mine)} seglake, {len(theirs)} peer)")
print(f"  seglake on the peer's {s['peer_sample_names']} names: {s['peer_sample_names_per_s']:.0f} names/s, "
      f"{s['peer_sample_names_per_s'] / p['names_per_s']:.1f}x the peer's throughput "
      f"({s['names_per_s'] / p['names_per_s']:.1f}x counting all {s['names']} names)")
PY
