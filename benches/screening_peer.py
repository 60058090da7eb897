"""The Python peer of benches/screening.rs: the same matching with rapidfuzz.

Reads the normalised names and listed name forms the Rust bench wrote
(queries.tsv, forms.tsv), and screens them exactly as seglake does: the same
blocking keys (first and last three characters of each token; a token of
three characters or fewer is its own key), Jaro-Winkler between tokens from
rapidfuzz (process.cdist, float64, all cores), tokens paired one to one most
similar first (ties: earlier query token, then earlier listed token), pairs
below a Jaro-Winkler of 0.85 never paired, and
score = sum((len q + len l) * jw) / (all query + all listed characters).
One match per entry, its best form. Prints one JSON line and writes
peer_hits.tsv for the comparison.

Usage: python screening_peer.py DIR
"""
import json
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.process import cdist

THRESHOLD = 0.9
TOKEN_FLOOR = 0.85


def keys(token):
    if len(token) <= 3:
        return ["w:" + token]
    return ["p:" + token[:3], "s:" + token[-3:]]


def align(q_tokens, l_tokens, sim):
    """sim[i][j]: query token i against listed token j."""
    pairs = [(sim[i][j], i, j) for i in range(len(q_tokens)) for j in range(len(l_tokens)) if sim[i][j] >= TOKEN_FLOOR]
    pairs.sort(key=lambda p: -p[0])  # stable: (i, j) order among equals
    used_q, used_l, covered = set(), set(), 0.0
    for s, i, j in pairs:
        if i in used_q or j in used_l:
            continue
        used_q.add(i)
        used_l.add(j)
        covered += (len(q_tokens[i]) + len(l_tokens[j])) * s
    total = sum(map(len, q_tokens)) + sum(map(len, l_tokens))
    return covered / total if total else 0.0


def main(folder):
    folder = Path(folder)
    forms = []
    for line in open(folder / "forms.tsv"):
        entry, text = line.rstrip("\n").split("\t")
        forms.append((int(entry), text.split(" ")))
    queries = [line.rstrip("\n").split("\t")[1].split(" ") for line in open(folder / "queries.tsv")]
    start = time.perf_counter()
    blocks = defaultdict(list)
    for f, (_, tokens) in enumerate(forms):
        for t in tokens:
            for k in keys(t):
                if not blocks[k] or blocks[k][-1] != f:
                    blocks[k].append(f)
    results = {}
    hits = []
    for qi, q in enumerate(queries):
        key = " ".join(q)
        if key not in results:
            results[key] = screen(q, forms, blocks)
        hits.extend((qi, entry, score) for entry, score in results[key])
    seconds = time.perf_counter() - start
    with open(folder / "peer_hits.tsv", "w") as out:
        for qi, entry, score in hits:
            out.write(f"{qi}\t{entry}\t{score:.17e}\n")
    print(json.dumps({
        "tool": "python+rapidfuzz",
        "names": len(queries),
        "seconds": seconds,
        "names_per_s": len(queries) / seconds,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "hits": len(hits),
    }))


def screen(q, forms, blocks):
    if q == [""]:
        return []
    candidates = sorted({f for t in q for k in keys(t) for f in blocks.get(k, ())})
    if not candidates:
        return []
    vocabulary = sorted({t for f in candidates for t in forms[f][1]})
    column = {t: j for j, t in enumerate(vocabulary)}
    sim = cdist(q, vocabulary, scorer=JaroWinkler.normalized_similarity, dtype=np.float64, workers=-1)
    best = {}
    for f in candidates:
        entry, tokens = forms[f]
        cols = [column[t] for t in tokens]
        s = align(q, tokens, [[sim[i][c] for c in cols] for i in range(len(q))])
        if s >= THRESHOLD and s > best.get(entry, -1.0):
            best[entry] = s
    return sorted(best.items(), key=lambda e: (-e[1], e[0]))


if __name__ == "__main__":
    main(sys.argv[1])
