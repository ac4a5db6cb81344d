"""Every command and option of the CLI is documented in the README (as sqlite-utils' tests/test_docs.py does)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from pipeline.cli import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "docqa") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found += _commands(command, path)
    return found


COMMANDS = _commands(cli)


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS])
def test_every_command_is_in_the_readme(path):
    # In inline code (`docqa index ...`) or at the start of a line of a code block.
    assert re.search(rf"(`|^){re.escape(path)}\b", README, re.MULTILINE), f"README.md never shows `{path}`"


@pytest.mark.parametrize(
    "path, option",
    [
        (path, option)
        for path, command in [("docqa", cli), *COMMANDS]
        for parameter in command.params
        if isinstance(parameter, click.Option)
        for option in parameter.opts
        if option.startswith("--")
    ],
)
def test_every_option_is_in_the_readme(path, option):
    assert option in README, f"README.md never mentions {option} of {path}"


def test_the_readme_points_a_fresh_clone_to_a_stand_in_it_has(tmp_path):
    # A fresh clone has no ../shared: the README's command for a stand-in model must run from the clone.
    import subprocess
    import sys

    assert "python ../shared/tools/make_standin_model.py" not in README
    [command] = re.findall(r'`(python -c "from tests\.models import build_model; [^`]+)`', README)
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(command.replace("MODEL_DIR", str(tmp_path / "model")), shell=True, cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "model" / "config.json").exists() and (tmp_path / "model" / "tokenizer.json").exists()
