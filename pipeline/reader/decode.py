"""Span decoding: the best answer spans of each window, from start and end logits.

One vectorised pass over a batch of windows. A span (i, j) is valid when both tokens are
passage tokens, j >= i and j - i < max_answer_len; its score is start_logits[i] +
end_logits[j], the raw logit sum, which compares across windows and passages because it is
not normalised per window (DrQA's reader does the same with normalize=False).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class Spans(NamedTuple):
    scores: torch.Tensor  # (windows, k) raw logit sums, best first; -inf where fewer than k spans are valid
    starts: torch.Tensor  # (windows, k) start token index
    ends: torch.Tensor  # (windows, k) end token index (inclusive)
    log_norm: torch.Tensor  # (windows,) logsumexp of the scores of every valid span of the window


def best_spans(
    start_logits: torch.Tensor, end_logits: torch.Tensor, context: torch.Tensor, max_answer_len: int, k: int
) -> Spans:
    """The k best valid spans of each window and the log-normaliser over all of its valid spans.

    Instead of the (L x L) matrix of all start/end pairs, scores live in an (L x max_answer_len)
    band: band[w, i, a] is the span that starts at token i and ends at token i + a.
    """
    negative = torch.tensor(float("-inf"), device=start_logits.device)
    start = torch.where(context, start_logits.float(), negative)
    end = torch.where(context, end_logits.float(), negative)
    windows, length = start.shape
    width = min(max_answer_len, length)
    end_band = F.pad(end, (0, width - 1), value=float("-inf")).unfold(1, width, 1)  # (W, L, width)
    band = (start.unsqueeze(-1) + end_band).reshape(windows, length * width)
    scores, flat = band.topk(min(k, length * width), dim=1)
    starts = torch.div(flat, width, rounding_mode="floor")
    ends = starts + flat % width
    return Spans(scores, starts, ends, torch.logsumexp(band, dim=1))
