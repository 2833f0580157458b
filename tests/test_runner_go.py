"""GoTestRunner: -run built from test ids, results from -json, against a real `go`."""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from pollution.errors import InputError, RunnerError
from pollution.runners import RunRequest, execute, get_runner
from pollution.runners.base import KILL_GRACE
from pollution.runners.gotest import (
    GoTestRunner,
    quote_meta,
    run_pattern,
    selections,
    split_test_id,
)

FIXTURE = Path(__file__).parent / "fixtures" / "gotest" / "src" / "plaingo"
GO_ROOT_BIN = Path("/usr/lib/go-1.22/bin")
OFFLINE = {"GOPROXY": "off", "GOFLAGS": "", "GOTOOLCHAIN": "local"}

POLLUTER = "plaingo::TestRegisterAdmin"
VICTIM = "plaingo::TestRegistryStartsEmpty"
META = "plaingo::TestMeta/a+b_(c)|[d]"  # t.Run("a+b (c)|[d]"): go writes spaces as _

META_TEST = """package plaingo

import "testing"

func TestMeta(t *testing.T) {
	for _, name := range []string{"a+b (c)|[d]", "a+b", "a", "x/y", "x", `back\\slash`, "#-&~.*"} {
		t.Run(name, func(t *testing.T) {})
	}
}
"""

SLEEPY_TEST = """package {name}

import (
	"testing"
	"time"
)

func TestQuick(t *testing.T) {{}}

func TestSleep(t *testing.T) {{
	time.Sleep(60 * time.Second)
}}
"""

OTHER_TEST = """package plaintwo

import "testing"

func TestOne(t *testing.T) {}

func TestTwo(t *testing.T) {}
"""


# --------------------------------------------------------------------------
# Pure helpers


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("TestA", "TestA"),
        ("a+b_(c)|[d]", r"a\+b_\(c\)\|\[d\]"),
        (r"back\slash", r"back\\slash"),
        ("^x.y*z?$", r"\^x\.y\*z\?\$"),
        ("{1,2}", r"\{1,2\}"),
        ("#-&~ ü", "#-&~ ü"),  # not metacharacters for RE2: left alone, like Go's QuoteMeta
    ],
)
def test_quote_meta_is_gos(text: str, quoted: str) -> None:
    assert quote_meta(text) == quoted


@pytest.mark.parametrize(
    ("names", "pattern"),
    [
        ([], "^$"),
        (["TestA"], "^TestA$"),
        (["TestA", "TestB"], "^TestA$|^TestB$"),
        (["TestA/sub"], "^TestA$/^sub$"),
        (["TestA/x/y"], "^TestA$/^x$/^y$"),
        (["TestMeta/a+b_(c)|[d]"], r"^TestMeta$/^a\+b_\(c\)\|\[d\]$"),
    ],
)
def test_run_pattern(names: list[str], pattern: str) -> None:
    assert run_pattern(names) == pattern


def test_selections_group_packages_with_the_same_tests() -> None:
    assert selections(["a::TestX", "b::TestX", "a::TestX", "c::TestY/z"], ["./..."]) == [
        (["a", "b"], "^TestX$"),
        (["c"], "^TestY$/^z$"),
    ]
    assert selections(["TestBare"], ["./x/...", "./y"]) == [(["./x/...", "./y"], "^TestBare$")]
    assert selections([], ["./..."]) == [(["./..."], "^$")]


@pytest.mark.parametrize("bad", ["plaingo::", "plaingo::/sub", ""])
def test_malformed_ids_are_refused(bad: str) -> None:
    with pytest.raises(InputError, match="expected <package import path>::<TestName"):
        split_test_id(bad)


def test_argv_and_environment(tmp_path: Path) -> None:
    runner = GoTestRunner(packages=["./..."], cwd=tmp_path, go="/opt/go/bin/go", gopath="/gp", env={"A": "1"})
    request = RunRequest(run_id="probe 7", tests=[VICTIM, POLLUTER], workers=4, env={"DB": "db_{probe}"},
                         extra_args=["-v"])
    inv = runner.prepare(request, tmp_path)
    assert inv.argv[:3] == [sys.executable, "-m", "pollution.runners.gotest"]
    cut = inv.argv.index("--")
    assert inv.argv[cut + 1:] == [
        "/opt/go/bin/go", "test", "-json", "-count=1", "-p", "4", "-parallel", "4",
        "-run", "^TestRegistryStartsEmpty$|^TestRegisterAdmin$", "plaingo", "-v",
    ]
    python_path = inv.env.pop("PYTHONPATH").split(os.pathsep)
    assert python_path[0] == str(Path(__file__).resolve().parents[1])  # the tee imports pollution from anywhere
    assert inv.env == {"A": "1", "GOPATH": "/gp", "GO111MODULE": "off", "DB": "db_probe_7"}
    assert inv.cwd == tmp_path and inv.reports == [tmp_path.resolve() / "go-test.json"]
    whole = runner.prepare(RunRequest(run_id="r"), tmp_path).argv
    assert whole[whole.index("--") + 1:][-2:] == ["1", "./..."] and "-run" not in whole


def test_worker_placeholder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"go has no worker ids"):
        GoTestRunner().prepare(RunRequest(run_id="r", env={"DB": "db_{worker}"}), tmp_path)


def test_a_pattern_too_long_for_one_argument_is_refused(tmp_path: Path) -> None:
    tests = [f"p::Test{'x' * 100}{i}" for i in range(2000)]
    with pytest.raises(InputError, match="probe fewer tests"):
        GoTestRunner().prepare(RunRequest(run_id="r", tests=tests), tmp_path)


