"""GinkgoRunner: anchored --focus from test ids, results from the JSON report, against real ginkgo."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pollution.errors import InputError
from pollution.runners import RunRequest, execute, get_runner
from pollution.runners.ginkgo import GinkgoRunner, focus_patterns

FIXTURE = Path(__file__).parent / "fixtures" / "ginkgo" / "src" / "pollutedsuite"
GO_ROOT_BIN = Path("/usr/lib/go-1.22/bin")
SUITE = "Polluted Suite"

META_SPEC = f"{SUITE}::Meta (x) a+b (c)|[d] $1.^"
CREATES = f"{SUITE}::Accounts creates account 42"
DUPLICATE = f"{SUITE}::Accounts rejects a duplicate account 42"

META_TEST = """package pollutedsuite

import . "github.com/onsi/ginkgo/v2"

var _ = Describe("Meta (x)", func() {
	It("a+b (c)|[d] $1.^", func() {})
	It("a+b", func() {})
	It("a", func() {})
})
"""


# --------------------------------------------------------------------------
# Pure helpers


@pytest.mark.parametrize(
    ("test_id", "patterns"),
    [
        (CREATES, ["^Polluted Suite Accounts creates account 42$"]),
        (META_SPEC, [r"^Polluted Suite Meta \(x\) a\+b \(c\)\|\[d\] \$1\.\^$"]),
        ("::leaf", ["^ leaf$"]),
        # "::" inside the description or the text: every split is a candidate
        ("A::B::C", ["^A B::C$", "^A::B C$"]),
    ],
)
def test_focus_patterns(test_id: str, patterns: list[str]) -> None:
    assert focus_patterns(test_id) == patterns


def test_id_without_separator_is_refused() -> None:
    with pytest.raises(InputError, match="<suite description>::<spec text>"):
        focus_patterns("just a spec")


def test_argv(tmp_path: Path) -> None:
    runner = GinkgoRunner(tmp_path, ginkgo="/opt/ginkgo", gopath="/gp", seed=7, env={"A": "1"})
    request = RunRequest(run_id="p 1", tests=[CREATES, DUPLICATE], workers=3, env={"DB": "db_{probe}"},
                         extra_args=["--fail-fast", "--", "-custom-flag"])
    inv = runner.prepare(request, tmp_path / "work")
    work = (tmp_path / "work").resolve()
    assert inv.argv == [
        "/opt/ginkgo", "run", "--procs", "3", "--seed=7",
        "--json-report=report.json", "--junit-report=report.junit.xml", f"--output-dir={work}",
        "--keep-going", "--no-color",
        "--focus=^Polluted Suite Accounts creates account 42$",
        "--focus=^Polluted Suite Accounts rejects a duplicate account 42$",
        "--fail-fast", str(tmp_path.resolve()), "--", "-custom-flag",
    ]
    assert inv.env == {"A": "1", "GOPATH": "/gp", "GO111MODULE": "off", "DB": "db_p_1"}
    assert inv.reports == [work / "report.json", work / "report.junit.xml"]
    assert inv.cwd == tmp_path.resolve()
    serial = runner.prepare(RunRequest(run_id="s"), tmp_path / "work").argv
    assert "--procs" not in serial and not any(a.startswith("--focus") for a in serial)
    nothing = runner.prepare(RunRequest(run_id="s", tests=[]), tmp_path / "work").argv
    assert "--focus=^$" in nothing


def test_worker_placeholder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="GINKGO_PARALLEL_PROCESS"):
        GinkgoRunner(tmp_path).prepare(RunRequest(run_id="r", env={"DB": "db_{worker}"}), tmp_path)


def test_chosen_by_name(tmp_path: Path) -> None:
    runner = get_runner("ginkgo", path=tmp_path)
    assert isinstance(runner, GinkgoRunner) and runner.name == "ginkgo"


# --------------------------------------------------------------------------
# Real ginkgo


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    """PATH and offline GOPATH-mode settings for ginkgo (which calls go)."""
    ginkgo = shutil.which("ginkgo")
    go = shutil.which("go") or (str(GO_ROOT_BIN / "go") if (GO_ROOT_BIN / "go").exists() else None)
    if ginkgo is None or go is None:
        pytest.skip("go and ginkgo are not installed: run scripts/install-go.sh")
    path = os.pathsep.join([str(Path(go).parent), os.environ.get("PATH", "")])
    return {"ginkgo": ginkgo, "PATH": path, "GOPROXY": "off", "GOFLAGS": "", "GOTOOLCHAIN": "local"}


@pytest.fixture
def runner(tools: dict[str, str], tmp_path: Path) -> GinkgoRunner:
    gopath = tmp_path / "gopath"
    suite = gopath / "src" / "pollutedsuite"
    shutil.copytree(FIXTURE, suite)
    (suite / "meta_test.go").write_text(META_TEST)
    env = {k: v for k, v in tools.items() if k != "ginkgo"}
    env["POLLUTION_STATE_DIR"] = str(tmp_path / "state")  # the suite's shared "database"
    return GinkgoRunner(suite, ginkgo=tools["ginkgo"], gopath=f"{gopath}:/usr/share/gocode", env=env)


def outcomes(table: pd.DataFrame) -> dict[str, str]:
    return dict(zip(table["test_id"], table["outcome"]))


def test_whole_suite_serially_passes(runner: GinkgoRunner, tmp_path: Path) -> None:
    result = execute(runner, RunRequest(run_id="serial"), tmp_path / "w")
    got = outcomes(result.table)
    assert result.exit_code == 0, result.output_tail
    assert len(got) == 13 and set(got.values()) == {"passed", "skipped"}
    assert sorted(t for t, o in got.items() if o == "skipped") == [
        f"{SUITE}::Maintenance rebuilds indexes",  # Skip()
        f"{SUITE}::Maintenance vacuums the database",  # PIt
    ]
    assert (result.table["worker"] == "1").all() and (result.table["runner"] == "ginkgo").all()
    assert (result.table["run_id"] == "serial").all() and (result.table["mode"] == "serial").all()


def test_two_processes_record_workers_and_times(runner: GinkgoRunner, tmp_path: Path) -> None:
    request = RunRequest(run_id="p2", mode="parallel", workers=2)
    result = execute(runner, request, tmp_path / "w")
    assert result.argv[2:4] == ["--procs", "2"]
    table = result.table
    assert len(table) == 13  # the same specs as serially; the suite is polluted, so outcomes vary
    ran = table[table["outcome"] != "skipped"]
    assert set(ran["worker"]) <= {"1", "2"} and ran["start"].notna().all() and ran["stop"].notna().all()
    assert (ran["stop"] >= ran["start"]).all()
    assert (table["mode"] == "parallel").all()


def test_focus_with_regex_metacharacters_selects_exactly_one_spec(runner: GinkgoRunner, tmp_path: Path) -> None:
    result = execute(runner, RunRequest(run_id="meta", tests=[META_SPEC]), tmp_path / "w")
    assert outcomes(result.table) == {META_SPEC: "passed"}
    assert list(result.table["position"]) == [0] and list(result.table["seq"]) == [0]


def test_focused_probes_show_a_brittle_spec(runner: GinkgoRunner, tmp_path: Path) -> None:
    alone = execute(runner, RunRequest(run_id="alone", tests=[DUPLICATE]), tmp_path / "a")
    assert outcomes(alone.table) == {DUPLICATE: "failed"}
    assert "duplicate check needs account-42" in alone.table["message"][0]
    after = execute(runner, RunRequest(run_id="after", tests=[DUPLICATE, CREATES]), tmp_path / "b")
    assert outcomes(after.table) == {CREATES: "passed", DUPLICATE: "passed"}
    assert list(after.table.sort_values("position")["test_id"]) == [CREATES, DUPLICATE]  # definition order
