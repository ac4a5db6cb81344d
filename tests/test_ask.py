from __future__ import annotations

import json
import os
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
        assert {"answer", "score", "file", "page", "pages", "passage_id", "start", "end", "context", "sources"} == set(a)
        text = passages[a["passage_id"]].content
        assert text[a["start"] : a["end"]].replace("\f", " ") == a["answer"]  # page breaks shown as spaces
        assert a["answer"] in a["context"] and a["file"].startswith(str(EXAMPLES))
    assert [a["score"] for a in data["answers"]] == sorted((a["score"] for a in data["answers"]), reverse=True)
    assert sum(a["score"] for a in data["answers"]) <= 1  # exclusive answers: probabilities that add up


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


@pytest.mark.parametrize(
    "folder, pattern, names",
    [
        (REPO, "examples/*", {"harbor-railway.pdf", "coffee-brewing.txt", "solar-system.md"}),
        (REPO, "examples/", {"harbor-railway.pdf", "coffee-brewing.txt", "solar-system.md"}),
        (REPO, "examples/harbor-railway.pdf", {"harbor-railway.pdf"}),
        (REPO, "./examples/*.pdf", {"harbor-railway.pdf"}),
        (EXAMPLES, "harbor-railway.pdf", {"harbor-railway.pdf"}),
        (EXAMPLES / "..", "examples/coffee-*", {"coffee-brewing.txt"}),
        (Path("/"), str(EXAMPLES / "*.md"), {"solar-system.md"}),
    ],
)
def test_file_globs_are_relative_to_the_current_folder_or_absolute(indexed, monkeypatch, folder, pattern, names):
    monkeypatch.chdir(folder)
    result = run("ask", "When did the railway close or which planet is hottest or what grind?", "--config", str(indexed), "--json", "--file", pattern, "--top-k", "10")
    assert result.exit_code == 0, result.output
    answers = json.loads(result.stdout)["answers"]
    assert answers and {Path(a["file"]).name for a in answers} <= names


def test_file_glob_that_matches_no_file_says_so(indexed, monkeypatch):
    monkeypatch.chdir(REPO)
    result = run("ask", "When did the railway close?", "--config", str(indexed), "--file", "harbor-railway.pdf", "--file", "*.doc")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: no indexed file matches '{REPO / 'harbor-railway.pdf'}', '{REPO / '*.doc'}' (a pattern like "
        "'*/name.pdf' finds a name in any folder): `docqa files` lists the indexed files\n"
    )


def test_no_passage_in_the_selected_files_says_where_it_looked(indexed, monkeypatch):
    monkeypatch.chdir(REPO)
    result = run("ask", "Kestrel locomotive?", "--config", str(indexed), "--file", "examples/solar-system.md")
    assert result.exit_code == 0
    assert result.stdout == "No answer: no passage of the files --file selects matches the words of the question.\n"


@pytest.mark.parametrize(
    "question",
    ["What is the tallest volcano?", "Who built the Northport Harbor Railway?", "What grind does espresso need?", "When did the railway close?"],
)
def test_python_api_and_haystack_pipeline_agree(indexed, question):
    qa = QA.from_config(indexed)
    direct = qa.ask(question)
    for _ in range(2):  # a new pipeline each call: its components belong to it alone
        piped = qa.haystack_pipeline().run({"retriever": {"query": question}, "reader": {"query": question}, "ranker": {"query": question}})
        ranking = piped["ranker"]["ranking"]
        assert [(a.text, a.score, a.best.passage_id, a.best.start) for a in ranking.answers] == [
            (a.text, a.score, a.best.passage_id, a.best.start) for a in direct.answers
        ]
    assert qa.ask_batch([question, "Who found Neptune?"])[0].answers[0].text == direct.answers[0].text


def test_haystack_pipeline_reads_retriever_top_k_and_weighs_words_by_twenty_as_ask_does(indexed):
    import dataclasses

    from pipeline.config import load_config

    config = load_config(indexed)
    qa = QA(dataclasses.replace(config, retriever=dataclasses.replace(config.retriever, top_k=1)))
    question = "What water temperature does coffee need?"  # 4 passages match: 1 is read, 4 weigh the words
    direct = qa.ask(question)
    piped = qa.haystack_pipeline().run({"retriever": {"query": question}, "reader": {"query": question}, "ranker": {"query": question}})
    ranking = piped["ranker"]["ranking"]
    assert {a.best.passage_id for a in direct.answers} == {qa.retrieve(question, qa.options(retrieve_k=1))[0].id}
    assert [(a.text, a.score) for a in ranking.answers] == [(a.text, a.score) for a in direct.answers]


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


