from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.qa import QA
from pipeline.config import load_config

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, tiny_model):
    """The shipped examples indexed, and a config file pointing the reader at the tiny model.

    Its weights are random, so its answers are noise that a calibrated ask.min_score refuses;
    these tests check the plumbing, so they always answer (min_score 0).
    """
    folder = tmp_path_factory.mktemp("ask")
    db = folder / "index.db"
    config = folder / "docqa.yaml"
    config.write_text(f"store:\n  path: {db}\nreader:\n  model: {tiny_model}\nask:\n  min_score: 0.0\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["index", str(EXAMPLES), "--config", str(config), "--workers", "0"])
    assert result.exit_code == 0, result.output
    return config


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_ask_json(indexed):
    result = run("ask", "Who built the Northport Harbor Railway?", "--config", str(indexed), "--json", "--top-k", "3")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"question", "found", "answers", "seconds"}
    assert data["question"] == "Who built the Northport Harbor Railway?" and data["found"] is True
    assert 1 <= len(data["answers"]) <= 3
    qa = QA(load_config(indexed))
    passages = {d.id: d for d in qa.store.filter_documents()}
    for a in data["answers"]:
        assert {"answer", "score", "probability", "file", "page", "passage_id", "start", "end", "context", "sources"} <= set(a)
        text = passages[a["passage_id"]].content
        assert text[a["start"] : a["end"]] == a["answer"]
        assert a["answer"] in a["context"] and a["file"].startswith(str(EXAMPLES))
    assert [a["score"] for a in data["answers"]] == sorted((a["score"] for a in data["answers"]), reverse=True)


def test_ask_readable_output_is_plain_when_piped(indexed):
    result = run("ask", "When did the railway close?", "--config", str(indexed), "--top-k", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("1. ") and "   score " in lines[0]
    assert "\x1b[" not in result.stdout  # no ANSI styling when stdout is not a terminal
    assert any(line.strip().startswith("examples/") or "/examples/" in line for line in lines)


def test_file_filter(indexed):
    result = run("ask", "What grind does espresso need?", "--config", str(indexed), "--json", "--file", "*.txt")
    answers = json.loads(result.stdout)["answers"]
    assert answers and all(a["file"].endswith("coffee-brewing.txt") for a in answers)


def test_python_api_and_haystack_pipeline_agree(indexed):
    qa = QA.from_config(indexed)
    question = "What is the tallest volcano?"
    direct = qa.ask(question)  # ask.top_k = 5: the reader is asked for 4 * 5 + 10 candidates
    piped = qa.haystack_pipeline().run(
        {"retriever": {"query": question}, "reader": {"query": question, "top_k": 4 * 5 + 10}, "ranker": {"query": question}}
    )["ranker"]["ranking"]
    assert [(a.text, a.best.passage_id) for a in piped.answers] == [(a.text, a.best.passage_id) for a in direct.answers]
    assert qa.ask_batch([question, "Who found Neptune?"])[0].answers[0].text == direct.answers[0].text


def test_batch_writes_jsonl_in_order_with_errors(indexed, tmp_path):
    batch = tmp_path / "questions.txt"
    batch.write_text(
        "When did the railway close?\n"
        '{"id": "q-2", "question": "What is Kestrel?"}\n'
        "\n"
        "{not json\n"
        '{"id": "q-5", "question": "   "}\n'
        "Who saw Neptune first?\n",
        encoding="utf-8",
    )
    out = tmp_path / "answers.jsonl"
    result = run("ask", "--batch", str(batch), "--out", str(out), "--config", str(indexed))
    assert result.exit_code == 1  # two lines could not be asked
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["1", "q-2", "4", "q-5", "6"]
    assert [r["question"] for r in rows] == ["When did the railway close?", "What is Kestrel?", "", "   ", "Who saw Neptune first?"]
    assert rows[2]["error"] == "line 4 is not valid JSON: Expecting property name enclosed in double quotes"
    assert rows[3]["error"].startswith("the question is empty")
    assert all(r["answers"] for r in (rows[0], rows[1], rows[4]))
    assert "5 questions (2 failed) in " in result.stderr and " questions/s" in result.stderr


def test_batch_all_good_exits_0(indexed, tmp_path):
    batch = tmp_path / "q.txt"
    batch.write_text("Who built the railway?\nWhat is Saturn made of?\n", encoding="utf-8")
    result = run("ask", "--batch", str(batch), "--config", str(indexed))
    assert result.exit_code == 0
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["1", "2"]


def test_usage_errors(indexed, tmp_path):
    empty = run("ask", "   ", "--config", str(indexed))
    assert empty.exit_code == 2 and "the question is empty" in empty.stderr
    neither = run("ask", "--config", str(indexed))
    assert neither.exit_code == 2 and "give either a QUESTION or --batch FILE" in neither.stderr
    out_alone = run("ask", "q?", "--out", "x.jsonl", "--config", str(indexed))
    assert out_alone.exit_code == 2 and "--out goes with --batch" in out_alone.stderr


def test_missing_and_empty_database(tmp_path, tiny_model):
    missing = run("ask", "Who?", "--db", str(tmp_path / "none.db"))
    assert missing.exit_code == 1
    assert missing.stderr == f"Error: no database at {tmp_path / 'none.db'}: run `docqa index PATH` first (or pass --db)\n"
    (tmp_path / "empty").mkdir()
    run("index", str(tmp_path / "empty"), "--db", str(tmp_path / "empty.db"))
    empty = run("ask", "Who?", "--db", str(tmp_path / "empty.db"))
    assert empty.exit_code == 1
    assert empty.stderr == f"Error: the database {tmp_path / 'empty.db'} holds no passages: run `docqa index PATH` first\n"


def test_unreadable_batch_file(indexed, tmp_path):
    result = run("ask", "--batch", str(tmp_path / "nope.txt"), "--config", str(indexed))
    assert result.exit_code == 1
    assert result.stderr == f"Error: cannot read batch file {tmp_path / 'nope.txt'}: No such file or directory\n"


def test_model_that_cannot_load(indexed, tmp_path):
    config = tmp_path / "c.yaml"
    db = load_config(indexed).store.path
    config.write_text(f"store:\n  path: {db}\nreader:\n  model: {tmp_path / 'no-model'}\n", encoding="utf-8")
    result = run("ask", "Who built it?", "--config", str(config))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: reader model {str(tmp_path / 'no-model')!r}: no such folder: set reader.model to a folder holding the model\n"
    )
