"""Every real report in ../shared/junit-corpus ingests, and its totals agree
with what the file declares, or the disagreement is explained here."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

import pollution
from tests.conftest import CORPUS

BROKEN = {
    "edge/EnricoMi__corrupt-xml.xml": "Premature end of data",
    "edge/EnricoMi__empty.xml": "empty file",
    "edge/EnricoMi__non-xml.xml": "not XML",
    "edge/EnricoMi__non-junit.xml": "root element is <suites>",
    "edge/mikepenz__expected.xml": "Unescaped '<'",
    "edge/mikepenz__TEST-test.CorruptTest.xml": "malformed XML",
}

# file -> {field: (declared, ingested)} and why they differ.
EXPLAINED: dict[str, tuple[dict[str, tuple[int, int]], str]] = {
    "edge/mikepenz__junit.xml": (
        {"tests": (4, 5), "failures": (0, 3)},
        "the outer suites under-declare: their nested suites declare 5 tests, 3 failures",
    ),
    "generated-local/ctest3.25-j2.xml": ({"skipped": (1, 2)}, "CTest declares disabled tests apart; we count them as skipped"),
    "generated-local/ctest3.25-repeat-until-pass.xml": ({"skipped": (1, 2)}, "as above: disabled is skipped"),
    "generated-local/jest30-jestjunit17-maxWorkers2.xml": (
        {"tests": (6, 7)},
        "jest-junit's root total omits the todo test its suite lists",
    ),
    "generated-local/mocha10-mjr221-jenkinsMode.xml": (
        {"tests": (7, 5), "skipped": (2, 0)},
        "jenkinsMode declares pending tests but writes no testcase for them",
    ),
    "generated-local/pytest9.2-rerunfailures16.7-serial-logging-all.xml": (
        {"tests": (9, 10)},
        "pytest-rerunfailures writes a testcase per attempt; the total counts the test once",
    ),
    "generated-local/pytest9.2-xdist3.8-n2-rerunfailures.xml": ({"tests": (9, 10)}, "rerun attempt as above"),
    "generated-local/pytest9.2-xdist3.8-n2-xunit1.xml": ({"tests": (9, 10)}, "rerun attempt as above"),
    "ginkgo/onsi__junit_report_test.snap-extract.xml": (
        {"tests": (5, 4)},
        "Ginkgo counts its [BeforeSuite] node as a test; suite setup nodes are not tests here",
    ),
    "gotestsum/gotestyourself__junitxml-report.xml": (
        {"tests": (59, 60), "errors": (1, 0)},
        "the badmain package declares 0 tests but reports its failed TestMain as a failure",
    ),
    "jest/dorny__jest__jest-test-results.xml": ({"tests": (0, 2)}, "suites that failed to load declare 0 tests but carry <error> cases"),
    "mocha/mikepenz__mocha.xml": ({"tests": (15515, 1), "skipped": (1, 0)}, "an excerpt: totals of the full run, one case kept"),
    "nunit-xunit-converters/EnricoMi__NUnit-correct.converted.xml": (
        {"tests": (21, 28), "skipped": (11, 8)},
        "the converter's root totals disagree with its own nested suites",
    ),
    "nunit-xunit-converters/EnricoMi__xunit.xml": ({"tests": (173, 2)}, "an excerpt: totals of the full run"),
    "other/EnricoMi__disabled.xml": ({"skipped": (0, 5)}, "disabled cases are declared as disabled; we count them as skipped"),
    "other/dorny__tester-v1.7-report.xml": ({"errors": (1, 0)}, "Nette Tester declares an error but marks no case with one"),
    "pytest/dorny__python-xunit-pytest.xml": ({"tests": (15, 10)}, "a hand-trimmed excerpt of a larger run"),
    "pytest/mikepenz__report_flaky.xml": ({"tests": (3, 4)}, "a flaky-plugin rerun adds a case the total does not count"),
    "surefire/ScaCap__TEST-test.MyIntegrationTestSuite.xml": ({"tests": (924, 5), "failures": (6, 2)}, "an excerpt of a 924-test suite"),
    "surefire/apache__TEST-org.acme.FlakyTest.xml": ({"tests": (1, 2)}, "Surefire's fixture under-declares its two cases"),
}


def corpus_files() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*.xml"))


def declared_totals(path: Path) -> dict[str, int]:
    root = etree.parse(str(path)).getroot()
    fields = ("tests", "failures", "errors", "skipped")
    if root.tag == "testsuites" and root.get("tests") is not None:
        suites = [root]
    else:
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    totals: dict[str, int] = {}
    for suite in suites:
        for f in fields:
            if suite.get(f) is not None:
                totals[f] = totals.get(f, 0) + int(float(suite.get(f)))
    return totals


def test_corpus_is_present(corpus: Path) -> None:
    assert len(corpus_files()) > 60


@pytest.mark.parametrize("name", corpus_files() or ["<corpus absent>"])
def test_corpus_file(corpus: Path, name: str) -> None:
    path = corpus / name
    if name in BROKEN:
        with pytest.raises(pollution.ReportError) as info:
            pollution.load_junit(path)
        message = str(info.value)
        assert str(path) in message and BROKEN[name] in message
        assert "\n" not in message
        return
    table = pollution.load_junit(path)
    assert set(table["outcome"].dropna()) <= {"passed", "failed", "error", "skipped"}
    assert table["outcome"].notna().all()
    assert table["test_id"].notna().all() and (table["test_id"].str.len() > 0).all()
    counts = table["outcome"].value_counts().to_dict()
    got = {
        "tests": len(table),
        "failures": counts.get("failed", 0),
        "errors": counts.get("error", 0),
        "skipped": counts.get("skipped", 0),
    }
    declared = declared_totals(path)
    differences = {k: (declared[k], got[k]) for k in declared if declared[k] != got[k]}
    expected = EXPLAINED.get(name, ({}, ""))[0]
    assert differences == expected