QUESTIONS = ["Who built the railway?", "What is Kestrel?", "Which planet is hottest?", "What grind for espresso?", "When did it close?"]


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of two questions; records how many result lines the --out file held as each chunk began."""
    import pipeline.batch

    monkeypatch.setattr(pipeline.batch, "CHUNK_QUESTIONS", 2)
    seen: list[int] = []
    real_run = QA.run

    def run(self, questions, options, show_progress=False):
        out = Path(os.environ["DOCQA_TEST_OUT"])
        seen.append(len(out.read_text().splitlines()) if out.exists() else 0)
        if os.environ.get("DOCQA_TEST_STOP_AT") == str(len(seen)):
            raise KeyboardInterrupt
        return real_run(self, questions, options, show_progress)

    monkeypatch.setattr(QA, "run", run)
    return seen


def test_batch_writes_each_chunk_as_it_is_done_and_resume_skips_what_is_there(indexed, tmp_path, small_chunks, monkeypatch):
    batch, out = tmp_path / "q.txt", tmp_path / "a.jsonl"
    batch.write_text("\n".join(QUESTIONS) + "\n", encoding="utf-8")
    monkeypatch.setenv("DOCQA_TEST_OUT", str(out))
    monkeypatch.setenv("DOCQA_TEST_STOP_AT", "3")  # Ctrl-C while the third chunk is read
    interrupted = run("ask", "--batch", str(batch), "--out", str(out), "--config", str(indexed))
    assert interrupted.exit_code != 0  # (the real docqa exits 130: see main())
    assert small_chunks == [0, 2, 4]  # each chunk's results were in the file before the next began
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["1", "2", "3", "4"]
    assert "interrupted: 4 of 5 questions (0 failed) in " in interrupted.stderr and "; `--resume` goes on from there" in interrupted.stderr
    assert "| 2/5 [" in interrupted.stderr and "| 4/5 [" in interrupted.stderr  # the progress bar moved with each chunk

    with out.open("a") as f:
        f.write('{"id": "5", "question": "When did')  # a line cut short by the interruption
    monkeypatch.delenv("DOCQA_TEST_STOP_AT")
    resumed = run("ask", "--batch", str(batch), "--out", str(out), "--resume", "--config", str(indexed))
    assert resumed.exit_code == 0, resumed.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["1", "2", "3", "4", "5"] and rows[4]["question"] == QUESTIONS[4]
    assert "1 questions (0 failed, 4 already answered) in " in resumed.stderr

    again = run("ask", "--batch", str(batch), "--out", str(out), "--resume", "--config", str(indexed))
    assert again.exit_code == 0 and len(out.read_text().splitlines()) == 5
    assert "0 questions (0 failed, 5 already answered) in " in again.stderr


def test_resume_needs_out_and_a_results_file(indexed, tmp_path):
    batch = tmp_path / "q.txt"
    batch.write_text("Who built it?\n", encoding="utf-8")
    alone = run("ask", "--batch", str(batch), "--resume", "--config", str(indexed))
    assert alone.exit_code == 2 and "--resume goes with --batch FILE --out FILE" in alone.stderr
    other = tmp_path / "other.jsonl"
    other.write_text("not a result\n", encoding="utf-8")
    refused = run("ask", "--batch", str(batch), "--out", str(other), "--resume", "--config", str(indexed))
    assert refused.exit_code == 1
    assert refused.stderr == f"Error: {other} line 1 is not a result of docqa ask --batch: give another --out file\n"


def test_usage_errors(indexed, tmp_path):
    empty = run("ask", "   ", "--config", str(indexed))
    assert empty.exit_code == 2 and "the question is empty" in empty.stderr
    neither = run("ask", "--config", str(indexed))  # and nothing on stdin
    assert neither.exit_code == 2 and "no question: give a QUESTION, --batch FILE, or questions on stdin, one a line" in neither.stderr
    both = run("ask", "q?", "--batch", "x.txt", "--config", str(indexed))
    assert both.exit_code == 2 and "give either a QUESTION or --batch FILE, not both" in both.stderr
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


def test_anchor_patterns_escapes_the_folder_and_keeps_absolute_ones():
    from pipeline.checks import anchor_patterns

    assert anchor_patterns(["a/*.pdf", "/abs/*", "../b/", "x"], "/home/me [1]*") == [
        "/home/me [[]1][*]/a/*.pdf", "/abs/*", "/home/b/*", "/home/me [[]1][*]/x"
    ]
    assert anchor_patterns(["*.txt"], None) == ["*.txt"]


def test_questions_piped_to_ask_are_each_answered(indexed):
    # `echo QUESTION | docqa ask`: each line of stdin as `docqa ask QUESTION` answers it.
    result = CliRunner().invoke(cli, ["ask", "--config", str(indexed), "--json"], input="When did the railway close?\n\n" + "x" * 1001 + "\nWho built it?\n")
    assert result.exit_code == 1, result.output  # a line could not be asked
    answers = [json.loads(block) for block in result.stdout.split("\n\n") if block.strip()]
    assert [a["question"] for a in answers] == ["When did the railway close?", "Who built it?"]
    assert "Error: line 2: the question is 1001 characters long, more than 1000\n" in result.stderr
    one = CliRunner().invoke(cli, ["ask", "--config", str(indexed)], input="When did the railway close?\n")
    assert one.exit_code == 0 and one.stdout.startswith("1. ")
    assert one.stdout == run("ask", "When did the railway close?", "--config", str(indexed)).stdout


def test_batch_dash_reads_stdin(indexed, tmp_path):
    result = CliRunner().invoke(cli, ["ask", "--batch", "-", "--config", str(indexed)], input='When did the railway close?\n{"id": "q2", "question": "Who built it?"}\n')
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["id"], r["question"]) for r in lines] == [("1", "When did the railway close?"), ("q2", "Who built it?")]
    assert not (tmp_path / "-").exists()


def test_asking_prints_no_loading_bar_nor_token_length_warning(tmp_path, tiny_model):
    # A passage of ~120 words of many word pieces each: far beyond the model's 512 tokens,
    # which docqa windows itself; transformers would warn of "indexing errors".
    (tmp_path / "docs").mkdir()
    words = " ".join(f"zq{i}xv{i * 7}kw{i * 13}" for i in range(120))
    (tmp_path / "docs" / "long.txt").write_text(f"The quarry opened in 1887. {words}.\n", encoding="utf-8")
    (tmp_path / "docqa.yaml").write_text(f"reader:\n  model: {tiny_model}\nask:\n  min_score: 0.0\n", encoding="utf-8")
    assert run("index", str(tmp_path / "docs"), "--db", str(tmp_path / "docqa.db"), "--workers", "0").exit_code == 0
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HAYSTACK_TELEMETRY_ENABLED": "False"}
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "ask", "When did the quarry open?"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1. ")
    assert done.stderr == ""


def test_an_interrupted_batch_says_interrupted_once(indexed, tmp_path, monkeypatch, capsys):
    import sys

    import pipeline.batch
    from pipeline.cli.main import main

    real = pipeline.batch.run_batch

    def interrupted(*args, **kwargs):
        for number, record in enumerate(real(*args, **kwargs)):
            if number == 1:
                raise KeyboardInterrupt
            yield record

    monkeypatch.setattr(pipeline.batch, "run_batch", interrupted)
    batch = tmp_path / "q.txt"
    batch.write_text("When did the railway close?\nWho built it?\nWhat is Kestrel?\n", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["docqa", "ask", "--batch", str(batch), "--out", str(tmp_path / "a.jsonl"), "--config", str(indexed)])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 130
    stderr = capsys.readouterr().err
    assert stderr.count("interrupted") == 1
    assert stderr.endswith("; `--resume` goes on from there\n") and stderr.splitlines()[-1].startswith("interrupted: 1 of 3 questions (0 failed)")
    assert len((tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()) == 1
