#!/usr/bin/env bash
# Refreshes the chart library that `seglake report` inlines into its HTML
# page: the minified browser builds of vega, vega-lite and vega-embed, with
# their licences, in crates/seglake-report/assets/.
#
# Why vendored: the report is one self-contained file that must open with no
# network (an air-gapped laptop, a mail attachment), so the JavaScript goes
# inside the page, and the build must not depend on a registry being up.
# Why pinned: the page's look and the browser test depend on these exact
# builds; a refresh is a deliberate change, reviewed like code. Each tarball
# is checked against the integrity hash pinned below, so a refresh gets
# exactly the bytes that were reviewed.
#
# To move to newer versions: change the versions below, set each integrity
# to `npm view NAME@VERSION dist.integrity`, keep vega-embed's peer
# requirements met (vega-lite names the vega it needs in its
# peerDependencies), run this script, and check a report in a browser
# (tests/browser/check_report.mjs).
#
# Usage: infra/vendor-charts.sh   (needs node and npm; the npm registry)
set -euo pipefail
cd "$(dirname "$0")/.."

# name version integrity file-in-package (the UMD build: it sets a global,
# `vega`, `vegaLite` or `vegaEmbed`, when loaded by a plain <script> tag).
# Order matters only for the README: vega-lite needs vega, vega-embed both.
packages=(
    "vega 6.4.0 sha512-rHXCq2LpEWCLMjXBEj7hocY9G0/i5TGYRayGGSj06VTF4+l2IG2Z7oeZKCjWbUh/7hTE/mVhbaOPB72wCElh6g== build/vega.min.js"
    "vega-lite 6.5.0 sha512-fMXF6s0MrIg0UTWnLIfeFtgSLzVhyzSKobzGrh5rhS+mL6FOYFG3m7ouJ4U23gj65EK+gl9FIIT5w7wLNaAzkA== build/vega-lite.min.js"
    "vega-embed 7.3.0 sha512-wQ8s5GaSzqoKgmRfbRolgBrjE2CP7ZKHXqH7NijxMqPjpdWxSs4Dn8tvp9g0giQvh2cK+3p56sxjWWM0wNngGw== build/vega-embed.min.js"
)

dest=crates/seglake-report/assets
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest"

table=""
for entry in "${packages[@]}"; do
    read -r name version integrity file <<<"$entry"
    echo "== $name@$version"
    # npm pack fetches the published tarball without installing anything or
    # running any package script.
    tarball=$(npm pack --silent --pack-destination "$work" "$name@$version" | tail -n 1)
    actual="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w 0)"
    if [ "$actual" != "$integrity" ]; then
        echo "$name@$version: integrity $actual, expected $integrity" >&2
        exit 1
    fi
    mkdir "$work/$name"
    tar -xzf "$work/$tarball" -C "$work/$name" --strip-components=1

    # The builds end with a `//# sourceMappingURL=...` comment naming a .map
    # file that is not shipped; inlined, it would point at a path beside the
    # report, and a browser's developer tools would try to fetch it. The
    # line is dropped; the code itself is copied unchanged.
    sed '/^\/\/# sourceMappingURL=/d' "$work/$name/$file" >"$dest/$(basename "$file")"
    cp "$work/$name/LICENSE" "$dest/LICENSE-$name"

    # The page inlines these files in <script> elements, where the text
    # `</script` (any case) would end the element early; the Rust side
    # escapes it, and this says whether there is anything to escape.
    hits=$(grep -aoi '</script' "$dest/$(basename "$file")" | wc -l || true)
    size=$(wc -c <"$dest/$(basename "$file")")
    echo "   $(basename "$file"): $size bytes, '</script' occurs $hits times"

    license=$(node -p "require('$work/$name/package.json').license")
    table+="| \`$(basename "$file")\` | $name | $version | $license | \`LICENSE-$name\` | \`$integrity\` |"$'\n'
done

cat >"$dest/README.md" <<EOF
# Vendored chart library

Written by \`infra/vendor-charts.sh\`, which refreshes every file here; do not
edit them by hand.

\`seglake report\` writes one self-contained HTML page whose charts are drawn
by [Vega-Lite](https://vega.github.io/vega-lite/) through vega-embed. So that
the page makes no network request, the minified browser (UMD) builds below
are inlined into it, in this order, each in a plain \`<script>\` element; each
sets a global: \`vega\`, \`vegaLite\`, \`vegaEmbed\`.

| file | npm package | version | licence | licence text | tarball integrity |
| --- | --- | --- | --- | --- | --- |
${table}
Each \`.min.js\` is the package's own build, byte for byte, except that its
trailing \`//# sourceMappingURL=\` line (naming a source map that is not
shipped) is removed.

All three are by the University of Washington Interactive Data Lab, under
the BSD 3-Clause licence (texts beside this file). The builds also bundle
their dependencies, under permissive licences: vega bundles the other vega-*
modules (BSD-3-Clause) and d3 modules and topojson-client (ISC); vega-embed
bundles fast-json-patch (MIT, its notice kept in the file),
json-stringify-pretty-compact (MIT), semver (ISC), tslib (0BSD) and
vega-themes, vega-tooltip, vega-interpreter and vega-schema-url-parser
(BSD-3-Clause).
EOF
echo "== wrote $dest"
ls -l "$dest"
