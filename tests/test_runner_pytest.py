"""The pytest and command adapters and `pollution run`, with real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pollution
from pollution.cli import app
from pollution.errors import InputError, RunnerError
from pollution.runners import RunRequest, execute, get_runner, runner_from_options

ODD = ["a b", "q'\"", "x;y", "$(touch pwned)", "[z]", "ünï ☃", "`id`", "back\\slash", "-n 3", "--co", "*"]

ODD_SUITE = f"""
import pytest

@pytest.mark.parametrize("v", {ODD!r})
def test_odd(v):
    with open("seen.txt", "a", encoding="utf-8") as fh:
        fh.write(repr(v) + "\\n")
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, body in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(body), encoding="utf-8")
    return root


def test_odd_test_ids_arrive_intact_in_the_given_order(tmp_path: Path) -> None:
    root = write(tmp_path, {"test_odd.py": ODD_SUITE})
    runner = get_runner("pytest", path=root)
    in_order = get_runner("pytest", path=root, args=["-p", "no:randomly"])
    everything = execute(in_order, RunRequest(run_id="all"))
    ids = list(everything.table["test_id"])
    assert len(ids) == len(ODD)
    (root / "seen.txt").unlink()
    wanted = list(reversed(ids))[::2]
    probe = execute(runner, RunRequest(run_id="probe", tests=wanted))
    assert list(probe.table["test_id"]) == wanted
    seen = (root / "seen.txt").read_text(encoding="utf-8").splitlines()
    assert seen == [repr(v) for v in list(reversed(ODD))[::2]]
    assert not (root / "pwned").exists()


def test_parallel_run_records_workers(tmp_path: Path) -> None:
    root = write(tmp_path, {"test_p.py": "".join(f"def test_{i}(): pass\n" for i in range(6))})
    result = execute(get_runner("pytest", path=root), RunRequest(run_id="par", mode="parallel", workers=2))
    assert set(result.table["worker"]) == {"gw0", "gw1"}
    assert result.exit_code == 0 and result.table["mode"].eq("parallel").all()


def test_failing_tests_are_data_not_errors(tmp_path: Path) -> None:
    root = write(tmp_path, {"test_f.py": "def test_bad(): assert False\ndef test_ok(): pass\n"})
    result = execute(get_runner("pytest", path=root), RunRequest(run_id="r"))
    assert result.exit_code == 1
    assert dict(zip(result.table["test_id"], result.table["outcome"])) == {
        "test_f.py::test_bad": "failed", "test_f.py::test_ok": "passed"}


