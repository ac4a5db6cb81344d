"""QA owns the ask contract: its checks, its candidate count, its answer JSON; the shells only translate."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from ingest.indexer import index_paths
from ingest.options import IngestOptions
from pipeline.checks import FilterError, QuestionError
from pipeline.cli import cli
from pipeline.config import AskConfig, Config, ReaderConfig, RetrieverConfig, StoreConfig
from pipeline import qa as qa_module
from pipeline.qa import QA, EmptyIndexError
from pipeline.ranking import CANDIDATES_PER_PASSAGE, TERM_PASSAGES, word_counts
from pipeline.retriever import BM25Retriever, RankBM25Retriever
from pipeline.serve.app import create_app
from pipeline.serve.models import AskResponse
from store.document_store import SQLiteDocumentStore
from store.errors import OutOfRangeError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def config(tmp_path_factory, tiny_model):
    folder = tmp_path_factory.mktemp("qa")
    # min_score 0: the tiny model's answers are noise, which a calibrated min_score refuses.
    config = Config(store=StoreConfig(path=str(folder / "index.db")), reader=ReaderConfig(model=str(tiny_model)), ask=AskConfig(min_score=0.0))
    store = SQLiteDocumentStore(config.store.path)
    index_paths(store, [REPO / "examples"], IngestOptions(workers=0), show_progress=False)
    store.close()
    return config


@pytest.fixture(scope="module")
def qa(config):
    return QA(config)


def write_config(path: Path, config: Config, **sections: dict) -> Path:
    lines = [f"store:\n  path: {config.store.path}\nreader:\n  model: {config.reader.model}\n"]
    lines += [f"{name}:\n" + "".join(f"  {k}: {v}\n" for k, v in keys.items()) for name, keys in sections.items()]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_options_check_every_count_and_filter(qa):
    assert qa.options() == dataclasses.replace(qa.options(top_k=5, retrieve_k=20))
    with pytest.raises(OutOfRangeError, match=r"^top_k must be >= 1, got 0$"):
        qa.options(top_k=0)
    with pytest.raises(OutOfRangeError, match=r"^retrieve_k must be >= 1, got 0$"):
        qa.options(retrieve_k=0)
    with pytest.raises(OutOfRangeError, match=r"^top_k must be between 1 and 10, got 11$"):
        qa.options(top_k=11, max_top_k=10)
    with pytest.raises(FilterError, match=r"'operator' key missing"):
        qa.options(filters={"field": "meta.page_number", "value": 2})
    options = qa.options(filters={"operator": "AND", "conditions": []}, paths=["*.txt"])
    assert hash(options) == hash(qa.options(filters={"conditions": [], "operator": "AND"}, paths=["*.txt"]))


def test_questions_are_checked_once_with_one_wording(qa):
    with pytest.raises(QuestionError, match=r"^the question is empty$"):
        qa.ask("   ")
    with pytest.raises(QuestionError) as err:
        qa.ask_batch(["Who?", "x" * 1001])
    assert (str(err.value), err.value.index) == ("the question is 1001 characters long, more than 1000", 1)
    with pytest.raises(QuestionError, match=r"^no questions given$"):
        qa.ask_batch([])
    with pytest.raises(QuestionError, match=r"^3 questions, more than 2$"):
        qa.check_questions(["a?", "b?", "c?"], most=2)


def test_reader_top_k_is_the_candidate_count(config, monkeypatch):
    # config.yaml: reader.top_k is what the reader returns; in ask, the candidates the ranking
    # merges, never fewer than ask.top_k.
    qa = QA(dataclasses.replace(config, reader=dataclasses.replace(config.reader, top_k=12)))
    asked = []
    read_batch = qa.reader.read_batch
    monkeypatch.setattr(qa.reader, "read_batch", lambda *a, **k: asked.append(k["top_k"]) or read_batch(*a, **k))
    qa.ask("Who built the railway?", retrieve_k=1)
    qa.ask("Who built the railway?", top_k=20, retrieve_k=1)
    qa.ask("Who built the railway?", retrieve_k=3)
    assert asked == [12, 20, 3 * CANDIDATES_PER_PASSAGE]  # and the ranking's share of each passage read


def test_the_ranking_weighs_question_words_by_twenty_passages_retrieved_however_many_are_read(qa, monkeypatch):
    question = "What water temperature does coffee need?"
    twenty = qa.store.bm25_retrieval(question, top_k=TERM_PASSAGES)  # 4 of the examples' 7 passages match
    assert len(twenty) == 4
    read, seen = [], []
    real_read, real_rank = qa.reader.read_batch, qa_module.rank
    monkeypatch.setattr(qa.reader, "read_batch", lambda questions, passages, **k: read.extend(passages) or real_read(questions, passages, **k))
    monkeypatch.setattr(qa_module, "rank", lambda *a, **k: seen.append(k["counts"]) or real_rank(*a, **k))
    qa.ask(question, retrieve_k=2)
    assert [[d.id for d in docs] for docs in read] == [[d.id for d in twenty[:2]]]
    assert seen == [word_counts(question, twenty)] and seen[0].passages == len(twenty)


def test_retrievers_share_one_run_signature(qa):
    assert BM25Retriever.run is RankBM25Retriever.run
    with pytest.raises(FilterError, match=r"^filters and --file patterns need retriever.backend tantivy or fts5; rank_bm25 searches every passage$"):
        RankBM25Retriever(qa.store).run("railway", paths=["*.txt"])


def test_rank_bm25_backend_with_a_file_filter_is_a_clear_error(config, tmp_path):
    path = write_config(tmp_path / "c.yaml", config, retriever={"backend": "rank_bm25"})
    result = CliRunner().invoke(cli, ["ask", "What grind does espresso need?", "--config", str(path), "--file", "*.txt"])
    assert result.exit_code == 1
    assert result.stderr == "Error: filters and --file patterns need retriever.backend tantivy or fts5; rank_bm25 searches every passage\n"
    plain = CliRunner().invoke(cli, ["ask", "What grind does espresso need?", "--config", str(path), "--json"])
    assert plain.exit_code == 0 and json.loads(plain.stdout)["answers"]

    bm25 = dataclasses.replace(config, retriever=RetrieverConfig(backend="rank_bm25"))
    with TestClient(create_app(bm25, QA(bm25))) as client:
        response = client.post("/ask", json={"question": "grind?", "files": ["*.txt"]})
    assert response.status_code == 422
    assert response.json()["error"] == {
        "field": "filters",
        "message": "filters and --file patterns need retriever.backend tantivy or fts5; rank_bm25 searches every passage",
    }


def test_an_empty_index_is_503_not_a_conflict(tmp_path, config):
    empty = dataclasses.replace(config, store=StoreConfig(path=str(tmp_path / "empty.db")))
    SQLiteDocumentStore(empty.store.path).close()
    with pytest.raises(EmptyIndexError):
        QA(empty).ask("Who?")
    with TestClient(create_app(empty, QA(empty))) as client:
        response = client.post("/ask", json={"question": "Who?"})
    assert response.status_code == 503
    assert response.json()["error"] == {
        "field": None,
        "message": f"the database {tmp_path / 'empty.db'} holds no passages: run `docqa index PATH` first",
    }


def test_the_answer_json_is_ranking_to_json_and_the_api_model_describes_it(qa):
    ranking = qa.ask("Who built the Northport Harbor Railway?", top_k=3)
    data = ranking.to_json(0.25)
    assert list(data) == ["question", "found", "answers", "seconds"] and data["seconds"] == 0.25
    assert "seconds" not in ranking.to_json()  # a line of a batch
    assert AskResponse.model_validate(data).model_dump(exclude_unset=True) == data
    missing = qa.ask("Who built the Northport Harbor Railway?", top_k=3)
    refused = dataclasses.replace(missing, answers=[], candidates=missing.answers)
    assert list(refused.to_json()) == ["question", "found", "answers", "candidates"]
    assert AskResponse.model_validate(refused.to_json(0.1)).model_dump(exclude_unset=True) == refused.to_json(0.1)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("package", ["pipeline", "ingest", "store"])
def test_dependencies_point_one_way(package):
    # DESIGN.md: the shells (cli, serve) import the core and never each other; the core
    # imports no shell; store and ingest never import pipeline. One exception: `docqa serve`
    # starts the HTTP API, so the CLI's serve command imports create_app (and nothing else).
    for path in sorted((REPO / package).rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        imported = _imports(path)
        if package != "pipeline":
            assert not [m for m in imported if m.startswith("pipeline")], module
        elif module.startswith("pipeline.cli"):
            allowed = {"pipeline.serve.app"} if module == "pipeline.cli.main" else set()
            assert not [m for m in imported if m.startswith("pipeline.serve") and m not in allowed], module
        elif module.startswith("pipeline.serve"):
            assert not [m for m in imported if m.startswith("pipeline.cli")], module
        else:
            assert not [m for m in imported if m.startswith(("pipeline.cli", "pipeline.serve"))], module


def test_the_non_blank_pattern_keeps_what_strip_keeps():
    # The HTTP API's schema states "the question is empty" as this pattern: it must say exactly
    # what check_question's strip() says, in Python's re and in pydantic's (Rust) regex alike.
    import re
    import sys

    from typing import Annotated

    from pydantic import Field, TypeAdapter, ValidationError

    from pipeline.checks import NON_BLANK

    python = re.compile(NON_BLANK)
    assert [hex(c) for c in range(sys.maxunicode + 1) if (python.search(chr(c)) is None) != chr(c).isspace()] == []
    rust = TypeAdapter(Annotated[str, Field(pattern=NON_BLANK)])
    spaces = [c for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    for c in sorted({*spaces, *(s + 1 for s in spaces), *(s - 1 for s in spaces), *range(0, 0xD800, 97), *range(0xE000, sys.maxunicode, 997)}):
        try:
            rust.validate_python(chr(c))
            kept = True
        except ValidationError:
            kept = False
        assert kept != chr(c).isspace(), hex(c)
