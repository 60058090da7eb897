#!/usr/bin/env bash
# Removes seglake's own build artifacts (not its dependencies') from the
# cargo target folder, before a build in a fresh clone.
#
# Why: every test and bench binary links DataFusion, delta-rs and Ballista
# statically and weighs about 1 GB. Cargo names each by a hash of its
# dependency graph, so a change to Cargo.lock or to a crate's dependencies
# leaves the previous binaries behind, and a target folder kept between CI
# runs grows by ~20 GB each time until the disk is full. A fresh clone
# rebuilds every seglake crate anyway (its files are newer than any
# artifact), so removing them first costs nothing and bounds the folder to
# one build's worth. Dependencies, the expensive part, are kept.
#
# Usage: infra/prune-build.sh   (honours CARGO_TARGET_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."

profile_dir="${CARGO_TARGET_DIR:-target}/release"
[ -d "$profile_dir/deps" ] || exit 0

# Every library, binary, test and bench target of the workspace, as rustc
# names its files (dashes become underscores).
mapfile -t names < <(cargo metadata --no-deps --format-version 1 --locked |
    python3 -c 'import json, sys
for name in sorted({t["name"].replace("-", "_")
                    for p in json.load(sys.stdin)["packages"] for t in p["targets"]}):
    print(name)')

before=$(du -sk "$profile_dir" | cut -f1)
for name in "${names[@]}"; do
    # deps/NAME-HASH, NAME-HASH.d, libNAME-HASH.rlib/.rmeta and the object
    # files a link interrupted (by a full disk, say) leaves behind.
    find "$profile_dir/deps" -maxdepth 1 -regextype posix-extended \
        -regex ".*/(lib)?${name}-[0-9a-f]{16}(\..*)?" -exec rm -rf -- {} +
    find "$profile_dir/incremental" -maxdepth 1 -name "${name}-*" -exec rm -rf -- {} + 2>/dev/null || true
done
after=$(du -sk "$profile_dir" | cut -f1)
echo "== removed seglake's own build artifacts from $profile_dir: $(((before - after) / 1024)) MB freed"
