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
    [
        ("s", "basin", "river's basin"),  # starts after the apostrophe of "river's": moved to the word's start
        ("'", "basin", "river's basin"),  # starts at it: the same
        ("river", "river", "river"),  # ends before "'s": left alone, a whole answer
        ("Paris", "Paris", "Paris"),  # a quote after a space joins nothing
        ("covers", "covers", "covers"),
    ],
)
def test_answers_never_start_inside_a_word_joined_by_an_apostrophe(tiny_model, start_token, end_token, expected):
    text = "The river's basin covers 'Paris'."
    reader = reader_with_fixed_logits(tiny_model, start_token, end_token)
    best = reader.read("Where is it?", [Document(content=text)], top_k=1)[0]
    assert (best.text, text[best.start : best.end]) == (expected, expected)


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


ARCHITECTURES = ["tiny_model", "tiny_uncased_model", "tiny_bert_model", "tiny_roberta_model", "tiny_roberta_untrimmed_model"]


@pytest.mark.parametrize("fixture", ARCHITECTURES)
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
        # Without their whitespace (a byte-level BPE word may hold its leading space).
        words = {w: (s + len(text[s:e]) - len(text[s:e].lstrip()), e - len(text[s:e]) + len(text[s:e].rstrip())) for w, (s, e) in words.items()}
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
    assert read(None, 64, [2, 0, 3, 1]) == reference  # the device's default budget


def test_batch_tokens_default_by_device(tiny_model, monkeypatch):
    from pipeline.reader import reader as reader_module
    from pipeline.reader.features import batch_tokens, describe_batch_tokens

    assert batch_tokens(ReaderConfig(), "cpu") == 1024
    assert batch_tokens(ReaderConfig(), "cuda") == 16384
    assert batch_tokens(ReaderConfig(batch_tokens=4096), "cpu") == 4096
    assert batch_tokens(ReaderConfig(max_seq_len=2048, doc_stride=128), "cpu") == 2048  # never under one window
    with pytest.raises(ValueError, match=r"batch_tokens must be >= max_seq_len \(384\), got 100"):
        ReaderConfig(batch_tokens=100)
    assert describe_batch_tokens(ReaderConfig()) == "1024 on the CPU; 16384 if a GPU is found (null: by device)"
    assert describe_batch_tokens(ReaderConfig(device="cpu")) == "1024 (null: by device)"
    assert describe_batch_tokens(ReaderConfig(device="cuda:1")) == "16384 (null: by device)"
    assert describe_batch_tokens(ReaderConfig(batch_tokens=2048)) == "2048"

    # On a CPU, a read packs its windows under 1,024 tokens.
    shapes = []
    original = reader_module._batch_tensors
    monkeypatch.setattr(reader_module, "_batch_tensors", lambda windows, pad: shapes.append(original(windows, pad)[0].shape) or original(windows, pad))
    Reader(ReaderConfig(model=str(tiny_model), device="cpu")).read("Where?", random_passages(40, seed=2, words=(60, 120)), top_k=1)
    assert len(shapes) > 1 and all(rows * length <= 1024 for rows, length in shapes)


def test_each_window_keeps_spans_for_its_passage_share_of_top_k(tiny_model, monkeypatch):
    from pipeline.reader import reader as reader_module
    from pipeline.reader.reader import n_best_per_window

    docs = [Document(content=f"passage {i}") for i in range(20)]
    assert n_best_per_window(200, [docs]) == 30  # 10 answers a passage: 2 x 10 + 10
    assert n_best_per_window(30, [docs[:1]]) == 70  # one passage: transformers' 2 x top_k + 10
    assert n_best_per_window(1, [docs[:3]]) == 12
    assert n_best_per_window(10, [docs[:3], [Document(content="")], docs[:1]]) == 30  # the largest share; empty passages are not read
    # read_batch asks each window for that many; reader.n_best_per_window overrides it.
    asked = []
    original = reader_module.best_spans
    monkeypatch.setattr(reader_module, "best_spans", lambda *a: asked.append(a[-1]) or original(*a))
    passages = random_passages(4, seed=3)
    Reader(ReaderConfig(model=str(tiny_model))).read("Where?", passages, top_k=40)
    Reader(ReaderConfig(model=str(tiny_model), n_best_per_window=7)).read("Where?", passages, top_k=40)
    assert set(asked) == {30, 7}


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