def _alive(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline:
                pids.append(int(entry.name))
    return pids


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = f"pollution-orphan-{os.getpid()}-{time.time_ns()}"
    root = write(
        tmp_path,
        {
            "test_hang.py": f"""
                import subprocess, sys, time

                def test_hang():
                    # A grandchild that would outlive a naive kill of pytest alone.
                    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "{marker}"])
                    time.sleep(120)
            """
        },
    )
    started = time.monotonic()
    with pytest.raises(RunnerError, match="timed out"):
        execute(get_runner("pytest", path=root), RunRequest(run_id="hang", timeout=3))
    assert time.monotonic() - started < 30
    deadline = time.monotonic() + 5
    while _alive(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _alive(marker) == []


def test_env_template_expands_probe(tmp_path: Path) -> None:
    root = write(tmp_path, {"test_e.py": "import os\ndef test_e():\n    open('db.txt','w').write(os.environ['DB'])\n"})
    execute(get_runner("pytest", path=root), RunRequest(run_id="probe 7", env={"DB": "db_{probe}"}))
    assert (root / "db.txt").read_text() == "db_probe_7"


def test_runner_that_cannot_start_is_a_runner_error(tmp_path: Path) -> None:
    runner = get_runner("pytest", path=tmp_path, python=str(tmp_path / "no-python"))
    with pytest.raises(RunnerError, match="no such program"):
        execute(runner, RunRequest(run_id="x"))


def test_runner_that_writes_no_report_is_a_runner_error(tmp_path: Path) -> None:
    runner = get_runner("command", template=[sys.executable, "-c", "print('hello')", "{junit}"], cwd=tmp_path)
    with pytest.raises(RunnerError, match="without writing its report"):
        execute(runner, RunRequest(run_id="x"))


def test_command_runner_expands_tests_as_separate_arguments(tmp_path: Path) -> None:
    script = tmp_path / "fake_runner.py"
    script.write_text(textwrap.dedent("""
        import sys
        from xml.sax.saxutils import quoteattr
        junit, workers, *tests = sys.argv[1:]
        cases = "".join(f'<testcase classname="c" name={quoteattr(t)} time="0.1"/>' for t in tests)
        open(junit, "w", encoding="utf-8").write(f'<testsuite name="s" tests="{len(tests)}">{cases}</testsuite>')
    """))
    runner = get_runner("command", template=f"{sys.executable} {script} {{junit}} {{workers}} {{tests}}", cwd=tmp_path)
    tests = ["a b", "$(id)", "ü;x"]
    result = execute(runner, RunRequest(run_id="c", tests=tests, workers=3))
    assert list(result.table["name"]) == tests
    assert result.argv[-3:] == tests and result.argv[-4] == "3"


def test_command_runner_requires_a_junit_placeholder() -> None:
    with pytest.raises(InputError, match="junit"):
        runner_from_options("command", command="make test")


def test_unknown_runner() -> None:
    with pytest.raises(InputError, match="unknown runner"):
        runner_from_options("nose")


POLLUTED = {
    "test_state.py": """
        import os, time
        STATE = os.path.join(os.environ["STATE_DIR"], "flag")

        def test_victim():
            time.sleep(0.2)
            assert not os.path.exists(STATE), "left behind by test_polluter"

        def test_isolated_1(): time.sleep(0.05)
        def test_isolated_2(): time.sleep(0.05)

        def test_polluter():
            time.sleep(0.05)
            open(STATE, "w").close()
    """,
    "conftest.py": """
        import os, pytest

        def pytest_sessionstart(session):
            if not os.environ.get("PYTEST_XDIST_WORKER"):
                try:
                    os.remove(os.path.join(os.environ["STATE_DIR"], "flag"))
                except FileNotFoundError:
                    pass
    """,
}


def test_pollution_run_then_diff_shows_the_victim(tmp_path: Path) -> None:
    root = write(tmp_path / "suite", POLLUTED)
    out = tmp_path / "artifacts"
    cli = CliRunner()
    result = cli.invoke(
        app,
        ["run", "--runner", "pytest", "--path", str(root), "--serial", "1", "--parallel", "2", "--workers", "2",
         "--out", str(out), "--env", f"STATE_DIR={tmp_path}", "--runner-arg=-p", "--runner-arg=no:randomly"],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["mode"] for r in manifest["runs"]] == ["serial", "parallel", "parallel"]
    assert all(r["argv"][:3][1:] == ["-m", "pytest"] for r in manifest["runs"])
    assert manifest["runs"][0]["env"] == {"STATE_DIR": str(tmp_path)}
    assert manifest["runs"][1]["workers"] == 2
    table = pollution.load_junit(out)
    assert set(table["mode"]) == {"serial", "parallel"}
    diff = pollution.diff_table(table)
    categories = dict(zip(diff["test_id"], diff["category"]))
    assert categories["test_state.py::test_polluter"] == "pass"
    # With two workers and a 0.2 s victim, the polluter runs first on the other
    # worker in practice; the victim must not be classified as anything else.
    assert categories["test_state.py::test_victim"] in ("parallel-only", "pass")
    shown = cli.invoke(app, ["diff", str(out), "--json", str(tmp_path / "d.json")])
    assert shown.exit_code == 0, shown.output
    assert json.loads((tmp_path / "d.json").read_text())["serial_runs"] == [f"{_rel(out)}/serial-1"]


def _rel(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def test_relative_out_directory_keeps_the_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # pytest runs inside --path: report paths handed to it must not be relative to our cwd.
    root = write(tmp_path / "suite", {"test_r.py": "def test_r(): pass\n"})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["run", "--path", str(root), "--serial", "1", "--parallel", "0", "--out", "artifacts", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "artifacts" / "serial-1" / "junit.xml").is_file()
    assert not (root / "artifacts").exists()


def test_unknown_test_id_is_a_runner_error_not_a_silent_empty_run(tmp_path: Path) -> None:
    root = write(tmp_path, {"test_x.py": "def test_x(): pass\n"})
    with pytest.raises(RunnerError, match="status 4"):
        execute(get_runner("pytest", path=root), RunRequest(run_id="r", tests=["test_x.py::test_nope"]))


def test_dir_of_the_package_imports_nothing(tmp_path: Path) -> None:
    code = "import sys, pollution; [getattr(pollution, n) for n in dir(pollution)]; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
