"""Loading the QA model and its fast tokenizer: from a local folder, the cache or the hub.

A model already in the Hugging Face cache is loaded without contacting the hub; the hub is
asked only when the cache lacks it and HF_HUB_OFFLINE is not set. When the model cannot be
found, ModelLoadError says which model, where docqa looked, and what to do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from pipeline.reader import precision as precisions
from store.errors import DocqaError

from pipeline.hub import check_hub, fetch_hint

logger = logging.getLogger(__name__)


class ModelLoadError(DocqaError):
    """The reader model or its tokenizer cannot be loaded."""


@dataclass(frozen=True)
class LoadedModel:
    model: Any  # a transformers ...ForQuestionAnswering module, in eval mode
    tokenizer: Any  # a fast tokenizer (offsets and word ids are needed)
    device: torch.device
    precision: str  # fp32, fp16, bf16 or int8
    # Whether the model reads segment ids (BERT, ALBERT, ELECTRA, MobileBERT do; DistilBERT and
    # RoBERTa do not): they are passed exactly when the model was trained with them.
    segment_ids: bool = False
    pad_id: int = 0  # the tokenizer's padding token (RoBERTa's is 1)
    precision_reason: str = ""


def resolve_device(device: str) -> torch.device:
    """auto: CUDA, then Apple MPS, then CPU."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"reader.device is {device!r} but torch sees no CUDA device: use device auto or cpu")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError("reader.device is 'mps' but MPS is not available: use device auto or cpu")
    return torch.device(device)


def resolve_precision(precision: str, device: torch.device) -> tuple[str, str]:
    """(precision, why): auto as pipeline.reader.precision decides it; fp16 or int8 where they cannot run well."""
    chosen, reason = precisions.resolve_precision(precision, device.type, precisions.cpu_bf16_flag())
    if chosen == "int8" and device.type != "cpu":
        raise ModelLoadError(f"reader.precision int8 (dynamic quantisation) runs on the CPU only, not on {device.type}")
    if chosen == "fp16" and device.type == "cpu":
        logger.warning("fp16 on a CPU is slow; consider precision auto, bf16 or fp32")
    return chosen, reason


def load(model_name: str, device: str = "auto", precision: str = "auto") -> LoadedModel:
    """Load model and tokenizer once, move them to the device and set their precision."""
    target = resolve_device(device)
    precision, reason = resolve_precision(precision, target)
    tokenizer, model = _from_pretrained(model_name)
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(f"the tokenizer of {model_name!r} is not a fast tokenizer: docqa needs its offset mapping (tokenizer.json)")
    model.eval()
    segment_ids = uses_segment_ids(model, tokenizer)
    if precision == "int8":
        # torch.ao's dynamic quantisation is deprecated in favour of the torchao package,
        # but still ships with torch and needs nothing more; silence its notice.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (DeprecationWarning, UserWarning))
            from torch.ao.quantization import quantize_dynamic

            model = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    elif precision in ("fp16", "bf16"):
        model = model.to(dtype=torch.float16 if precision == "fp16" else torch.bfloat16)
    model = model.to(target)
    logger.info("reader: %s on %s, %s (%s)%s", model_name, target, precision, reason, ", with segment ids" if segment_ids else "")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return LoadedModel(model, tokenizer, target, precision, segment_ids, pad_id, reason)


def uses_segment_ids(model: Any, tokenizer: Any) -> bool:
    """Whether the model takes token_type_ids and its tokenizer makes them, as in training.

    Decided once at load, as transformers' own pipelines do it: the tokenizer's
    `model_input_names` say what the model was trained on (RoBERTa's omit segment ids although
    its forward accepts them), and the forward signature says what it accepts.
    """
    import inspect

    accepts = "token_type_ids" in inspect.signature(model.forward).parameters
    return accepts and "token_type_ids" in getattr(tokenizer, "model_input_names", ())


def _from_pretrained(model_name: str) -> tuple[Any, Any]:
    local = Path(model_name).expanduser()
    if local.exists() or model_name.startswith((".", "/", "~")):
        if not local.is_dir():
            raise ModelLoadError(f"reader model {model_name!r}: no such folder: set reader.model to a folder holding the model")
        return _load_from(str(local), model_name, where=f"the local folder {local.resolve()}")
    try:
        # The cache first: no network request when the model is already there.
        return _load_from(model_name, model_name, where="the Hugging Face cache", local_files_only=True)
    except ModelLoadError:
        if _offline():
            raise ModelLoadError(
                f"cannot load reader model {model_name!r}: it is not in the Hugging Face cache "
                f"({_cache_dir()}) and HF_HUB_OFFLINE is set. Fix: {fetch_hint(model_name)}"
            ) from None
    # One short request first: an unreachable hub is one line at once, not a minute of
    # retries; the download itself logs nothing below errors (its retries were logged twice).
    check_hub(model_name)
    with _quiet("huggingface_hub", "transformers"):
        return _load_from(model_name, model_name, where=f"the Hugging Face hub and the cache ({_cache_dir()})", download=True)


@contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name in loggers]
    for logger_, _ in saved:
        logger_.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger_, level in saved:
            logger_.setLevel(level)


@contextmanager
def _no_progress_bars() -> Iterator[None]:
    """transformers' progress bars off while docqa loads a model from disk: its "Loading
    weights" bar says nothing a user needs and lands among interactive answers."""
    from transformers.utils import logging as transformers_logging

    enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            transformers_logging.enable_progress_bar()


def _load_from(source: str, model_name: str, *, where: str, download: bool = False, **kwargs: Any) -> tuple[Any, Any]:
    try:
        # A download from the hub keeps its bars (it takes a while); reading from disk does not.
        with contextlib.nullcontext() if download else _no_progress_bars():
            tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
            model = AutoModelForQuestionAnswering.from_pretrained(source, **kwargs)
        # docqa tokenizes whole passages (for word boundaries) and windows them itself to the
        # model's length (features.make_windows), so transformers' "Token indices sequence
        # length is longer than the specified maximum ... will result in indexing errors" is
        # wrong for it; the tokenizer's own record of having warned keeps it quiet, for
        # this tokenizer only.
        if hasattr(tokenizer, "deprecation_warnings"):
            tokenizer.deprecation_warnings["sequence-length-is-longer-than-the-specified-maximum"] = True
    except (OSError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"cannot load reader model {model_name!r} from {where}: {first_line} "
            f"Fix: set reader.model to a local folder holding the model (config.json, weights, tokenizer.json), "
            f"or fetch it on a connected machine (hf download {model_name}) and copy it over"
        ) from None
    return tokenizer, model


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _cache_dir() -> str:
    from huggingface_hub.constants import HF_HUB_CACHE

    return str(HF_HUB_CACHE)
