#!/usr/bin/env bash
# Regenerate the sample JUnit reports: one serial run and three `-n 4` runs of
# the deliberately polluted suite in sample_reports/suite.
#
#   bash sample_reports/make.sh            # uses `python` from PATH
#   PYTHON=.venv/bin/python bash sample_reports/make.sh
#
# Runs from the project root, so pytest's rootdir is the project root and node
# ids read `sample_reports/suite/test_accounts.py::...` (JUnit classname
# `sample_reports.suite.test_accounts`).  Each run starts from a fresh SQLite
# file ($SAMPLE_DB).  Exit code 1 from pytest (tests failed) is expected and
# tolerated; any other non-zero code (usage error, internal error,
# interrupted, nothing collected) stops the script.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
    if command -v python >/dev/null 2>&1; then PY=python; else PY=python3; fi
fi

if [[ -z "${SAMPLE_DB:-}" ]]; then
    SAMPLE_DB="$("$PY" -c 'import os, tempfile; print(os.path.join(tempfile.gettempdir(), "pollution_sample_reports.db"))')"
fi
export SAMPLE_DB
# Keep __pycache__ out of sample_reports/suite.
export PYTHONDONTWRITEBYTECODE=1

SUITE=sample_reports/suite
OUT=sample_reports
PARALLEL_RUNS=3
WORKERS=4

fresh_db() {
    rm -f -- "$SAMPLE_DB" "$SAMPLE_DB-journal" "$SAMPLE_DB-wal" "$SAMPLE_DB-shm"
}

# run_pytest XML [extra pytest args...]
run_pytest() {
    local xml="$1"
    shift
    fresh_db
    local rc=0
    "$PY" -m pytest "$SUITE" \
        --rootdir=. \
        -p no:cacheprovider -p no:randomly \
        -o junit_family=xunit2 \
        --junitxml="$xml" \
        -q "$@" || rc=$?
    if [[ $rc -ne 0 && $rc -ne 1 ]]; then
        echo "make.sh: pytest exited with $rc for $xml; stopping" >&2
        exit "$rc"
    fi
}

mkdir -p "$OUT/serial" "$OUT/parallel"
rm -f -- "$OUT"/serial/run*.xml "$OUT"/parallel/run*.xml

"$PY" -m pytest --version
"$PY" -c 'import importlib.metadata as m; print("pytest-xdist", m.version("pytest-xdist"))'

echo "== serial run -> $OUT/serial/run1.xml"
run_pytest "$OUT/serial/run1.xml"

for i in $(seq 1 "$PARALLEL_RUNS"); do
    echo "== parallel run $i (-n $WORKERS) -> $OUT/parallel/run$i.xml"
    run_pytest "$OUT/parallel/run$i.xml" -n "$WORKERS"
done

fresh_db

# Summarise.  These files were just written by pytest, so the standard
# library parser is fine here.
"$PY" - "$OUT" <<'EOF'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

out = Path(sys.argv[1])
serial_bad = 0
for xml in sorted(out.glob("serial/run*.xml")) + sorted(out.glob("parallel/run*.xml")):
    suite = ET.parse(xml).getroot()
    if suite.tag == "testsuites":
        suite = suite[0]
    total, failures, errors, skipped = (
        int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")
    )
    failed = [
        f"{tc.get('classname')}::{tc.get('name')}"
        for tc in suite.iter("testcase")
        if tc.find("failure") is not None or tc.find("error") is not None
    ]
    print(f"{xml}: {total} tests, {total - failures - errors - skipped} passed, "
          f"{failures} failed, {errors} errors, {skipped} skipped")
    for name in failed:
        print(f"    {name}")
    if xml.parent.name == "serial":
        serial_bad += failures + errors
    elif not failed:
        print("    WARNING: no failures in this parallel run (interference is timing-based)")
if serial_bad:
    sys.exit("make.sh: the serial run must pass 100%; the sample set is invalid")
EOF
