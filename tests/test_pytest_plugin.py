"""The bundled pytest plugin, in real pytest processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pollution


def write_suite(root: Path, files: dict[str, str]) -> Path:
    for name, body in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(body))
    return root


def pytest_run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=root, capture_output=True, text=True, timeout=180,
    )


ORDERED = {
    "test_one.py": """
        import os
        LOG = os.environ["ORDER_LOG"]

        def _log(name):
            with open(LOG, "a") as fh:
                fh.write(name + "\\n")

        def test_a(): _log("test_one.py::test_a")
        def test_b(): _log("test_one.py::test_b")
        def test_c(): _log("test_one.py::test_c")
    """,
    "test_two.py": """
        from test_one import _log

        def test_d(): _log("test_two.py::test_d")
        def test_e(): _log("test_two.py::test_e")
    """,
}


@pytest.mark.parametrize("seed", ["1", "2", "3"])
def test_forced_order_wins_over_pytest_randomly_and_file_grouping(tmp_path: Path, seed: str) -> None:
    pytest.importorskip("pytest_randomly")
    root = write_suite(tmp_path, ORDERED)
    wanted = ["test_two.py::test_e", "test_one.py::test_c", "test_two.py::test_d", "test_one.py::test_a"]
    order = tmp_path / "order.txt"
    order.write_text("\n".join(wanted) + "\n")
    log = tmp_path / "log.txt"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
         f"--randomly-seed={seed}", f"--pollution-order={order}", "test_one.py", "test_two.py"],
        cwd=root, capture_output=True, text=True, timeout=120, env={**_env(), "ORDER_LOG": str(log)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert log.read_text().split() == wanted  # test_b is deselected
    assert "1 deselected" in result.stdout


def test_order_file_naming_an_uncollected_test_is_a_usage_error(tmp_path: Path) -> None:
    root = write_suite(tmp_path, ORDERED)
    order = tmp_path / "order.txt"
    order.write_text("test_one.py::test_nope\n")
    result = pytest_run(root, f"--pollution-order={order}", "test_one.py")
    assert result.returncode == 4
    assert "test_one.py::test_nope" in result.stderr


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_properties_serial_and_xdist(tmp_path: Path) -> None:
    root = write_suite(
        tmp_path,
        {"test_t.py": "import time\n" + "".join(f"def test_{i}(): time.sleep(0.01)\n" for i in range(8))},
    )
    pytest_run(root, "--pollution", "--junitxml=serial.xml", "-n", "0")
    pytest_run(root, "--pollution", "--junitxml=par.xml", "-n", "2")
    serial = pollution.load_junit(root / "serial.xml")
    par = pollution.load_junit(root / "par.xml")
    assert list(serial["worker"].unique()) == ["main"]
    assert list(serial.sort_values("start")["position"]) == list(range(8))
    assert (serial["stop"] >= serial["start"]).all()
    assert (serial["stop"] - serial["start"] >= 0.01).all()
    assert set(par["worker"]) == {"gw0", "gw1"}
    for _, group in par.groupby("worker"):
        ordered = group.sort_values("position")
        assert list(ordered["position"]) == list(range(len(group)))
        assert ordered["start"].is_monotonic_increasing
    assert set(par["test_id"]) == set(serial["test_id"]) == {f"test_t.py::test_{i}" for i in range(8)}


def test_disabled_plugin_adds_nothing(tmp_path: Path) -> None:
    root = write_suite(tmp_path, {"test_t.py": "def test_x(): pass\n"})
    pytest_run(root, "--junitxml=plain.xml")
    text = (root / "plain.xml").read_text()
    assert "<properties>" not in text and "position" not in text


def test_loading_the_plugin_imports_only_the_standard_library(tmp_path: Path) -> None:
    # A suite may assert which modules are (not) imported; and every probe pays
    # the plugin's start-up.  Compare sys.modules with and without the plugin.
    root = write_suite(
        tmp_path,
        {
            "conftest.py": "",
            "test_mods.py": """
                import json, os, sys

                def test_dump():
                    with open(os.environ["MODS_OUT"], "w") as fh:
                        json.dump(sorted(sys.modules), fh)
            """,
        },
    )
    env = _env()
    with_plugin = tmp_path / "with.json"
    without = tmp_path / "without.json"
    a = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist", "--pollution", "test_mods.py"],
        cwd=root, env={**env, "MODS_OUT": str(with_plugin)}, capture_output=True, text=True, timeout=120,
    )
    b = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist", "-p", "no:pollution", "test_mods.py"],
        cwd=root, env={**env, "MODS_OUT": str(without)}, capture_output=True, text=True, timeout=120,
    )
    assert a.returncode == 0 and b.returncode == 0, a.stdout + b.stdout
    added = set(json.loads(with_plugin.read_text())) - set(json.loads(without.read_text()))
    added = {m for m in added if not m.startswith("pollution")}
    stdlib = set(sys.stdlib_module_names)
    foreign = {m for m in added if m.split(".")[0] not in stdlib}
    assert not foreign, f"the plugin imported non-stdlib modules: {sorted(foreign)}"
    for heavy in ("pandas", "numpy", "matplotlib", "lxml", "networkx", "typer", "rich"):
        assert heavy not in json.loads(with_plugin.read_text())
    loaded = set(json.loads(with_plugin.read_text()))
    assert {m for m in loaded if m.startswith("pollution")} <= {"pollution", "pollution.pytest_plugin"}


def test_worker_env_template_is_expanded_per_worker(tmp_path: Path) -> None:
    root = write_suite(
        tmp_path,
        {"test_env.py": "import os\n" + "".join(
            f"def test_{i}():\n    open(os.environ['OUT_DIR'] + '/' + os.environ['PYTEST_XDIST_WORKER'], 'w').write(os.environ['DB'])\n"
            for i in range(6)
        )},
    )
    env = {**_env(), "OUT_DIR": str(tmp_path), "POLLUTION_ENV_TEMPLATE": json.dumps({"DB": "db_{worker}"})}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "test_env.py"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout
    assert (tmp_path / "gw0").read_text() == "db_gw0"
    assert (tmp_path / "gw1").read_text() == "db_gw1"
