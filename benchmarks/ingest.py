"""Ingestion benchmark: ``pollution.load_junit`` against bare lxml and junitparser.

Run from the project root::

    .venv/bin/python benchmarks/ingest.py [--cases 200000] [--repeat 3] [--big-gb 0]

What it does, in one run:

1. Writes a deterministic (seeded) pytest-style JUnit XML report with ``--cases``
   test cases into a temporary directory: ``<testsuites><testsuite name="pytest">``,
   classnames like ``tests.test_mod_17.TestClass3``, names like
   ``test_x_123[param-4]``, ~5% failures (multi-line ``message`` attribute plus a
   traceback body), ~1% errors, ~3% skipped, ``time``/``file``/``line`` attributes.
2. Times three readers of that file, each run in a fresh interpreter so that
   neither time nor memory of one contaminates another.  Imports happen before
   the clock starts; the child reports wall and CPU time, its RSS after imports
   ("baseline") and its own high-water mark ``VmHWM`` ("peak RSS").  The parent
   cross-checks with the per-child ``ru_maxrss`` from ``os.wait4`` ("wait4";
   Linux carries the RSS of the forked parent into it, so it reads at least the
   parent's ~25 MB -- meaningful only above that):

   * ``load_junit``  -- ``pollution.load_junit(path)`` (XML -> typed DataFrame);
   * ``bare lxml``   -- ``etree.iterparse(path, events=("end",), tag="testcase")``
     reading the same fields load_junit reads from each case (name, classname,
     status, time, file, timestamp, the failure/error/skipped child with its
     message or text, rerun children, properties, with load_junit's fallbacks)
     into Python lists, clearing as it goes: the practical floor for a Python
     reader, without test ids, types or a table;
   * ``junitparser`` -- ``JUnitXml.fromfile(path)``, iterate suites and cases,
     read each result's message/text (the object API; builds the whole tree).

   The reported time is the median of ``--repeat`` runs (interleaved across
   the readers); the reported peak RSS is the maximum over the runs.
   ``--suites K`` spreads the cases over K ``<testsuite>`` elements.
3. Prints a table, the ratios and PASS/FAIL against the targets:
   load_junit / bare lxml <= 1.5, junitparser / load_junit >= 3,
   load_junit peak RSS < 300 MB.
4. With ``--big-gb X`` (X > 0) also writes (streaming) a ~X GB report made mostly
   of 50 KB ``<system-out>`` blocks (~20k cases per GB) and a reference report
   with the same cases but 5 KB each, and reports load_junit's (and bare lxml's)
   time and peak RSS on both: the peak must stay < 300 MB and flat, i.e. the
   10x larger file may cost at most ``FLAT_SLACK_MB`` more than the reference.
   ``--cases 0`` skips the standard section.

Generated files are deleted at the end (``--keep`` keeps them).  The exit status
is 1 if any target is missed, so CI can run this as a check.  To benchmark a
modified copy of the package, put it first on the path:
``PYTHONPATH=/path/to/copy .venv/bin/python benchmarks/ingest.py`` (the header
prints which ``pollution`` is measured).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TARGET_LXML_RATIO = 1.5  # load_junit time / bare-lxml time must be <= this
TARGET_JUNITPARSER_RATIO = 3.0  # junitparser time / load_junit time must be >= this
TARGET_RSS_MB = 300.0  # load_junit peak RSS must be below this
FLAT_SLACK_MB = 25.0  # big mode: peak(50 KB/case file) - peak(5 KB/case file), same cases
SYSOUT_BYTES = 50 * 1024  # big mode: captured output per test case
SEED = 20261125

METHODS = ("load_junit", "bare lxml", "junitparser")


# --------------------------------------------------------------------------
# Report generation (streaming; never holds the document in memory)


def _text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(s: str) -> str:
    return (
        _text(s).replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;")
    )


def _traceback(module: str, cls: str | None, func: str, param: str, lineno: int, got: int) -> str:
    owner = f"<{module}.{cls} object at 0x7f3a{lineno:08x}>" if cls else None
    lines = []
    if owner:
        lines.append(f"self = {owner}")
    lines += [
        f"param = '{param}'",
        "",
        f"    def {func}({'self, ' if cls else ''}param):",
        "        result = compute(param)",
        ">       assert result == expected(param)",
        f"E       AssertionError: assert {got} == {got + 1}",
        f"E        +  where {got} = compute('{param}')",
        f"E        +  and   {got + 1} = expected('{param}')",
        "",
        f"{module.replace('.', '/')}.py:{lineno}: AssertionError",
    ]
    return "\n".join(lines)


def _sysout_block(size: int) -> str:
    """Roughly ``size`` bytes of log-like captured output (no markup characters)."""
    rng = random.Random(SEED + 1)
    lines: list[str] = []
    total = 0
    n = 0
    while total < size:
        line = (
            f"2026-11-25 10:{n // 60 % 60:02d}:{n % 60:02d},{rng.randrange(1000):03d} "
            f"DEBUG worker.{rng.randrange(8)} request id={rng.getrandbits(48):012x} "
            f"status={rng.choice((200, 200, 200, 204, 404, 500))} "
            f"elapsed={rng.random() * 50:.3f}ms payload={'x' * rng.randrange(10, 60)}\n"
        )
        lines.append(line)
        total += len(line)
        n += 1
    return "".join(lines)[:size]


@dataclass
class Expected:
    cases: int = 0
    failed: int = 0
    error: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"rows": self.cases, "failed": self.failed, "error": self.error,
                "skipped": self.skipped}


def generate(path: Path, cases: int, *, suites: int = 1, sysout_bytes: int = 0,
             seed: int = SEED) -> Expected:
    """Write a pytest-style JUnit report; return the outcome counts written."""
    rng = random.Random(seed)
    block = _sysout_block(sysout_bytes) if sysout_bytes else ""
    # Outcomes first (one small int per case) so each <testsuite> header can
    # carry correct counts while the cases themselves are streamed.
    # 0 passed, 1 failed, 2 error, 3 skipped
    outcomes = bytearray(
        1 if r < 0.05 else 2 if r < 0.06 else 3 if r < 0.09 else 0
        for r in (rng.random() for _ in range(cases))
    )
    expected = Expected(cases, outcomes.count(1), outcomes.count(2), outcomes.count(3))
    per_suite = math.ceil(cases / suites) if cases else 0
    with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
        w = out.write
        w('<?xml version="1.0" encoding="utf-8"?>\n<testsuites name="pytest tests">')
        for s in range(suites):
            lo, hi = s * per_suite, min(cases, (s + 1) * per_suite)
            if lo >= hi and s:
                break
            chunk = outcomes[lo:hi]
            w(f'<testsuite name="pytest" errors="{chunk.count(2)}" failures="{chunk.count(1)}" '
              f'skipped="{chunk.count(3)}" tests="{hi - lo}" time="{(hi - lo) * 0.004:.3f}" '
              f'timestamp="2026-11-25T10:{s % 60:02d}:00.000000+00:00" hostname="ci-runner-{s % 4}">')
            for i in range(lo, hi):
                m = rng.randrange(400)
                module = f"tests.test_mod_{m}"
                cls = None if m % 5 == 0 else f"TestClass{rng.randrange(12)}"
                classname = f"{module}.{cls}" if cls else module
                func = f"test_x_{i}"
                param = f"param-{rng.randrange(16)}"
                lineno = 10 + rng.randrange(2000)
                dur = f"{rng.expovariate(250):.3f}"
                head = (f'<testcase classname="{classname}" name="{func}[{param}]" '
                        f'file="{module.replace(".", "/")}.py" line="{lineno}" time="{dur}"')
                kind = outcomes[i]
                body = ""
                if kind == 1:
                    got = rng.randrange(1000)
                    msg = (f"AssertionError: assert {got} == {got + 1}\n"
                           f" +  where {got} = compute('{param}')\n"
                           f" +  and   {got + 1} = expected('{param}')")
                    body = (f'<failure message="{_attr(msg)}">'
                            f"{_text(_traceback(module, cls, func, param, lineno, got))}</failure>")
                elif kind == 2:
                    msg = f'failed on setup with "RuntimeError: fixture db_{m} unavailable"'
                    tb = ("@pytest.fixture\n    def db():\n>       raise RuntimeError"
                          f"('fixture db_{m} unavailable')\nE       RuntimeError: fixture "
                          f"db_{m} unavailable\n\ntests/conftest.py:{lineno}: RuntimeError")
                    body = f'<error message="{_attr(msg)}">{_text(tb)}</error>'
                elif kind == 3:
                    reason = f"requires backend {rng.choice(('postgres', 'redis', 'gpu'))}"
                    body = (f'<skipped type="pytest.skip" message="{_attr(reason)}">'
                            f"{module.replace('.', '/')}.py:{lineno}: {_text(reason)}</skipped>")
                if block:
                    body += f"<system-out>--- {classname}::{func} ---\n{block}</system-out>"
                w(f"{head}>{body}</testcase>" if body else f"{head} />")
            w("</testsuite>")
        w("</testsuites>\n")
    return expected


# --------------------------------------------------------------------------
# The readers (run inside a fresh child interpreter)


def _read_load_junit(path: str) -> Callable[[], dict[str, int]]:
    # ``pollution`` exports lazily; import the reader (and pandas) before the clock.
    from pollution.junit import load_junit

    def run() -> dict[str, int]:
        table = load_junit(path)
        counts = table["outcome"].value_counts()
        return {"rows": len(table), **{k: int(counts.get(k, 0)) for k in ("failed", "error", "skipped")}}

    return run


def _read_bare_lxml(path: str) -> Callable[[], dict[str, int]]:
    from lxml import etree

    fail_tags = {"failure", "error", "skipped"}
    rerun_tags = {"flakyFailure", "flakyError", "rerunFailure", "rerunError"}

    def run() -> dict[str, int]:
        # The same attributes and children load_junit reads from every case,
        # with its fallbacks, into plain lists: no ids, no types, no table.
        names: list[str | None] = []
        classnames: list[str | None] = []
        statuses: list[str | None] = []
        times: list[float | None] = []
        files: list[str | None] = []
        stamps: list[str | None] = []
        outcomes: list[str] = []
        messages: list[str | None] = []
        reruns: list[int] = []
        properties: list[dict[str, str] | None] = []
        for _event, elem in etree.iterparse(path, events=("end",), tag="testcase"):
            get = elem.get
            names.append(get("name"))
            classnames.append(get("classname") or get("class"))
            statuses.append(get("status"))
            t = get("time") or get("duration")
            times.append(float(t) if t else None)
            files.append(get("file"))
            stamps.append(get("timestamp"))
            outcome, message, rerun, props = "passed", None, 0, None
            for child in elem:
                tag = child.tag
                if tag in fail_tags:
                    if outcome == "passed":
                        outcome = tag
                        message = child.get("message") or (child.text or "").strip() or None
                elif tag in rerun_tags:
                    rerun += 1
                elif tag == "properties":
                    props = {p.get("name"): p.get("value") for p in child}
            outcomes.append(outcome)
            messages.append(message)
            reruns.append(rerun)
            properties.append(props)
            elem.clear(keep_tail=False)
            parent = elem.getparent()
            while elem.getprevious() is not None:
                del parent[0]
        return {"rows": len(names), "failed": outcomes.count("failure"),
                "error": outcomes.count("error"), "skipped": outcomes.count("skipped")}

    return run


def _read_junitparser(path: str) -> Callable[[], dict[str, int]]:
    from junitparser import Error, Failure, JUnitXml, Skipped

    def run() -> dict[str, int]:
        rows = failed = error = skipped = 0
        records = []
        xml = JUnitXml.fromfile(path)
        for suite in xml:
            for case in suite:
                rows += 1
                outcome, message = "passed", None
                for result in case.result:
                    message = result.message or result.text
                    if isinstance(result, Failure):
                        outcome = "failed"
                        failed += 1
                    elif isinstance(result, Error):
                        outcome = "error"
                        error += 1
                    elif isinstance(result, Skipped):
                        outcome = "skipped"
                        skipped += 1
                    break
                # TestCase has no ``file`` attribute in junitparser's model.
                records.append((case.name, case.classname, case.time,
                                case._elem.get("file"), outcome, message))
        return {"rows": rows, "failed": failed, "error": error, "skipped": skipped}

    return run


READERS: dict[str, Callable[[str], Callable[[], dict[str, int]]]] = {
    "load_junit": _read_load_junit,
    "bare lxml": _read_bare_lxml,
    "junitparser": _read_junitparser,
}


def _status_kb(field_name: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def child_main(method: str, path: str) -> None:
    run = READERS[method](path)  # imports happen here, outside the clock
    baseline_kb = _status_kb("VmRSS")
    start, cpu_start = time.perf_counter(), time.process_time()
    counts = run()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak_kb = _status_kb("VmHWM")
    if peak_kb is None:
        import resource

        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_kb": peak_kb, "baseline_kb": baseline_kb,
                      "counts": counts}))


# --------------------------------------------------------------------------
# The parent: run each measurement in its own process


@dataclass
class Measurement:
    method: str
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    wait4_mb: list[float] = field(default_factory=list)
    baseline_mb: list[float] = field(default_factory=list)
    counts: dict[str, int] | None = None

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    @property
    def max_peak_mb(self) -> float:
        return max(self.peak_mb)


def measure_once(method: str, path: Path, into: Measurement) -> None:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", method, str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)  # stderr passes through
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    # wait4 gives this child's own rusage (RUSAGE_CHILDREN would be the max
    # over every child so far).
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{method} on {path} failed (exit {proc.returncode})")
    result = json.loads(out.decode().strip().splitlines()[-1])
    into.seconds.append(result["seconds"])
    into.cpu.append(result["cpu"])
    into.peak_mb.append(result["peak_kb"] / 1024)
    into.wait4_mb.append(usage.ru_maxrss / 1024)
    if result["baseline_kb"] is not None:
        into.baseline_mb.append(result["baseline_kb"] / 1024)
    into.counts = result["counts"]


def measure(methods: tuple[str, ...], path: Path, repeat: int) -> dict[str, Measurement]:
    results = {m: Measurement(m) for m in methods}
    for r in range(repeat):
        for m in methods:  # interleaved, so drift affects every method alike
            measure_once(m, path, results[m])
            print(f"  run {r + 1}/{repeat} {m:<12} {results[m].seconds[-1]:8.3f} s  "
                  f"peak {results[m].peak_mb[-1]:7.1f} MB", file=sys.stderr, flush=True)
    return results


def print_table(results: dict[str, Measurement], cases: int) -> None:
    print(f"{'method':<13}{'median s':>9}{'cpu s':>8}{'cases/s':>10}{'peak RSS MB':>13}"
          f"{'(wait4)':>9}{'baseline':>10}{'over base':>11}  runs (s)")
    for m in results.values():
        base = statistics.median(m.baseline_mb) if m.baseline_mb else float("nan")
        runs = ", ".join(f"{s:.3f}" for s in m.seconds)
        print(f"{m.method:<13}{m.median_s:>9.3f}{statistics.median(m.cpu):>8.3f}"
              f"{cases / m.median_s:>10,.0f}{m.max_peak_mb:>13.1f}{max(m.wait4_mb):>9.1f}"
              f"{base:>10.1f}{m.max_peak_mb - base:>11.1f}  {runs}")


def check_counts(results: dict[str, Measurement], expected: Expected) -> bool:
    ok = True
    for m in results.values():
        if m.counts != expected.as_dict():
            print(f"WARNING: {m.method} read {m.counts}, the generator wrote {expected.as_dict()}")
            ok = False
    return ok


def verdict(label: str, value: str, target: str, passed: bool) -> bool:
    print(f"  {label:<44} {value:>12}   target {target:<10} {'PASS' if passed else 'FAIL'}")
    return passed


def _file_mb(path: Path) -> float:
    return path.stat().st_size / 1e6


def _warm(path: Path) -> None:
    """Read the file once so every measured run starts from the page cache."""
    with open(path, "rb") as fh:
        while fh.read(1 << 20):
            pass


def standard(tmp: Path, cases: int, suites: int, repeat: int) -> bool:
    path = tmp / f"pytest-{cases}.xml"
    t0 = time.perf_counter()
    expected = generate(path, cases, suites=suites)
    print(f"\n== {cases:,} cases in {suites} suite(s), {_file_mb(path):.1f} MB "
          f"(failed {expected.failed:,}, error {expected.error:,}, skipped {expected.skipped:,}); "
          f"generated in {time.perf_counter() - t0:.1f} s; median of {repeat} run(s) ==")
    _warm(path)
    results = measure(METHODS, path, repeat)
    print_table(results, cases)
    counts_ok = check_counts(results, expected)
    lj, bare, jp = results["load_junit"], results["bare lxml"], results["junitparser"]
    r1 = lj.median_s / bare.median_s
    r2 = jp.median_s / lj.median_s
    print("targets:")
    ok = [
        verdict("load_junit time / bare-lxml time", f"{r1:.2f}", f"<= {TARGET_LXML_RATIO}",
                r1 <= TARGET_LXML_RATIO),
        verdict("junitparser time / load_junit time", f"{r2:.2f}", f">= {TARGET_JUNITPARSER_RATIO}",
                r2 >= TARGET_JUNITPARSER_RATIO),
        verdict("load_junit peak RSS", f"{lj.max_peak_mb:.1f} MB", f"< {TARGET_RSS_MB:.0f} MB",
                lj.max_peak_mb < TARGET_RSS_MB),
        verdict("all readers agree with the generator's counts", "yes" if counts_ok else "no",
                "yes", counts_ok),
    ]
    path.unlink()
    return all(ok)


def big(tmp: Path, gb: float, repeat: int) -> bool:
    """Peak RSS must not follow the bytes of captured output.

    Two reports with the same cases (so the same table): one with 50 KB of
    ``<system-out>`` per case (~``gb`` GB), a reference with 5 KB per case.
    """
    cases = max(1, round(gb * 1e9 / (SYSOUT_BYTES + 400)))  # 400: the case's own markup
    runs: dict[str, tuple[Measurement, Measurement, float]] = {}
    ok_counts = True
    for label, sysout in (("reference", SYSOUT_BYTES // 10), ("big", SYSOUT_BYTES)):
        path = tmp / f"{label}.xml"
        t0 = time.perf_counter()
        expected = generate(path, cases, sysout_bytes=sysout, seed=SEED + 2)
        size_mb = _file_mb(path)
        print(f"\n== {label}: {cases:,} cases x {sysout / 1024:g} KB system-out, {size_mb:,.1f} MB "
              f"(failed {expected.failed:,}, error {expected.error:,}, skipped {expected.skipped:,}); "
              f"generated (streaming) in {time.perf_counter() - t0:.1f} s; "
              f"median of {repeat} run(s) ==")
        _warm(path)
        results = measure(("load_junit", "bare lxml"), path, repeat)
        print_table(results, cases)
        ok_counts &= check_counts(results, expected)
        runs[label] = (results["load_junit"], results["bare lxml"], size_mb)
        path.unlink()
    ref = runs["reference"][0]
    lj, bare, size_mb = runs["big"]
    growth = lj.max_peak_mb - ref.max_peak_mb
    print("big-file targets:")
    print(f"  load_junit on the big file: {lj.median_s:.2f} s, {cases / lj.median_s:,.0f} cases/s, "
          f"{size_mb / lj.median_s:,.0f} MB/s (bare lxml {bare.median_s:.2f} s, "
          f"ratio {lj.median_s / bare.median_s:.2f})")
    ok = [
        verdict("load_junit peak RSS, big file", f"{lj.max_peak_mb:.1f} MB",
                f"< {TARGET_RSS_MB:.0f} MB", lj.max_peak_mb < TARGET_RSS_MB),
        verdict("peak RSS growth, reference -> big (flat)", f"{growth:+.1f} MB",
                f"< {FLAT_SLACK_MB:.0f} MB", growth < FLAT_SLACK_MB),
        verdict("all readers agree with the generator's counts", "yes" if ok_counts else "no",
                "yes", ok_counts),
    ]
    return all(ok)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200_000,
                        help="test cases in the standard report (0 skips that section)")
    parser.add_argument("--suites", type=int, default=1,
                        help="spread the cases over this many <testsuite> elements")
    parser.add_argument("--repeat", type=int, default=3, help="runs per method; the median is reported")
    parser.add_argument("--big-gb", type=float, default=0.0,
                        help="also measure load_junit on a report of about this many GB")
    parser.add_argument("--tmpdir", type=Path, default=None, help="where to write the reports")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(*args.child)
        return 0
    if args.repeat < 1 or args.cases < 0 or args.suites < 1 or args.big_gb < 0:
        parser.error("--repeat and --suites must be >= 1, --cases and --big-gb >= 0")

    # Versions from metadata: importing pandas here would grow this process to
    # ~100 MB, and a child's ru_maxrss starts from its parent's RSS at fork.
    import importlib.util
    from importlib.metadata import version

    print(f"python {sys.version.split()[0]}, lxml {version('lxml')}, pandas {version('pandas')}, "
          f"pyarrow {version('pyarrow')}, junitparser {version('junitparser')}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    spec = importlib.util.find_spec("pollution")
    if spec and spec.origin:
        junit_py = Path(spec.origin).with_name("junit.py")
        digest = hashlib.sha256(junit_py.read_bytes()).hexdigest()[:12]
        print(f"pollution from {Path(spec.origin).parent} (junit.py sha256 {digest})")
    tmp = Path(tempfile.mkdtemp(prefix="pollution-bench-", dir=args.tmpdir))
    ok = True
    try:
        if args.cases:
            ok &= standard(tmp, args.cases, args.suites, args.repeat)
        if args.big_gb > 0:
            ok &= big(tmp, args.big_gb, args.repeat)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\noverall: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
