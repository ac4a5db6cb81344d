from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.reader.decode import best_spans


def brute_force(start, end, context, max_answer_len):
    """Every valid span of one window with its score, by explicit loops."""
    spans = {}
    n = len(start)
    for i in range(n):
        for j in range(i, min(n, i + max_answer_len)):
            if context[i] and context[j]:
                spans[(i, j)] = start[i] + end[j]
    return spans


def test_hand_built_logits():
    start = torch.tensor([[9.0, 0.0, 1.0, 5.0, 0.0, 0.0]])
    end = torch.tensor([[9.0, 0.0, 0.0, 0.0, 4.0, 2.0]])
    context = torch.tensor([[False, False, True, True, True, True]])  # token 0 (CLS) excluded
    spans = best_spans(start, end, context, max_answer_len=3, k=3)
    # (3, 4) = 9, (3, 5) = 7, (2, 4) = 5; (2, 5) is 4 tokens long, over max_answer_len.
    assert spans.starts.tolist() == [[3, 3, 2]]
    assert spans.ends.tolist() == [[4, 5, 4]]
    assert spans.scores.tolist() == [[9.0, 7.0, 5.0]]


def test_end_never_before_start():
    start = torch.tensor([[0.0, 0.0, 10.0]])
    end = torch.tensor([[9.0, 0.0, 0.0]])  # (2, 0) would score 19 if end could precede start
    spans = best_spans(start, end, torch.ones(1, 3, dtype=torch.bool), max_answer_len=5, k=1)
    assert (spans.starts.item(), spans.ends.item(), spans.scores.item()) == (2, 2, 10.0)


def test_window_without_context_has_no_spans():
    spans = best_spans(torch.zeros(1, 4), torch.zeros(1, 4), torch.zeros(1, 4, dtype=torch.bool), 3, 2)
    assert spans.scores.tolist() == [[-math.inf, -math.inf]]
    assert spans.log_norm.tolist() == [-math.inf]


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    windows=st.integers(1, 4),
    length=st.integers(1, 24),
    max_answer_len=st.integers(1, 30),
    k=st.integers(1, 12),
)
def test_matches_brute_force_on_random_logits(data, windows, length, max_answer_len, k):
    floats = st.floats(-20, 20, allow_nan=False, width=32)
    start = torch.tensor(data.draw(st.lists(st.lists(floats, min_size=length, max_size=length), min_size=windows, max_size=windows)))
    end = torch.tensor(data.draw(st.lists(st.lists(floats, min_size=length, max_size=length), min_size=windows, max_size=windows)))
    context = torch.tensor(
        data.draw(st.lists(st.lists(st.booleans(), min_size=length, max_size=length), min_size=windows, max_size=windows))
    )
    spans = best_spans(start, end, context, max_answer_len, k)
    for w in range(windows):
        expected = brute_force(start[w].tolist(), end[w].tolist(), context[w].tolist(), max_answer_len)
        best = sorted(expected.values(), reverse=True)[:k]
        got = [s for s in spans.scores[w].tolist() if s != -math.inf]
        assert got == pytest.approx(best, abs=1e-5)
        for score, i, j in zip(got, spans.starts[w].tolist(), spans.ends[w].tolist()):
            assert (i, j) in expected and expected[(i, j)] == pytest.approx(score, abs=1e-5)
        log_norm = spans.log_norm[w].item()
        if expected:
            assert log_norm == pytest.approx(math.log(sum(math.exp(v) for v in expected.values())), rel=1e-4, abs=1e-4)
        else:
            assert log_norm == -math.inf
