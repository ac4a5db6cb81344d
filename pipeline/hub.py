"""The reader's model files: where they come from, fetching them, and what a loaded model is.

`reader.model` is a local folder or a Hugging Face hub id. `locate()` says where the model
will be loaded from — the folder, the Hugging Face cache, or the hub — without importing
torch, so commands can refuse at once, in one line, when it cannot be had: when the hub is
unreachable it costs one request with a short time limit, not transformers' retries (about
a minute, each retry logged twice). `download()` is `docqa model download`; `describe()`
loads the model as the reader does (torch) and says what it is (`docqa model check`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store.errors import DocqaError

# One request to ask the hub whether it knows the model: short, because a machine without
# network should hear so at once.
HUB_TIMEOUT_S = 5.0
# What the reader needs of a model repository (not its TensorFlow, ONNX or Rust copies).
_MODEL_FILES = ["config.json", "tokenizer*", "vocab*", "merges.txt", "special_tokens_map.json", "*.model"]


class ModelUnavailableError(DocqaError):
    """The configured model cannot be had: no such folder, not cached and no hub, or no such model."""


@dataclass(frozen=True)
class Located:
    name: str  # reader.model as configured
    source: str  # "folder", "cache" or "hub"
    where: str  # for people: "the local folder /x", "the Hugging Face cache (/root/.cache/...)"


@dataclass(frozen=True)
class ModelReport:
    """What `docqa model check` prints."""

    name: str
    where: str
    architecture: str  # e.g. DistilBertForQuestionAnswering
    model_type: str  # e.g. distilbert
    parameters: int
    tokenizer: str
    vocabulary: int
    lowercase: bool
    device: str
    precision: str
    segment_ids: bool
    seconds: float

    def lines(self) -> list[str]:
        return [
            f"model       {self.name}",
            f"from        {self.where}",
            f"type        {self.model_type} ({self.architecture}), {self.parameters:,} parameters",
            f"tokenizer   {self.tokenizer}, {self.vocabulary} tokens, {'uncased' if self.lowercase else 'cased'}",
            f"device      {self.device}",
            f"precision   {self.precision}",
            f"segment ids {'yes' if self.segment_ids else 'no'}",
            f"loaded in   {self.seconds:.1f} s",
        ]


def fetch_hint(name: str) -> str:
    """How to get a hub model onto a machine without network (the one place that says it)."""
    return (
        f"on a machine with network run `docqa model download {name} --to DIR` "
        f"(or `hf download {name} --local-dir DIR`), copy DIR here and set reader.model to it"
    )


def is_local(name: str) -> bool:
    """Whether reader.model names a folder rather than a hub id."""
    return Path(name).expanduser().exists() or name.startswith((".", "/", "~"))


def locate(name: str) -> Located:
    """Where the model `name` will be loaded from; ModelUnavailableError, in one line, when it cannot be."""
    if is_local(name):
        folder = Path(name).expanduser()
        if not folder.is_dir():
            raise ModelUnavailableError(f"reader model {name!r}: no such folder: set reader.model to a folder holding the model")
        return Located(name, "folder", f"the local folder {folder.resolve()}")
    if in_cache(name):
        return Located(name, "cache", f"the Hugging Face cache ({cache_dir()})")
    if offline():
        raise ModelUnavailableError(
            f"cannot load reader model {name!r}: it is not in the Hugging Face cache ({cache_dir()}) "
            f"and HF_HUB_OFFLINE is set. Fix: {fetch_hint(name)}"
        )
    check_hub(name)
    return Located(name, "hub", f"the Hugging Face hub ({endpoint()})")


def in_cache(name: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except ValueError:  # not a valid repository id
        return False


def check_hub(name: str, downloading: bool = False) -> None:
    """ModelUnavailableError when the hub cannot be reached in HUB_TIMEOUT_S or does not know `name`."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        HfApi(endpoint=endpoint()).model_info(name, timeout=HUB_TIMEOUT_S)
    except GatedRepoError:
        raise ModelUnavailableError(
            f"reader model {name!r} is gated on the Hugging Face hub: accept its terms on its page and log in (`hf auth login`)"
        ) from None
    except RepositoryNotFoundError:
        raise ModelUnavailableError(
            f"no model {name!r} on the Hugging Face hub ({endpoint()}): set reader.model to a hub id or to a local folder holding the model"
        ) from None
    except Exception as exc:  # connection refused, DNS, time-out, proxy, HTTP 5xx: the hub cannot serve it
        if downloading:
            raise ModelUnavailableError(
                f"cannot download {name!r}: the Hugging Face hub ({endpoint()}) cannot be reached ({_reason(exc)}). "
                "Fix: run this on a machine with network and copy the folder over (--to DIR)"
            ) from None
        raise ModelUnavailableError(
            f"cannot load reader model {name!r}: it is not in the Hugging Face cache ({cache_dir()}) and the hub "
            f"({endpoint()}) cannot be reached ({_reason(exc)}). Fix: {fetch_hint(name)}"
        ) from None


def download(name: str, to: str | os.PathLike[str] | None = None) -> Path:
    """Fetch the files the reader needs of hub model `name`: into folder `to`, or into the Hugging Face cache."""
    from huggingface_hub import HfApi, snapshot_download

    if offline():
        raise ModelUnavailableError(f"cannot download {name!r}: HF_HUB_OFFLINE is set (unset it on a machine with network)")
    check_hub(name, downloading=True)
    files = [s.rfilename for s in HfApi(endpoint=endpoint()).model_info(name, timeout=HUB_TIMEOUT_S).siblings or []]
    # The weights once: safetensors when the repository has them, else PyTorch's .bin.
    weights = ["*.safetensors"] if any(f.endswith(".safetensors") for f in files) else ["pytorch_model*.bin"]
    try:
        path = snapshot_download(name, local_dir=to, allow_patterns=_MODEL_FILES + weights, endpoint=endpoint())
    except Exception as exc:
        raise ModelUnavailableError(f"downloading {name!r} failed: {_reason(exc)}") from None
    return Path(path)


def describe(reader: Any) -> ModelReport:
    """Load the model as the reader would (ReaderConfig `reader`) and say what it is. Imports torch."""
    located = locate(reader.model)  # before torch is imported: a model that cannot be had is said at once
    from pipeline.reader.loading import load

    started = time.perf_counter()
    loaded = load(reader.model, reader.device, reader.precision)
    tokenizer = loaded.tokenizer
    return ModelReport(
        name=reader.model,
        where=located.where,
        architecture=type(loaded.model).__name__,
        model_type=getattr(loaded.model.config, "model_type", "?"),
        parameters=sum(p.numel() for p in loaded.model.parameters()),
        tokenizer=type(tokenizer).__name__,
        vocabulary=len(tokenizer),
        lowercase=bool(getattr(tokenizer, "do_lower_case", False)) or tokenizer("A")["input_ids"] == tokenizer("a")["input_ids"],
        device=str(loaded.device),
        precision=loaded.precision,
        segment_ids=loaded.segment_ids,
        seconds=time.perf_counter() - started,
    )


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def endpoint() -> str:
    from huggingface_hub import constants

    return os.environ.get("HF_ENDPOINT") or constants.ENDPOINT


def cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:160] or type(exc).__name__).rstrip(".")
