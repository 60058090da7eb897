#!/usr/bin/env bash
# Runs every seglake test: installs what the tests need (the Python
# `deltalake` reader, in a virtualenv of its own), then the Rust unit and
# end-to-end tests in the optimised profile. Extra arguments go to
# `cargo test` (e.g. ./infra/test.sh bad_input).
set -euo pipefail
cd "$(dirname "$0")/.."

# Cargo's own target folder unless CARGO_TARGET_DIR says otherwise, so the
# README's two commands share one build.
venv="${SEGLAKE_VENV:-$HOME/.cache/seglake/venv}"

if [ ! -x "$venv/bin/python" ]; then
    echo "== creating the test virtualenv in $venv"
    python3 -m venv "$venv"
fi
echo "== installing the Python reference readers (tests/python/requirements.txt)"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt
export SEGLAKE_PYTHON="$venv/bin/python"

# The report test opens the HTML page of `seglake report` in a real browser
# (tests/browser/check_report.mjs: Playwright driving Debian's chromium; no
# browser is ever downloaded) to see that its charts render offline.
if [ ! -x /usr/bin/chromium ]; then
    echo "== installing Debian's chromium (for the report's browser check)"
    as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y -q chromium ||
        { as_root apt-get update -q && as_root apt-get install -y -q chromium; }
fi
if [ ! -d tests/browser/node_modules ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
    echo "== installing the browser check's packages (tests/browser/package-lock.json)"
    (cd tests/browser && npm ci --no-audit --no-fund)
fi
export SEGLAKE_BROWSER_CHECK="$PWD/tests/browser/check_report.mjs"

# The PostgreSQL source tests start a real server on 127.0.0.1
# (infra/postgres/server.sh: Debian's postgresql, stopped by pid when the
# tests end); installed here so the log shows it.
if ! ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1; then
    echo "== installing Debian's PostgreSQL server (for the PostgreSQL source tests)"
    bash infra/postgres/server.sh install
fi

# The ingestion tests start a real Kafka-protocol broker on 127.0.0.1
# (infra/kafka/broker.sh: Tansu, built once with `cargo install` into
# ~/.cache/seglake/kafka, stopped by pid when the tests end).
bash infra/kafka/broker.sh install

# Every cargo command here has the same flags: the tests need every feature
# (the cluster and S3 tests), and a second feature set would build
# DataFusion and delta-rs a second time. seglake-cli's default features are
# all of them, so `cargo run --release -- demo` shares this build.
cargo_flags=(--release --workspace --locked --all-features)
echo "== cargo build --benches (they are run by hand, so a change that breaks one must fail here)"
cargo build "${cargo_flags[@]}" --benches
echo "== cargo test (release profile: DataFusion in debug mode is too slow to test with real data)"
cargo test "${cargo_flags[@]}" "$@"
