"""Which runner wrote a report, and the stable test id each runner's cases get.

A test id must be the same in a serial and a parallel run of the same suite:
pytest node ids for pytest, ``class#method`` for the JVM, ``suite::spec text``
for Ginkgo whatever the process count, ``classname::name`` elsewhere.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

_GINKGO_NODE = re.compile(
    r"^\[(It|BeforeSuite|AfterSuite|SynchronizedBeforeSuite|SynchronizedAfterSuite|"
    r"ReportBeforeSuite|ReportAfterSuite|DeferCleanup[^\]]*)\]\s?"
)
_GINKGO_LABELS = re.compile(r"\s\[[^\[\]]*\]$")
_GINKGO_STAMP = re.compile(r"@ (\d\d/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)?)")
_GO_NAME = re.compile(r"^(Test|Example|Benchmark|Fuzz)")
_JVM_PROPS = ("java.version", "java.home", "java.vm.name", "surefire.test.class.path")


def detect_runner(
    filename: str, suite_name: str | None, root: Any, props: dict[str, str], suite: Any
) -> str:
    """Name the producer of one ``<testsuite>`` from cheap, reliable marks."""
    root_name = root.get("name") or ""
    if suite_name == "pytest" or root_name.startswith("pytest"):
        return "pytest"
    if "SuiteSucceeded" in props or "RandomSeed" in props and "ParallelTotal" in props:
        return "ginkgo"
    schema = root.get("{http://www.w3.org/2001/XMLSchema-instance}noNamespaceSchemaLocation") or ""
    if "TEST-" in filename or "surefire" in schema or any(k in props for k in _JVM_PROPS):
        return "jvm"
    if "go.version" in props:
        return "go"
    if root_name == "jest tests":
        return "jest"
    first = suite.find("testcase")
    if first is not None:
        name = first.get("name") or ""
        if _GINKGO_NODE.match(name):
            return "ginkgo"
        classname = first.get("classname") or ""
        if _GO_NAME.match(name) and "/" in (suite_name or classname):
            return "go"
    return "junit"


def is_ginkgo_suite_node(name: str) -> bool:
    m = _GINKGO_NODE.match(name)
    return m is not None and m.group(1) != "It"


def ginkgo_id(suite: str | None, spec_text: str) -> str:
    return f"{suite or ''}::{spec_text}"


def ginkgo_spec_text(junit_name: str) -> str:
    """``[It] Container spec [label, other]`` -> ``Container spec``.

    Suite nodes keep their bracketed kind (``[BeforeSuite]``) so a failing
    setup node stays distinguishable from a spec of the same text.
    """
    m = _GINKGO_NODE.match(junit_name)
    text = junit_name
    if m is not None and m.group(1) == "It":
        text = junit_name[m.end():]
    return _GINKGO_LABELS.sub("", text).strip()


def ginkgo_timeline_start(case: Any) -> float | None:
    """First ``@ 01/02/06 15:04:05.000`` stamp of a Ginkgo JUnit case's timeline."""
    for child in case:
        if child.tag in ("system-err", "system-out") and child.text:
            m = _GINKGO_STAMP.search(child.text)
            if m:
                stamp = m.group(1)
                fmt = "%m/%d/%y %H:%M:%S.%f" if "." in stamp else "%m/%d/%y %H:%M:%S"
                moment = datetime.strptime(stamp, fmt).replace(tzinfo=timezone.utc)
                return moment.timestamp()
    return None


def pytest_module_split(classname: str, file: str | None) -> tuple[list[str], list[str]]:
    """Split a pytest classname into module path parts and class parts."""
    parts = classname.split(".")
    if file and file.endswith(".py"):
        module = file[:-3].replace("\\", "/").split("/")
        if parts[: len(module)] == module:
            return module, parts[len(module):]
    for i in range(1, len(parts)):
        # pytest collects classes matching ``Test*`` by default; module names
        # are lower-case by convention, so the first ``Test...`` part is a class.
        if parts[i][:1].isupper():
            return parts[:i], parts[i:]
    return parts, []


class IdCache:
    """Memoise the classname-derived parts of ids: suites repeat them a lot."""

    def __init__(self) -> None:
        self._pytest: dict[tuple[str | None, str | None], tuple[str, str]] = {}

    def _pytest_prefix(self, classname: str | None, file: str | None) -> tuple[str, str]:
        key = (classname, file)
        hit = self._pytest.get(key)
        if hit is None:
            if not classname:
                hit = (file or "", file or "")
            else:
                module, classes = pytest_module_split(classname, file)
                path = "/".join(module) + ".py"
                hit = ("::".join([path, *classes]), path)
            self._pytest[key] = hit
        return hit

    def pytest(self, classname: str | None, name: str, file: str | None) -> str:
        prefix = self._pytest_prefix(classname, file)[0]
        return f"{prefix}::{name}" if prefix else name

    def pytest_file(self, classname: str | None, file: str | None) -> str | None:
        return self._pytest_prefix(classname, file)[1] or None

    def ginkgo(self, suite: str | None, junit_name: str) -> str:
        return ginkgo_id(suite, ginkgo_spec_text(junit_name))

    @staticmethod
    def generic(
        scope: str | None, file: str | None, classname: str | None, suite: str | None, name: str
    ) -> str:
        parts: list[str] = []
        for part in (scope, file, classname or (None if file else suite), name):
            if part and (not parts or parts[-1] != part):
                parts.append(part)
        return "::".join(parts)
