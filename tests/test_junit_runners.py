"""Runner-specific identity and timing, on reports produced by real runners."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pollution
from pollution.identity import ginkgo_spec_text, pytest_module_split

FIXTURES = Path(__file__).parent / "fixtures"

SUITE = {
    "tests_pkg/__init__.py": "",
    "tests_pkg/test_alpha.py": """
        import pytest

        def test_plain():
            pass

        @pytest.mark.parametrize("value", ["a b", "x;y", "$(id)", "[1]", "ü", 'q"'])
        def test_param(value):
            assert value != "[1]"

        class TestGroup:
            def test_method(self):
                pass

            class TestInner:
                def test_deep(self):
                    pass
    """,
    "tests_pkg/sub/__init__.py": "",
    "tests_pkg/sub/test_beta.py": """
        import pytest

        def test_skip():
            pytest.skip("nope")

        def test_error(broken):
            pass

        @pytest.fixture
        def broken():
            raise RuntimeError("setup")
    """,
}


@pytest.fixture(scope="module")
def pytest_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("suite")
    for name, body in SUITE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(body))
    return root


def _run_pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _node_ids(root: Path) -> set[str]:
    listed = _run_pytest(root, "--collect-only", "-q", "tests_pkg")
    return {line for line in listed.stdout.splitlines() if "::" in line}


@pytest.mark.parametrize("family", ["xunit2", "xunit1"])
def test_pytest_ids_are_node_ids_serial_and_xdist(pytest_suite: Path, family: str) -> None:
    serial = pytest_suite / f"serial-{family}.xml"
    parallel = pytest_suite / f"parallel-{family}.xml"
    _run_pytest(pytest_suite, "tests_pkg", f"--junitxml={serial}", "-o", f"junit_family={family}")
    _run_pytest(pytest_suite, "-n", "2", "tests_pkg", f"--junitxml={parallel}", "-o", f"junit_family={family}")
    expected = _node_ids(pytest_suite)
    s = pollution.load_junit(serial, mode="serial")
    p = pollution.load_junit(parallel, mode="parallel")
    assert set(s["test_id"]) == expected
    assert set(p["test_id"]) == expected
    assert (s["runner"] == "pytest").all()
    by_id = s.set_index("test_id")
    assert by_id.loc["tests_pkg/test_alpha.py::test_param[[1]]", "outcome"] == "failed"
    assert by_id.loc["tests_pkg/sub/test_beta.py::test_skip", "outcome"] == "skipped"
    assert by_id.loc["tests_pkg/sub/test_beta.py::test_error", "outcome"] == "error"
    assert by_id.loc["tests_pkg/test_alpha.py::TestGroup::TestInner::test_deep", "file"] == "tests_pkg/test_alpha.py"
    # Plain xdist JUnit records neither worker nor time of day: nothing is invented.
    assert p["worker"].isna().all() and p["start"].isna().all()


@pytest.mark.parametrize(
    ("classname", "file", "module", "classes"),
    [
        ("tests.test_x", None, ["tests", "test_x"], []),
        ("tests.test_x.TestK", None, ["tests", "test_x"], ["TestK"]),
        ("tests.test_x.TestK.TestInner", None, ["tests", "test_x"], ["TestK", "TestInner"]),
        ("test_x", None, ["test_x"], []),
        ("pkg.Sub.test_x.TestK", "pkg/Sub/test_x.py", ["pkg", "Sub", "test_x"], ["TestK"]),
    ],
)
def test_pytest_module_split(classname: str, file: str | None, module: list[str], classes: list[str]) -> None:
    assert pytest_module_split(classname, file) == (module, classes)


@pytest.mark.parametrize(
    ("junit_name", "text"),
    [
        ("[It] A B C [dolphin, gorilla]", "A B C"),
        ("[It] Accounts creates account 42", "Accounts creates account 42"),
        ("[BeforeSuite]", "[BeforeSuite]"),
        ("[SynchronizedBeforeSuite] ", "[SynchronizedBeforeSuite]"),
    ],
)
def test_ginkgo_spec_text(junit_name: str, text: str) -> None:
    assert ginkgo_spec_text(junit_name) == text


@pytest.mark.parametrize("run", ["serial", "p2", "p4"])
def test_ginkgo_junit_and_json_agree(run: str) -> None:
    junit = pollution.load_junit(FIXTURES / "ginkgo" / f"{run}.junit.xml")
    report = pollution.load_junit(FIXTURES / "ginkgo" / f"{run}.report.json")
    assert sorted(junit["test_id"]) == sorted(report["test_id"])
    assert junit.set_index("test_id")["outcome"].to_dict() == report.set_index("test_id")["outcome"].to_dict()
    assert (junit["runner"] == "ginkgo").all() and (report["runner"] == "ginkgo").all()


def test_ginkgo_counts_do_not_depend_on_process_count() -> None:
    ids = [set(pollution.load_junit(FIXTURES / "ginkgo" / f"{r}.report.json")["test_id"]) for r in ("serial", "p2", "p4")]
    assert ids[0] == ids[1] == ids[2]
    assert not any("Suite]" in i for i in ids[0])  # setup nodes ran once per process, none is a test


def test_ginkgo_json_workers_and_times() -> None:
    table = pollution.load_junit(FIXTURES / "ginkgo" / "p4.report.json")
    ran = table[table["outcome"] != "skipped"]
    assert ran["worker"].notna().all()
    assert set(ran["worker"]) <= {"1", "2", "3", "4"} and ran["worker"].nunique() > 1
    assert (ran["stop"] >= ran["start"]).all()
    for _, group in table.dropna(subset=["position"]).groupby("worker"):
        ordered = group.sort_values("position")
        assert list(ordered["position"]) == list(range(len(ordered)))
        assert ordered["start"].is_monotonic_increasing


def test_ginkgo_junit_timeline_gives_start() -> None:
    junit = pollution.load_junit(FIXTURES / "ginkgo" / "p4.junit.xml").set_index("test_id")
    report = pollution.load_junit(FIXTURES / "ginkgo" / "p4.report.json").set_index("test_id")
    ran = report[report["outcome"] != "skipped"].index
    delta = (junit.loc[ran, "start"] - report.loc[ran, "start"]).abs()
    assert (delta < 0.01).all()  # the timeline has millisecond stamps
    assert junit["worker"].isna().all()  # Ginkgo's JUnit does not say which process


def test_surefire_flaky_failure_is_a_pass_with_reruns(corpus: Path) -> None:
    table = pollution.load_junit(corpus / "surefire" / "apache__TEST-org.acme.FlakyTest.xml")
    row = table.set_index("test_id").loc["org.acme.FlakyTest#testFlaky"]
    assert row["outcome"] == "passed" and row["reruns"] > 0
    assert (table["runner"] == "jvm").all()


def test_playwright_rerun_failures_are_counted(corpus: Path) -> None:
    table = pollution.load_junit(corpus / "generated-local" / "playwright1.65-includeRetries.xml")
    assert table["reruns"].sum() > 0


def test_timestamps_per_case(corpus: Path) -> None:
    table = pollution.load_junit(corpus / "other" / "mikepenz__basic.xml")
    assert table["start"].notna().all()
    assert ((table["stop"] - table["start"] - table["duration"]).abs() < 1e-6).all()


def test_go_ids(corpus: Path) -> None:
    table = pollution.load_junit(corpus / "gotestsum" / "gotestyourself__junitxml-report.xml")
    assert (table["runner"] == "go").all()
    assert "gotest.tools/gotestsum/testjson/internal/badmain::TestMain" in set(table["test_id"])
