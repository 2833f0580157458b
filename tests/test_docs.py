"""The docs and the CLI agree: every command has help and a README mention,
and every ``pollution ...`` line the README shows uses options that exist."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from pollution.cli import app

README = Path(__file__).resolve().parent.parent / "README.md"


def walk(command: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every leaf command of the app with its path of names (groups included)."""
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        if getattr(sub, "hidden", False):
            continue
        path = (*prefix, name)
        if getattr(sub, "commands", None):
            yield path, sub
            yield from walk(sub, path)
        else:
            yield path, sub


ROOT_COMMAND = typer.main.get_command(app)
COMMANDS = dict(walk(ROOT_COMMAND))
IDS = [" ".join(p) for p in COMMANDS]


def readme_text() -> str:
    if not README.is_file():
        pytest.fail(f"README.md is missing at {README}; it must document the commands: {', '.join(IDS)}")
    return README.read_text(encoding="utf-8")


def test_there_are_commands() -> None:
    assert {"diff", "ingest"} <= {p[0] for p in COMMANDS}


@pytest.mark.parametrize("path", list(COMMANDS), ids=IDS)
def test_command_has_help(path: tuple[str, ...]) -> None:
    command = COMMANDS[path]
    assert (command.help or "").strip(), f"`pollution {' '.join(path)}` has no docstring/help"


@pytest.mark.parametrize("path", list(COMMANDS), ids=IDS)
def test_every_option_has_help(path: tuple[str, ...]) -> None:
    command = COMMANDS[path]
    undocumented = [
        p.name for p in command.params if not (getattr(p, "help", None) or "").strip() and p.name != "help"
    ]
    assert not undocumented, f"`pollution {' '.join(path)}`: no help for {undocumented}"


@pytest.mark.parametrize("path", list(COMMANDS), ids=IDS)
def test_command_is_in_readme(path: tuple[str, ...]) -> None:
    text = readme_text()
    mention = "pollution " + " ".join(path)
    assert re.search(rf"{re.escape(mention)}(?![\w-])", text), f"README.md never mentions `{mention}`"


def shell_lines(text: str) -> Iterator[str]:
    """Lines of the README's shell code blocks (```bash, ```sh, ```console, bare ```)."""
    fence: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else stripped[3:].strip()
            continue
        if fence in ("", "bash", "sh", "shell", "console"):
            yield stripped.removeprefix("$ ")


def readme_invocations() -> list[list[str]]:
    """Argument lists of the ``pollution ...`` commands in the README's code blocks."""
    if not README.is_file():
        return []
    found = []
    for line in shell_lines(README.read_text(encoding="utf-8")):
        for part in re.split(r"\s(?:&&|\|\||;|\|)\s", line):
            words = shlex.split(part, comments=True)
            for i, word in enumerate(words):
                if word == "pollution" or word.endswith("/pollution"):
                    found.append(words[i + 1:])
                    break
    return found


def options_of(command: Any) -> set[str]:
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)} | {"--help"}


@pytest.mark.parametrize("argv", readme_invocations(), ids=lambda a: " ".join(a)[:60])
def test_readme_commands_use_real_options(argv: list[str]) -> None:
    command, rest = ROOT_COMMAND, list(argv)
    names: list[str] = []
    while rest and getattr(command, "commands", None) and not rest[0].startswith("-"):
        name = rest.pop(0)
        assert name in command.commands, f"README runs `pollution {' '.join(argv)}`: no command {name!r}"
        command = command.commands[name]
        names.append(name)
    known = options_of(command)
    used = {word.split("=", 1)[0] for word in rest if word.startswith("-") and word != "-"}
    assert used <= known, f"`pollution {' '.join(argv)}` uses {sorted(used - known)}, not options of it"


def runnable(argv: list[str]) -> bool:
    """A README command whose every path argument exists in the repository."""
    root = README.parent
    values = [w for w in argv[1:] if not w.startswith("-")]
    return bool(values) and all((root / v).exists() for v in values if not v.endswith((".json", ".parquet")))


@pytest.mark.parametrize(
    "argv", [a for a in readme_invocations() if a and a[0] == "diff" and runnable(a)], ids=lambda a: " ".join(a)[:60]
)
def test_readme_diff_examples_run(argv: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    monkeypatch.chdir(README.parent)
    argv = [str(tmp_path / Path(w).name) if w.endswith((".json", ".parquet")) else w for w in argv]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code in (0, 1), result.output
    assert "parallel run(s)" in result.stdout