# --- Any architecture: segment ids exactly where the model was trained with them, byte-level BPE ---


class ForwardRecorder:
    """Records the keyword arguments of every forward call of a loaded model (a forward pre-hook)."""

    def __init__(self, model):
        self.calls = []
        model.register_forward_pre_hook(lambda module, args, kwargs: self.calls.append(sorted(kwargs)), with_kwargs=True)


@pytest.mark.parametrize(
    "fixture, segment_ids",
    [("tiny_model", False), ("tiny_bert_model", True), ("tiny_roberta_model", False)],
)
def test_segment_ids_reach_only_models_trained_with_them(request, fixture, segment_ids):
    reader = Reader(ReaderConfig(model=str(request.getfixturevalue(fixture))))
    reader.warm_up()
    recorder = ForwardRecorder(reader._loaded.model)
    reader.read_batch(["Where is the river?", "Who?"], [[Document(content=CORPUS[1])], random_passages(3)], top_k=1)
    expected = ["attention_mask", "input_ids"] + (["token_type_ids"] if segment_ids else [])
    assert recorder.calls and all(call == expected for call in recorder.calls)
    assert reader._loaded.segment_ids is segment_ids


def best_direct_span(model_dir, question, passage, max_answer_len=30, **call):
    """The best valid span's logit sum from a direct call of the model on the tokenizer's own output."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForQuestionAnswering.from_pretrained(str(model_dir)).eval()
    inputs = tokenizer(question, passage, return_tensors="pt")
    inputs.update(call)
    with torch.inference_mode():
        out = model(**inputs)
    context = [s == 1 for s in inputs.encodings[0].sequence_ids]
    start, end = out.start_logits[0].tolist(), out.end_logits[0].tolist()
    return max(
        start[i] + end[j]
        for i in range(len(context))
        for j in range(i, min(len(context), i + max_answer_len))
        if context[i] and context[j]
    )


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_bert_model", "tiny_roberta_model"])
def test_scores_equal_a_direct_call_of_the_model_as_its_authors_run_it(request, fixture):
    model_dir = request.getfixturevalue(fixture)
    passage = CORPUS[3]
    reader = Reader(ReaderConfig(model=str(model_dir), precision="fp32"))
    # The best raw score among the answers (the top answer may be a merge of equal texts).
    best = max(a.score for a in reader.read("Who pulled the wagons?", [Document(content=passage)], top_k=50))
    assert best == pytest.approx(best_direct_span(model_dir, "Who pulled the wagons?", passage), abs=1e-4)
    if fixture == "tiny_bert_model":
        # The test can tell: reading question and passage as one segment changes the scores.
        one_segment = best_direct_span(model_dir, "Who pulled the wagons?", passage, token_type_ids=None)
        assert abs(best - one_segment) > 1e-3


class FixedPositions(torch.nn.Module):
    """Stands in for the QA model: a high start logit at one position and a high end logit at another.

    With `window` (a window's input ids) only in that window, flat elsewhere.
    """

    def __init__(self, start: int, end: int, window: list[int] | None = None) -> None:
        super().__init__()
        self.start, self.end, self.window = start, end, window

    def forward(self, input_ids, attention_mask, **_):
        start = torch.zeros(input_ids.shape)
        end = torch.zeros(input_ids.shape)
        for row, ids in enumerate(input_ids.tolist()):
            if self.window is None or ids[: len(self.window)] == self.window:
                start[row, self.start] = 10.0
                end[row, self.end] = 10.0
        return SimpleNamespace(start_logits=start, end_logits=end)


BYTE_LEVEL = "The river  Seine flows\nthrough Paris, 亚马逊雨林 Amazônica don't 1872abc."


def roberta_answer(model_dir, pick_start, pick_end):
    """docqa's answer when the model points at the passage tokens chosen by pick_start/pick_end(token, offsets)."""
    reader = Reader(ReaderConfig(model=str(model_dir)))
    reader.warm_up()
    encoding = make_windows(reader._loaded.tokenizer, ["Where?"], [BYTE_LEVEL], 384, 128)[0].encoding
    passage = [(i, token, offsets) for i, (token, offsets, s) in enumerate(zip(encoding.tokens, encoding.offsets, encoding.sequence_ids)) if s == 1]
    start = next(i for i, token, offsets in passage if pick_start(token, offsets))
    end = next(i for i, token, offsets in reversed(passage) if pick_end(token, offsets))
    reader._loaded = dataclasses.replace(reader._loaded, model=FixedPositions(start, end))
    answers = reader.read("Where?", [Document(content=BYTE_LEVEL)], top_k=1)
    return answers[0] if answers else None


def covers(text):
    """Picks the token whose offsets cover (part of) the first occurrence of `text` in the passage."""
    at = BYTE_LEVEL.index(text)
    return lambda token, offsets: offsets[0] <= at < offsets[1] or offsets[0] < at + len(text) <= offsets[1]


@pytest.mark.parametrize("fixture", ["tiny_roberta_model", "tiny_roberta_untrimmed_model"])
@pytest.mark.parametrize(
    "start, end, expected",
    [
        ("river", "river", "river"),  # a leading-space token (Ġriver): the answer has no space
        ("\n", "through", "through"),  # a newline token starts the span: stripped
        ("ô", "ô", "Amazônica"),  # a byte of a two-byte character, inside a word: the whole word
        ("逊", "雨", "亚马逊雨林"),  # byte-level BPE keeps a run of CJK characters as one word
        ("Seine", "Paris", "Seine flows\nthrough Paris"),
        ("1872", "1872", "1872"),  # letters and digits are separate words for byte-level BPE
    ],
)
def test_byte_level_bpe_offsets_and_words(request, fixture, start, end, expected):
    best = roberta_answer(request.getfixturevalue(fixture), covers(start), covers(end))
    assert best is not None and (best.text, BYTE_LEVEL[best.start : best.end]) == (expected, expected)


@pytest.mark.parametrize("fixture", ["tiny_roberta_model", "tiny_roberta_untrimmed_model"])
def test_a_span_of_whitespace_only_is_no_answer(request, fixture):
    # The double space before "Seine" is a token of its own ("Ġ"): the best span (score 20) is
    # that token alone, which is no answer; the next best (score 10) starts there and ends in a word.
    at = BYTE_LEVEL.index("  ")
    whitespace = lambda token, offsets: token == "Ġ" and offsets[0] <= at + 1 and offsets[1] <= at + 2  # noqa: E731
    best = roberta_answer(request.getfixturevalue(fixture), whitespace, whitespace)
    assert best.score == 10.0 and best.text == BYTE_LEVEL[best.start : best.end] == best.text.strip() != ""


def test_a_word_cut_by_a_window_edge_is_completed_as_the_tokenizer_splits_words(tiny_roberta_model):
    # With byte-level BPE a run of CJK characters is one word (BERT's rule would split it).
    reader = Reader(ReaderConfig(model=str(tiny_roberta_model), max_seq_len=32, doc_stride=8, max_question_len=4))
    reader.warm_up()
    passage = " ".join(["river"] * 30) + " 亚马逊雨林亚马逊雨林亚马逊雨林 Paris " + " ".join(["river"] * 30)
    windows = make_windows(reader._loaded.tokenizer, ["Where?"], [passage], 32, 8)
    cjk = passage.index("亚")
    edge = next(w for w in windows if w.cut_first_word is not None and w.encoding.offsets[w.context.index(True)][0] > cjk + 2 and w.encoding.offsets[w.context.index(True)][0] < cjk + 15)
    first = edge.context.index(True)
    reader._loaded = dataclasses.replace(reader._loaded, model=FixedPositions(first, first, window=edge.input_ids))
    best = reader.read("Where?", [Document(content=passage)], top_k=1)[0]
    assert best.text == "亚马逊雨林亚马逊雨林亚马逊雨林" and passage[best.start : best.end] == best.text
