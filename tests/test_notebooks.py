"""The notebooks in notebooks/ run top to bottom without an error, and are
stored without outputs.

Each notebook is executed with nbclient in a fresh kernel of *this*
interpreter (the venv's python, which has ipykernel and the package), in an
empty temporary working directory, with a timeout per cell.  Together they
take about a minute: notebook 02 bisects only a few of the demo's victims.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = ["01-explore-runs.ipynb", "02-interference-graph.ipynb"]
KERNEL = "python3"
CELL_TIMEOUT = 300  # seconds; the slowest cell (notebook 02's diagnose) takes about 30 s
STARTUP_TIMEOUT = 120


@pytest.fixture
def kernel_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``python3`` kernel spec that starts this interpreter, first on
    JUPYTER_PATH so that no user-level or system spec of the same name wins,
    and Jupyter/IPython state kept out of the home directory."""
    home = tmp_path / "jupyter"
    spec_dir = home / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (pollution tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(home))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # debugpy's frozen-modules warning
    resolved = KernelSpecManager().get_kernel_spec(KERNEL)
    assert resolved.argv[0] == sys.executable, resolved.argv
    return home


def _load(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / name, as_version=nbformat.NO_CONVERT)


def test_every_notebook_is_tested() -> None:
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stored_without_outputs(name: str) -> None:
    nb = _load(name)
    assert nb.nbformat == 4
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == KERNEL
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code cell"
    for cell in code:
        assert cell.outputs == [], f"{name}: cell {cell.id} has stored outputs"
        assert cell.execution_count is None, f"{name}: cell {cell.id} has an execution count"
    for cell in nb.cells:
        assert "execution" not in cell.metadata, f"{name}: cell {cell.id} has execution metadata"
    assert any(c.cell_type == "markdown" for c in nb.cells)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name: str, kernel_home: Path, tmp_path: Path) -> None:
    nb = _load(name)
    # One extra cell, in memory only: which interpreter did the kernel run?
    nb.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.executable, end='')"))
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT,
        startup_timeout=STARTUP_TIMEOUT,
        allow_errors=False,  # the first failing cell raises CellExecutionError
        resources={"metadata": {"path": str(workdir)}},
    )
    started = time.monotonic()
    client.execute()
    elapsed = time.monotonic() - started
    print(f"{name}: {elapsed:.1f} s")

    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{name}: cell {cell.get('id')} raised {errors[0].ename}: {errors[0].evalue}"
    executable = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    assert executable == sys.executable
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert images >= 2, f"{name}: expected its plots, got {images} images"
    # The notebooks work in temporary directories of their own and clean them up.
    assert list(workdir.iterdir()) == []
