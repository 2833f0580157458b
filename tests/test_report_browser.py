"""The HTML report in a real browser: headless Chromium opens it from disk,
every image must decode, nothing may be fetched, no error may be raised, and
the page must fit the window's width. A screenshot is kept (in
sample_reports/screenshot.png with POLLUTION_UPDATE_SAMPLES=1).

Chromium comes from Debian (``bash scripts/install-chromium.sh``); without
it these tests skip. The check needs no extra package: a copy of the report
gets a small inline script (allowed by loosening the copy's CSP for scripts
only) that records errors, CSP violations, resource loads and broken images,
and writes them into the DOM that ``--dump-dom`` prints.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from test_report import PNG, build_diagnosis

from pollution.report import render_all
from pollution.report.html import CSP

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_reports" / "screenshot.png"
WIDTH, HEIGHT = 1400, 3000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: install it with `bash scripts/install-chromium.sh`"
)

# Registered first thing in <head>, so it sees every error and blocked load.
WATCH = """<script>
window.__problems = [];
window.addEventListener("error", function (e) {
  var t = e.target;
  window.__problems.push(t && t !== window && t.tagName ? "failed to load " + t.tagName + " " + (t.src || t.href || "")
                                                       : "error: " + e.message);
}, true);
document.addEventListener("securitypolicyviolation", function (e) {
  window.__problems.push("blocked by CSP: " + e.blockedURI + " (" + e.violatedDirective + ")");
});
var __consoleError = console.error;
console.error = function () { window.__problems.push("console.error: " + Array.from(arguments).join(" "));
                              __consoleError.apply(console, arguments); };
</script>"""

# Runs on load and leaves the verdict in the DOM for --dump-dom.
REPORT = """<script>
window.addEventListener("load", function () {
  var images = Array.from(document.images);
  var verdict = {
    images: images.length,
    broken: images.filter(function (i) { return !i.complete || i.naturalWidth === 0; })
                  .map(function (i) { return i.alt || i.src.slice(0, 40); }),
    fetched: performance.getEntriesByType("resource").map(function (r) { return r.name; }),
    problems: window.__problems,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth
  };
  var out = document.createElement("pre");
  out.id = "pollution-check";
  out.textContent = JSON.stringify(verdict);
  document.body.appendChild(out);
});
</script>"""


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    argv = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}", *args,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def instrumented_copy(report: Path, extra_body: str = "") -> Path:
    """A copy of the report with the checking scripts; the real report has none."""
    html = report.read_text(encoding="utf-8")
    assert "<script" not in html and CSP in html
    html = html.replace(CSP, CSP.replace("script-src 'none'", "script-src 'unsafe-inline'"), 1)
    html = html.replace("<meta charset=\"utf-8\">", "<meta charset=\"utf-8\">\n" + WATCH, 1)
    html = html.replace("</body>", extra_body + REPORT + "</body>", 1)
    copy = report.with_name("report-under-test.html")
    copy.write_text(html, encoding="utf-8")
    return copy


def verdict(page: Path, profile: Path) -> dict[str, Any]:
    run = chromium("--dump-dom", page.as_uri(), profile=profile)
    found = re.search(r'<pre id="pollution-check">(.*?)</pre>', run.stdout, re.DOTALL)
    assert found, f"no verdict in the dumped DOM (exit {run.returncode}): {run.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(unescape(found.group(1)))
    return result


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    diagnosis = build_diagnosis(tmp_path_factory.getbasetemp() / "report-diagnosis")
    out = tmp_path_factory.mktemp("browser") / "report"
    shutil.copytree(diagnosis, out)
    render_all(out)
    return out / "report.html"


def test_report_loads_cleanly_in_chromium(rendered: Path, tmp_path: Path) -> None:
    result = verdict(instrumented_copy(rendered), tmp_path / "profile")
    assert result["images"] == 3
    assert result["broken"] == []
    assert result["problems"] == []
    assert result["fetched"] == []  # data: images are not fetched; nothing else may be
    assert result["scrollWidth"] <= result["innerWidth"]  # no sideways scrolling at 1400 px


def test_the_check_catches_broken_images_and_external_loads(rendered: Path, tmp_path: Path) -> None:
    bad = ('<img alt="broken" src="data:image/png;base64,AAAA">'
           '<img alt="remote" src="https://example.invalid/pixel.png">')
    result = verdict(instrumented_copy(rendered, bad), tmp_path / "profile")
    assert "broken" in result["broken"] and "remote" in result["broken"]
    assert any("example.invalid" in p and "CSP" in p for p in result["problems"])


def test_screenshot(rendered: Path, tmp_path: Path) -> None:
    update = os.environ.get("POLLUTION_UPDATE_SAMPLES") == "1"
    shot = SAMPLE if update else tmp_path / "screenshot.png"
    run = chromium(f"--screenshot={shot}", rendered.as_uri(), profile=tmp_path / "profile")
    assert shot.exists(), run.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(PNG)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (WIDTH, HEIGHT)
