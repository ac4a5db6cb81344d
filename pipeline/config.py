"""One typed configuration: config.yaml -> frozen dataclasses.

Every default lives in the dataclasses (each section next to the code that uses it); the
top-level config.yaml documents them, and a test keeps the two identical. A user's file may
set any subset of keys; an unknown key or a wrong type is a ConfigError naming the key and
the file. Relative paths a file sets (store.path, api.data_folder, a reader.model folder) are
relative to the file's folder, wherever the command runs; a project's docqa.yaml, found by
`find_config`, also anchors the default paths (docqa.db) in its folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from store.errors import DocqaError, check_count
from ingest.options import IngestOptions
from pipeline.ranking import RETRIEVAL_WEIGHT


_STRICT = {"extra": "forbid", "strict": True}


class ConfigError(DocqaError):
    """The configuration file cannot be read or does not validate."""


@dataclass(frozen=True)
class StoreConfig:
    __pydantic_config__ = _STRICT

    path: str = "docqa.db"


_DEVICES = ("auto", "cpu", "cuda", "mps")
_PRECISIONS = ("auto", "fp32", "fp16", "bf16", "int8")


@dataclass(frozen=True)
class ReaderConfig:
    __pydantic_config__ = _STRICT

    model: str = "distilbert-base-cased-distilled-squad"
    device: str = "auto"
    precision: str = "auto"
    max_seq_len: int = 384
    doc_stride: int = 128
    max_question_len: int = 64
    max_answer_len: int = 30
    top_k: int = 30
    n_best_per_window: int | None = None
    batch_tokens: int | None = None
    max_batch_size: int = 64

    def __post_init__(self) -> None:
        if self.device not in _DEVICES and not (self.device.startswith("cuda:") and self.device[5:].isdigit()):
            raise ValueError(f"device must be one of {', '.join(_DEVICES)} or cuda:N, got {self.device!r}")
        if self.precision not in _PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(_PRECISIONS)}, got {self.precision!r}")
        if not 0 < self.doc_stride < self.max_seq_len:
            raise ValueError(f"doc_stride must be > 0 and < max_seq_len ({self.max_seq_len}), got {self.doc_stride}")
        if not 0 < self.max_question_len <= self.max_seq_len - self.doc_stride - 3:
            raise ValueError(
                f"max_question_len must be > 0 and leave room for doc_stride and 3 special tokens "
                f"(<= {self.max_seq_len - self.doc_stride - 3}), got {self.max_question_len}"
            )
        for name in ("max_answer_len", "top_k", "max_batch_size"):
            check_count(name, getattr(self, name))
        if self.n_best_per_window is not None and self.n_best_per_window < 1:
            raise ValueError(f"n_best_per_window must be >= 1 or null, got {self.n_best_per_window}")
        if self.batch_tokens is not None and self.batch_tokens < self.max_seq_len:
            raise ValueError(f"batch_tokens must be >= max_seq_len ({self.max_seq_len}), got {self.batch_tokens}")


_BACKENDS = ("tantivy", "fts5", "rank_bm25")


@dataclass(frozen=True)
class RetrieverConfig:
    __pydantic_config__ = _STRICT

    backend: str = "tantivy"
    top_k: int = 20
    max_postings: int | None = 50_000

    def __post_init__(self) -> None:
        if self.backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(_BACKENDS)}, got {self.backend!r}")
        check_count("top_k", self.top_k)
        if self.max_postings is not None and self.max_postings < 1:
            raise ValueError(f"max_postings must be >= 1 or null, got {self.max_postings}")


@dataclass(frozen=True)
class AskConfig:
    __pydantic_config__ = _STRICT

    top_k: int = 5
    retrieval_weight: float = RETRIEVAL_WEIGHT
    min_score: float = 0.16  # chosen from the refusal curve in BENCHMARKS.md
    context_chars: int = 200
    max_question_chars: int = 1000

    def __post_init__(self) -> None:
        check_count("top_k", self.top_k)
        if self.retrieval_weight < 0:
            raise ValueError(f"retrieval_weight must be >= 0, got {self.retrieval_weight}")
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score must be within [0, 1], got {self.min_score}")
        if self.context_chars < 0:
            raise ValueError(f"context_chars must be >= 0, got {self.context_chars}")
        check_count("max_question_chars", self.max_question_chars)


@dataclass(frozen=True)
class ApiConfig:
    __pydantic_config__ = _STRICT

    host: str = "127.0.0.1"
    port: int = 8000
    key: str | None = None
    cors_origins: list[str] = field(default_factory=list)
    data_folder: str = "docqa-uploads"
    max_upload_mb: float = 50.0
    micro_batching: bool = True
    batch_wait_ms: float = 10.0
    max_batch_questions: int = 32
    max_batch_request: int = 100
    max_top_k: int = 50

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be within 1..65535, got {self.port}")
        for name in ("max_upload_mb", "max_batch_questions", "max_batch_request", "max_top_k"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.batch_wait_ms < 0:
            raise ValueError(f"batch_wait_ms must be >= 0, got {self.batch_wait_ms}")


@dataclass(frozen=True)
class RayConfig:
    __pydantic_config__ = _STRICT

    actors: int | None = None
    cpus_per_actor: int = 1

    def __post_init__(self) -> None:
        if self.actors is not None:
            check_count("actors", self.actors)
        check_count("cpus_per_actor", self.cpus_per_actor)


@dataclass(frozen=True)
class Config:
    __pydantic_config__ = _STRICT

    store: StoreConfig = field(default_factory=StoreConfig)
    ingest: IngestOptions = field(default_factory=IngestOptions)
    retriever: RetrieverConfig = field(default_factory=RetrieverConfig)
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    ask: AskConfig = field(default_factory=AskConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    ray: RayConfig = field(default_factory=RayConfig)

    def with_db(self, db: str | None) -> Config:
        """This configuration with store.path replaced (the --db option), when given."""
        return self if db is None else dataclasses.replace(self, store=StoreConfig(path=db))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# A project's configuration: docqa reads it from the current folder or the nearest parent.
PROJECT_FILE = "docqa.yaml"


def find_config(folder: str | Path) -> Path | None:
    """$DOCQA_CONFIG, else the docqa.yaml of `folder` or of its nearest parent folder that has one."""
    named = os.environ.get("DOCQA_CONFIG")
    if named:
        return Path(named)
    start = Path(folder).resolve()
    for candidate in (start, *start.parents):
        if (candidate / PROJECT_FILE).is_file():
            return candidate / PROJECT_FILE
    return None


def load_config(path: str | Path | None = None, *, project: bool = False) -> Config:
    """The defaults, overridden by the YAML file at `path` when one is given.

    `project`: the file is a project's docqa.yaml, whose folder the default paths start from too.
    """
    if path is None:
        return Config()
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (store:, ingest:, ...), got {type(raw).__name__}")
    return validate(_anchored(raw, path.resolve().parent, project), source=str(path))


# Path keys a file may set, with their defaults (anchored in a project's folder).
_PATHS = {("store", "path"): StoreConfig.path, ("api", "data_folder"): ApiConfig.data_folder}


def _anchored(raw: dict[str, Any], folder: Path, project: bool) -> dict[str, Any]:
    """`raw` with its relative paths made relative to `folder` (see the module docstring)."""
    raw = {name: dict(section) if isinstance(section, dict) else section for name, section in raw.items()}
    for (section, key), default in _PATHS.items():
        values = raw.get(section, {} if project else None)
        if not isinstance(values, dict) or not (key in values or project):
            continue
        value = values.get(key, default)
        if isinstance(value, str) and not Path(value).expanduser().is_absolute():
            values[key] = str(folder / value)
        raw[section] = values
    reader = raw.get("reader")
    model = reader.get("model") if isinstance(reader, dict) else None
    # A relative folder, not a hub id ("org/name"): it says so ("./m") or exists beside the file.
    if isinstance(model, str) and not Path(model).is_absolute() and (model.startswith(("./", "../")) or (folder / model).is_dir()):
        reader["model"] = str(folder / model)
    return raw


def validate(raw: dict[str, Any], source: str) -> Config:
    from pydantic import TypeAdapter, ValidationError

    try:
        # JSON mode: strict types (no "5" for 5) while sections may still be plain mappings.
        return TypeAdapter(Config).validate_json(json.dumps(raw, default=str))
    except ValidationError as exc:
        raise ConfigError(f"{source}: " + "; ".join(_describe(error) for error in exc.errors())) from None


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"])
    if error["type"] == "unexpected_keyword_argument":
        return f"unknown key {location!r}{_valid_keys(error['loc'][:-1])}"
    if error["type"] == "value_error":
        return f"{location or 'config'}: {error['msg'].removeprefix('Value error, ')}"
    return f"{location}: {error['msg'].lower()}, got {error['input']!r}"


def _valid_keys(section: tuple[Any, ...]) -> str:
    cls: Any = Config
    for part in section:
        cls = typing.get_type_hints(cls).get(part) if dataclasses.is_dataclass(cls) else None
    if not dataclasses.is_dataclass(cls):
        return ""
    return f" (valid keys: {', '.join(f.name for f in dataclasses.fields(cls))})"