def test_chosen_by_name() -> None:
    runner = get_runner("go", packages=["plaingo"])
    assert isinstance(runner, GoTestRunner) and runner.name == "go"
    assert GoTestRunner(packages="plaingo").packages == ["plaingo"]  # a str is a Sequence[str] too


def test_missing_go_is_a_runner_error(tmp_path: Path) -> None:
    runner = GoTestRunner(packages=["x"], go=str(tmp_path / "no-such-go"))
    with pytest.raises(RunnerError, match="no-such-go"):
        execute(runner, RunRequest(run_id="r"), tmp_path / "work")


# --------------------------------------------------------------------------
# Real go


@pytest.fixture(scope="module")
def go() -> str:
    found = shutil.which("go") or (str(GO_ROOT_BIN / "go") if (GO_ROOT_BIN / "go").exists() else None)
    if found is None:
        pytest.skip("go is not installed: run scripts/install-go.sh")
    return found


@pytest.fixture
def gopath(tmp_path: Path) -> Path:
    root = tmp_path / "gopath"
    shutil.copytree(FIXTURE, root / "src" / "plaingo")
    (root / "src" / "plaingo" / "meta_test.go").write_text(META_TEST)
    (root / "src" / "plaintwo").mkdir()
    (root / "src" / "plaintwo" / "two_test.go").write_text(OTHER_TEST)
    return root


def make_runner(go: str, gopath: Path, packages: list[str] | None = None) -> GoTestRunner:
    return GoTestRunner(packages=packages or ["plaingo"], cwd=gopath, go=go,
                        gopath=f"{gopath}:/usr/share/gocode", env=OFFLINE)


def outcomes(table: pd.DataFrame) -> dict[str, str]:
    return dict(zip(table["test_id"], table["outcome"]))


def test_whole_package_serially(go: str, gopath: Path, tmp_path: Path) -> None:
    result = execute(make_runner(go, gopath), RunRequest(run_id="serial"), tmp_path / "w")
    got = outcomes(result.table)
    # source order puts the polluter right before its victim: the one failure
    assert [t for t, o in got.items() if o == "failed"] == [VICTIM]
    assert got["plaingo::TestNeedsDocker"] == "skipped"
    assert {t for t, o in got.items() if o == "passed"} >= {POLLUTER, "plaingo::TestSlug/simple", META}
    assert result.exit_code == 1 and not result.timed_out
    assert result.table["start"].notna().all() and result.table["worker"].isna().all()
    assert "--- FAIL: TestRegistryStartsEmpty" in result.output_tail  # the tee shows go's text


def test_polluter_then_victim_fails_and_victim_alone_passes(go: str, gopath: Path, tmp_path: Path) -> None:
    runner = make_runner(go, gopath)
    pair = execute(runner, RunRequest(run_id="pair", tests=[POLLUTER, VICTIM]), tmp_path / "a")
    assert outcomes(pair.table) == {POLLUTER: "passed", VICTIM: "failed"}
    # go runs source order whatever the request's order
    assert list(pair.table.sort_values("position")["test_id"]) == [POLLUTER, VICTIM]
    alone = execute(runner, RunRequest(run_id="alone", tests=[VICTIM]), tmp_path / "b")
    assert outcomes(alone.table) == {VICTIM: "passed"} and alone.exit_code == 0


def test_subtest_with_regex_metacharacters_is_selected_exactly(go: str, gopath: Path, tmp_path: Path) -> None:
    tests = [META, "plaingo::TestMeta/x/y", r"plaingo::TestMeta/back\slash", "plaingo::TestMeta/#-&~.*"]
    result = execute(make_runner(go, gopath), RunRequest(run_id="meta", tests=tests), tmp_path / "w")
    got = outcomes(result.table)
    # The parent's body runs too (it calls t.Run), and go matches level by
    # level, so t.Run("x") runs as a prefix of t.Run("x/y") ("TestMeta/x/y").
    # No other subtest runs: not "a+b" nor "a", which an unquoted or
    # unanchored pattern would pick.
    prefixes = {"plaingo::TestMeta": "passed", "plaingo::TestMeta/x": "passed"}
    assert got == {**prefixes, **{t: "passed" for t in tests}}


def test_packages_with_different_selections(go: str, gopath: Path, tmp_path: Path) -> None:
    runner = make_runner(go, gopath)
    request = RunRequest(run_id="two", tests=[POLLUTER, "plaintwo::TestTwo"], workers=2)
    inv = runner.prepare(request, tmp_path / "x")
    assert inv.argv.count("--command") == 2  # one -run per go test command
    result = execute(runner, request, tmp_path / "w")
    assert outcomes(result.table) == {POLLUTER: "passed", "plaintwo::TestTwo": "passed"}


def test_timeout_kills_the_process_group(go: str, gopath: Path, tmp_path: Path) -> None:
    name = f"pollutionsleepy{uuid.uuid4().hex[:8]}"
    (gopath / "src" / name).mkdir()
    (gopath / "src" / name / "sleepy_test.go").write_text(SLEEPY_TEST.format(name=name))
    runner = make_runner(go, gopath, [name])
    # build once, so the timeout below measures the test and not the compiler
    execute(runner, RunRequest(run_id="warm", tests=[]), tmp_path / "warm")
    began = time.monotonic()
    result = execute(runner, RunRequest(run_id="slow", timeout=3), tmp_path / "w")
    assert time.monotonic() - began < 3 + KILL_GRACE
    assert result.timed_out and result.exit_code is None
    got = outcomes(result.table)
    assert got[f"{name}::TestQuick"] == "passed" and got[f"{name}::TestSleep"] == "error"
    assert processes_mentioning(name.encode()) == [], "a process of the killed run survived"


def processes_mentioning(marker: bytes, wait: float = 3.0) -> list[int]:
    """Live processes whose command line holds ``marker`` (a /proc scan)."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
