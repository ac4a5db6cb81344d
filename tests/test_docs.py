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
