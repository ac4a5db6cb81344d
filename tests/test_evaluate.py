from __future__ import annotations

import json
import re
import string
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.cli import cli
from pipeline.evaluate import EvaluationError, exact_match, f1, load_qa, load_squad, squad_scores

REPO = Path(__file__).resolve().parents[1]


# SQuAD v1.1's official evaluate-v1.1.py, transcribed as the reference the metrics must equal.
def official_normalize(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def official_f1(prediction, ground_truth):
    prediction_tokens = official_normalize(prediction).split()
    ground_truth_tokens = official_normalize(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def official_em(prediction, ground_truth):
    return official_normalize(prediction) == official_normalize(ground_truth)


def official_evaluate(dataset, predictions):
    f1_total = exact = total = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                if qa["id"] not in predictions:
                    continue
                truths = [a["text"] for a in qa["answers"]]
                exact += max(official_em(predictions[qa["id"]], t) for t in truths)
                f1_total += max(official_f1(predictions[qa["id"]], t) for t in truths)
    return {"exact_match": 100.0 * exact / total, "f1": 100.0 * f1_total / total}


CASES = [
    ("Denver Broncos", "Denver Broncos"),
    ("the Denver Broncos!", "Denver Broncos"),  # articles and punctuation
    ("  Denver   Broncos ", "denver broncos"),  # whitespace and case
    ("An apple", "apple a day"),
    ("", "Denver"),  # empty prediction
    ("", ""),
    ("Amazônica Amazonía", "amazônica"),  # unicode: not folded by SQuAD's normalisation
    ("1,000 km", "1000 km"),
    ("the the the", "the"),
    ("Saint-Étienne", "Saint Étienne"),
]


@pytest.mark.parametrize("prediction, truth", CASES)
def test_metrics_equal_the_official_script(prediction, truth):
    assert exact_match(prediction, truth) == float(official_em(prediction, truth))
    assert f1(prediction, truth) == pytest.approx(official_f1(prediction, truth))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab c.,!-'\u00e9\u00c9 the an"), max_size=30), st.text(alphabet=st.sampled_from("ab c.,!-'\u00e9 the an"), max_size=30))
def test_metrics_equal_the_official_script_on_random_text(prediction, truth):
    assert exact_match(prediction, truth) == float(official_em(prediction, truth))
    assert f1(prediction, truth) == pytest.approx(official_f1(prediction, truth))


def squad_file(tmp_path):
    data = {
        "version": "1.1",
        "data": [
            {
                "title": "Railway",
                "paragraphs": [
                    {
                        "context": "The Northport Harbor Railway opened in 1872. It was built by Margaret Hale.",
                        "qas": [
                            {"id": "q1", "question": "Who built the Northport railway?", "answers": [{"text": "Margaret Hale", "answer_start": 60}]},
                            {"id": "q2", "question": "When did the harbor railway open?", "answers": [{"text": "1872", "answer_start": 39}, {"text": "in 1872", "answer_start": 36}]},
                        ],
                    },
                    {
                        "context": "Jupiter is the largest planet. Its Great Red Spot is an old storm.",
                        "qas": [{"id": "q3", "question": "Which planet is the largest?", "answers": [{"text": "Jupiter", "answer_start": 0}]}],
                    },
                ],
            }
        ],
    }
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path, data


def test_squad_scores_equal_official_evaluate(tmp_path):
    path, data = squad_file(tmp_path)
    questions, paragraphs = load_squad(path)
    assert [q.id for q in questions] == ["q1", "q2", "q3"] and len(paragraphs) == 2
    predictions = {"q1": "Margaret Hale.", "q2": "opened in 1872"}  # q3 unanswered scores 0
    assert squad_scores(predictions, questions) == pytest.approx(official_evaluate(data["data"], predictions))


def test_eval_squad_retrieval_and_reader_modes(tmp_path, tiny_model):
    path, _ = squad_file(tmp_path)
    config = tmp_path / "c.yaml"
    config.write_text(f"reader:\n  model: {tiny_model}\n", encoding="utf-8")
    runner = CliRunner()
    retrieval = runner.invoke(cli, ["eval", "squad", str(path), "--mode", "retrieval", "--json", "--config", str(config)])
    assert retrieval.exit_code == 0, retrieval.output
    data = json.loads(retrieval.stdout)
    assert {k: data[k] for k in ("questions", "recall@1", "recall@5", "recall@20")} == {"questions": 3, "recall@1": 1.0, "recall@5": 1.0, "recall@20": 1.0}
    assert "exact_match" not in data and data["questions_per_second"] > 0

    predictions = tmp_path / "p.json"
    reader = runner.invoke(cli, ["eval", "squad", str(path), "--mode", "reader", "--predictions", str(predictions), "--json", "--config", str(config)])
    assert reader.exit_code == 0, reader.output
    scores = json.loads(reader.stdout)
    written = json.loads(predictions.read_text())
    assert sorted(written) == ["q1", "q2", "q3"]
    questions, _ = load_squad(path)
    assert {k: scores[k] for k in ("exact_match", "f1")} == pytest.approx(squad_scores(written, questions))
    assert "recall@5" not in scores

    limited = runner.invoke(cli, ["eval", "squad", str(path), "--mode", "open", "--limit", "1", "--json", "--config", str(config)])
    assert limited.exit_code == 0, limited.output
    open_mode = json.loads(limited.stdout)
    assert set(open_mode) == {
        "questions", "exact_match", "f1", "recall@1", "recall@5", "recall@20", "median_retrieval_ms", "seconds", "questions_per_second",
        "f1_top1_passage", "f1_by_retrieve_k",  # issue 13: the curve over retrieve_k from one run
    }
    assert list(open_mode["f1_by_retrieve_k"]) == [str(d) for d in range(1, 21)]
    assert open_mode["f1_by_retrieve_k"]["20"] == round(open_mode["f1"], 3)
    assert open_mode["f1_by_retrieve_k"]["1"] == open_mode["f1_top1_passage"]


def test_eval_qa_on_the_shipped_question_set(tmp_path, tiny_model, monkeypatch):
    monkeypatch.chdir(REPO)
    config = tmp_path / "c.yaml"
    config.write_text(f"store:\n  path: {tmp_path / 'i.db'}\nreader:\n  model: {tiny_model}\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(cli, ["index", "examples", "--config", str(config), "--workers", "0"]).exit_code == 0
    predictions = tmp_path / "p.jsonl"
    result = runner.invoke(cli, ["eval", "qa", "examples/questions.jsonl", "--config", str(config), "--json", "--predictions", str(predictions)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # Retrieval is deterministic: every gold answer and file is among the 20 passages read
    # (the examples hold 7 passages in all).
    assert (data["questions"], data["answer_recall@20"], data["file_recall@20"]) == (12, 1.0, 1.0)
    items = load_qa(REPO / "examples" / "questions.jsonl")
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert [r["question"] for r in rows] == [i.question for i in items]
    expected_em = 100 * sum(max(exact_match(r["prediction"], a) for a in i.answers) for r, i in zip(rows, items)) / 12
    expected_f1 = 100 * sum(max(f1(r["prediction"], a) for a in i.answers) for r, i in zip(rows, items)) / 12
    assert (data["exact_match"], data["f1"]) == (pytest.approx(expected_em), pytest.approx(expected_f1))


@pytest.mark.parametrize(
    "line, message",
    [
        ("{bad", "line 1 is not valid JSON"),
        ('{"answers": ["x"]}', 'line 1: "question" must be a non-empty string'),
        ('{"question": "q?", "answers": []}', 'line 1: "answers" must be a non-empty list of strings'),
        ('{"question": "q?", "answers": ["x"], "file": 3}', 'line 1: "file" must be a string'),
    ],
)
def test_bad_question_sets(tmp_path, line, message):
    path = tmp_path / "q.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(EvaluationError) as err:
        load_qa(path)
    assert str(err.value).startswith(f"{path} {message}") or str(err.value) == f"{path} {message}"


def test_bad_squad_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"data": [{"paragraphs": [{"qas": []}]}]}', encoding="utf-8")
    with pytest.raises(EvaluationError, match=r"is not in SQuAD v1.1 format \(data/paragraphs/qas/answers\): missing 'context'"):
        load_squad(path)
