"""Start-up: what can fail without the model fails before it loads; a project's docqa.yaml; the interactive prompt."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import importlib

import pipeline.reader.reader
from pipeline.cli import cli

# The module, not the function `main` that pipeline.cli exports under the same name.
cli_main = importlib.import_module("pipeline.cli.main")

REPO = Path(__file__).resolve().parents[1]


def modules_after(cwd: Path, *args: str) -> tuple[int, str, list[str]]:
    """Run docqa in a fresh interpreter; its exit code, stderr, and which of torch and haystack it imported."""
    code = (
        "import sys; from click.testing import CliRunner; from pipeline.cli import cli; "
        f"r = CliRunner().invoke(cli, {list(args)!r}); "
        "print(r.exit_code); print(r.stderr, end='', file=sys.stderr); "
        "print(' '.join(m for m in ('torch', 'haystack') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env={"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"})
    lines = out.stdout.splitlines()
    return int(lines[0]), out.stderr, lines[1].split() if len(lines) > 1 else []


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_model):
    """A project folder: a docqa.yaml naming the tiny model, the examples indexed from a subfolder."""
    root = tmp_path_factory.mktemp("project")
    (root / "docqa.yaml").write_text(f"reader:\n  model: {tiny_model}\n", encoding="utf-8")
    (root / "notes" / "deep").mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "index", str(REPO / "examples"), "--workers", "0"],
        cwd=root / "notes", capture_output=True, text=True, env={"PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    return root


def test_a_projects_docqa_yaml_and_database_are_found_from_its_subfolders(project):
    assert (project / "docqa.db").exists() and not (project / "notes" / "docqa.db").exists()
    code, stderr, _ = modules_after(project / "notes" / "deep", "stats", "--json")
    assert code == 0, stderr
    shown = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "config"], cwd=project / "notes", capture_output=True, text=True, env={"PYTHONPATH": str(REPO)}
    )
    assert f"store:\n  path: {project / 'docqa.db'}\n" in shown.stdout


@pytest.mark.parametrize("case", ["no database", "empty database", "no model folder"])
def test_ask_refuses_before_importing_haystack_or_torch(tmp_path, case):
    db = tmp_path / "i.db"
    args = ["ask", "Who built the railway?", "--db", str(db)]
    if case == "empty database":
        (tmp_path / "empty").mkdir()
        assert CliRunner().invoke(cli, ["index", str(tmp_path / "empty"), "--db", str(db)]).exit_code == 0
    if case == "no model folder":
        assert CliRunner().invoke(cli, ["index", str(REPO / "examples"), "--db", str(db), "--workers", "0"]).exit_code == 0
        (tmp_path / "c.yaml").write_text("reader:\n  model: ./no-model\n", encoding="utf-8")
        args += ["--config", str(tmp_path / "c.yaml")]
    code, stderr, imported = modules_after(tmp_path, *args)
    assert code == 1 and imported == []
    expected = {
        "no database": f"Error: no database at {db}: run `docqa index PATH` first (or pass --db)\n",
        "empty database": f"Error: the database {db} holds no passages: run `docqa index PATH` first\n",
        "no model folder": f"Error: reader model {str(tmp_path / 'no-model')!r}: no such folder: set reader.model to a folder holding the model\n",
    }
    assert stderr == expected[case]


def test_ask_without_a_question_on_a_terminal_asks_interactively(project, monkeypatch):
    monkeypatch.chdir(project)
    monkeypatch.setattr(cli_main, "_on_a_terminal", lambda: True)
    loads = []
    real_load = pipeline.reader.reader.load
    monkeypatch.setattr(pipeline.reader.reader, "load", lambda *a: loads.append(a) or real_load(*a))
    result = CliRunner().invoke(cli, ["ask", "--json"], input="Who built the railway?\n\n" + "x" * 1001 + "\nWhat is Kestrel?\n")
    assert result.exit_code == 0, result.output
    assert len(loads) == 1  # one model for every question
    answers = [json.loads(block) for block in result.stdout.replace("question> ", "").split("\n\n") if block.strip()]
    assert [a["question"] for a in answers] == ["Who built the railway?", "What is Kestrel?"]
    assert result.stderr.split("\n") == [
        "loading the reader model...",
        "Ask a question about the indexed files (Ctrl-D to quit).",
        "Error: the question is 1001 characters long, more than 1000",
        "",
        "",
    ]


def test_ask_without_a_question_off_a_terminal_reads_stdin(project, monkeypatch):
    monkeypatch.chdir(project)
    result = CliRunner().invoke(cli, ["ask", "--json"], input="Who built the railway?\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["question"] == "Who built the railway?"
    nothing = CliRunner().invoke(cli, ["ask"], input="\n  \n")
    assert nothing.exit_code == 2 and "no question: give a QUESTION, --batch FILE, or questions on stdin, one a line" in nothing.stderr
