from __future__ import annotations

import dataclasses
import logging
import random
from types import SimpleNamespace

import pytest
import torch
from haystack import Document

from pipeline.config import ReaderConfig
from pipeline.reader import ExtractiveReader, ModelLoadError, Reader
from pipeline.reader.features import make_windows
from tests.models import CORPUS

AMAZON = "The Floresta Amazônica, also called Amazonía, 亚马逊雨林 covers the basin."


class FixedLogits(torch.nn.Module):
    """Stands in for the QA model: a high start logit on one token id, a high end logit on another."""

    def __init__(self, start_id: int, end_id: int) -> None:
        super().__init__()
        self.start_id, self.end_id = start_id, end_id

    def forward(self, input_ids, attention_mask):
        return SimpleNamespace(
            start_logits=(input_ids == self.start_id).float() * 10, end_logits=(input_ids == self.end_id).float() * 10
        )


def reader_with_fixed_logits(model_dir, start_token, end_token, **config):
    reader = Reader(ReaderConfig(model=str(model_dir), **config))
    reader.warm_up()
    vocab = reader._loaded.tokenizer.get_vocab()
    reader._loaded = dataclasses.replace(reader._loaded, model=FixedLogits(vocab[start_token], vocab[end_token]))
    return reader


@pytest.mark.parametrize(
    "start_token, end_token, expected",
    [
        ("##ô", "##ica", "Amazônica"),  # both inside one word: widened to the whole word
        ("Fl", "##ô", "Floresta Amazônica"),  # ends inside a word: widened to its end
        ("马", "雨", "马逊雨"),  # each CJK character is a word of its own
        ("Amazon", "##í", "Amazonía"),
    ],
)
def test_cased_offsets_are_exact_and_widened_to_words(tiny_model, start_token, end_token, expected):
    reader = reader_with_fixed_logits(tiny_model, start_token, end_token)
    passage = Document(content=AMAZON, meta={"file_path": "/docs/a.pdf", "page_number": 3})
    best = reader.read("Where is it?", [passage], top_k=1)[0]
    assert best.text == expected
    assert AMAZON[best.start : best.end] == expected
    assert (best.file, best.page, best.passage) == ("/docs/a.pdf", 3, passage)


@pytest.mark.parametrize(
    "start_token, end_token, expected",
    [("##ica", "##ica", "Amazônica"), ("amazon", "##ia", "Amazônica, also called Amazonía"), ("the", "fl", "The Floresta")],
)
def test_uncased_offsets_point_into_the_original_text(tiny_uncased_model, start_token, end_token, expected):
    # The uncased tokenizer lower-cases and strips accents; offsets still index the original.
    reader = reader_with_fixed_logits(tiny_uncased_model, start_token, end_token)
    best = reader.read("where?", [Document(content=AMAZON)], top_k=1)[0]
    assert (best.text, AMAZON[best.start : best.end]) == (expected, expected)


def random_passages(n, seed=0, words=(20, 120)):
    rng = random.Random(seed)
    vocab = " ".join(CORPUS).split()
    return [Document(content=" ".join(rng.choice(vocab) for _ in range(rng.randint(*words)))) for _ in range(n)]


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_uncased_model"])
def test_every_answer_is_an_exact_slice_of_whole_words(request, fixture):
    reader = Reader(ReaderConfig(model=str(request.getfixturevalue(fixture)), max_seq_len=64, doc_stride=16, max_question_len=16))
    passages = random_passages(12) + [Document(content=AMAZON)]
    answers = reader.read_batch(["Where is the river?"] * 3, [passages[:5], passages[5:], [passages[-1]]], top_k=10)
    assert all(len(a) == 10 for a in answers)
    tokenizer = reader._loaded.tokenizer
    for answer in (a for per_question in answers for a in per_question):
        text = answer.passage.content
        assert text[answer.start : answer.end] == answer.text and answer.text.strip() == answer.text
        # Word boundaries as the tokenizer sees them (a CJK character is a word of its own).
        encoding = tokenizer(text, add_special_tokens=False).encodings[0]
        words = {}
        for word, (start, end) in zip(encoding.word_ids, encoding.offsets):
            first, last = words.get(word, (start, end))
            words[word] = (min(first, start), max(last, end))
        assert answer.start in {w[0] for w in words.values()}
        assert answer.end in {w[1] for w in words.values()}
        assert 0 < answer.probability <= 1


def test_windows_cover_a_long_passage(tiny_model):
    reader = Reader(ReaderConfig(model=str(tiny_model), max_seq_len=48, doc_stride=12, max_question_len=8))
    reader.warm_up()
    passage = random_passages(1, words=(600, 600))[0].content
    windows = make_windows(reader._loaded.tokenizer, ["Where?"], [passage], 48, 12)
    assert len(windows) > 10 and all(len(w.input_ids) <= 48 for w in windows)
    covered = set()
    for w in windows:
        for token, in_context in enumerate(w.context):
            if in_context:
                start, end = w.encoding.offsets[token]
                covered.update(range(start, end))
    assert all(i in covered for i, ch in enumerate(passage) if not ch.isspace())


def test_long_passage_answers_come_from_any_window(tiny_model):
    # The fixed logits pick the last word of a passage read in many windows.
    passage = " ".join(["river"] * 400) + " Paris"
    reader = reader_with_fixed_logits(tiny_model, "Paris", "Paris", max_seq_len=48, doc_stride=12, max_question_len=8)
    best = reader.read("Where?", [Document(content=passage)], top_k=1)[0]
    assert (best.text, best.start) == ("Paris", len(passage) - len("Paris"))


