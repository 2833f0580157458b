#!/usr/bin/env bash
# Regenerate sample_reports/demo/: a real `pollution demo` run (the bundled
# polluted suite run serially and twice with `-n 4`, then diagnosed) with its
# JUnit files (demo/runs/), report.html, report.md, result.json, the graph
# exports and the probe journal, plus a screenshot of the report in headless
# Chromium (when /usr/bin/chromium exists: bash scripts/install-chromium.sh).
#
#   bash sample_reports/make-demo.sh        # uses .venv/bin/pollution, else pollution on PATH
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
POLLUTION=.venv/bin/pollution
[[ -x $POLLUTION ]] || POLLUTION=pollution
rm -rf sample_reports/demo
"$POLLUTION" demo --out sample_reports/demo --quiet
rm -f sample_reports/demo/runs/*/order.txt
if [[ -x /usr/bin/chromium ]]; then
    profile=$(mktemp -d)
    /usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --hide-scrollbars --window-size=1400,2400 \
        --screenshot="$PWD/sample_reports/demo-report.png" "file://$PWD/sample_reports/demo/report.html" 2>/dev/null
    rm -rf "$profile"
fi
echo "sample_reports/demo: $(ls sample_reports/demo | tr '\n' ' ')"