def test_same_answers_whatever_the_batching_and_order(tiny_model):
    questions = ["Where is the river?", "Who pulled the wagons?", "What is the capital?", "How?"]
    passages = [random_passages(4, seed=s) for s in range(4)]

    def read(batch_tokens, max_batch_size, order):
        reader = Reader(ReaderConfig(model=str(tiny_model), batch_tokens=batch_tokens, max_batch_size=max_batch_size, max_seq_len=64, doc_stride=16, max_question_len=16))
        out = reader.read_batch([questions[i] for i in order], [passages[i] for i in order], top_k=5)
        return {order[k]: [(a.text, a.passage.id, a.start, a.end, round(a.score, 4), round(a.probability, 5)) for a in answers] for k, answers in enumerate(out)}

    reference = read(16384, 64, [0, 1, 2, 3])
    assert read(64, 1, [0, 1, 2, 3]) == reference
    assert read(200, 3, [3, 1, 0, 2]) == reference


def test_probabilities_are_normalised_over_all_passages_of_a_question(tiny_model):
    reader = Reader(ReaderConfig(model=str(tiny_model)))
    passages = random_passages(3, seed=1)
    one = reader.read("Where?", passages[:1], top_k=1)[0]
    three = reader.read("Where?", passages, top_k=50)
    same = next(a for a in three if a.passage.id == one.passage.id and a.start == one.start and a.end == one.end)
    assert same.score == pytest.approx(one.score, abs=1e-4)  # raw scores do not depend on the other passages
    assert same.probability < one.probability  # probabilities share the mass with the other passages
    assert [a.probability for a in three] == sorted((a.probability for a in three), reverse=True)


def test_no_passages_no_answers(tiny_model):
    reader = Reader(ReaderConfig(model=str(tiny_model)))
    assert reader.read("Where?", []) == []
    assert reader.read_batch(["a?", "b?"], [[], [Document(content="")]]) == [[], []]
    assert reader._loaded is None  # nothing to read: the model is not even loaded


def test_over_long_question_is_truncated_with_a_warning(tiny_model, caplog):
    reader = Reader(ReaderConfig(model=str(tiny_model), max_seq_len=64, doc_stride=16, max_question_len=8))
    with caplog.at_level(logging.WARNING):
        answers = reader.read("Where is the river " * 20 + "?", [Document(content=AMAZON)], top_k=1)
    assert len(answers) == 1
    assert "question longer than 8 tokens (reader.max_question_len), truncated" in caplog.text


def test_bad_arguments(tiny_model):
    reader = Reader(ReaderConfig(model=str(tiny_model)))
    with pytest.raises(ValueError, match=r"^top_k must be >= 1, got 0$"):
        reader.read("Where?", [Document(content="x")], top_k=0)
    with pytest.raises(ValueError, match="one list of passages per question: 2 questions, 1 lists"):
        reader.read_batch(["a", "b"], [[]])


def test_missing_local_model_folder(tmp_path):
    reader = Reader(ReaderConfig(model=str(tmp_path / "nowhere")))
    with pytest.raises(ModelLoadError) as err:
        reader.warm_up()
    assert str(err.value) == (
        f"reader model {str(tmp_path / 'nowhere')!r}: no such folder: set reader.model to a folder holding the model"
    )


def test_folder_without_a_model(tmp_path):
    with pytest.raises(ModelLoadError) as err:
        Reader(ReaderConfig(model=str(tmp_path))).warm_up()
    message = str(err.value)
    assert message.startswith(f"cannot load reader model {str(tmp_path)!r} from the local folder {tmp_path}: ")
    assert message.endswith(
        "Fix: set reader.model to a local folder holding the model (config.json, weights, tokenizer.json), "
        f"or fetch it on a connected machine (hf download {tmp_path}) and copy it over"
    )


def test_hub_model_not_in_cache_while_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelLoadError) as err:
        Reader(ReaderConfig(model="distilbert-base-cased-distilled-squad")).warm_up()
    assert str(err.value) == (
        "cannot load reader model 'distilbert-base-cased-distilled-squad': it is not in the Hugging Face cache "
        f"({tmp_path}) and HF_HUB_OFFLINE is set. Fix: on a machine with network run "
        "`docqa model download distilbert-base-cased-distilled-squad --to DIR` "
        "(or `hf download distilbert-base-cased-distilled-squad --local-dir DIR`), copy DIR here and set reader.model to it"
    )


def test_int8_on_cpu_and_bad_device(tiny_model):
    reader = Reader(ReaderConfig(model=str(tiny_model), precision="int8", device="cpu"))
    assert reader.read("Where?", [Document(content=AMAZON)], top_k=1)
    if not torch.cuda.is_available():
        with pytest.raises(ModelLoadError, match="reader.device is 'cuda' but torch sees no CUDA device: use device auto or cpu"):
            Reader(ReaderConfig(model=str(tiny_model), device="cuda")).warm_up()


def test_haystack_component(tiny_model):
    from haystack import Pipeline
    from haystack.dataclasses import ExtractedAnswer

    component = ExtractiveReader(model=str(tiny_model), top_k=2)
    assert ExtractiveReader.from_dict(component.to_dict()).to_dict() == component.to_dict()
    pipeline = Pipeline()
    pipeline.add_component("reader", component)
    passage = Document(content=AMAZON, meta={"file_path": "/a.txt", "page_number": None})
    answers = pipeline.run({"reader": {"query": "Where?", "documents": [passage]}})["reader"]["answers"]
    assert len(answers) == 2 and all(isinstance(a, ExtractedAnswer) for a in answers)
    first = answers[0]
    assert AMAZON[first.document_offset.start : first.document_offset.end] == first.data
    assert first.document == passage and first.query == "Where?"
    assert first.meta["file_path"] == "/a.txt" and isinstance(first.meta["raw_score"], float)
    assert first.score >= answers[1].score
