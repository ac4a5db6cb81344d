"""One typed configuration: config.yaml -> frozen dataclasses.

Every default lives in the dataclasses (each section next to the code that uses it); the
top-level config.yaml documents them, and a test keeps the two identical. A user's file may
set any subset of keys; an unknown key or a wrong type is a ConfigError naming the key and
the file.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from store.errors import DocqaError
from ingest.options import IngestOptions

_STRICT = {"extra": "forbid", "strict": True}


class ConfigError(DocqaError):
    """The configuration file cannot be read or does not validate."""


@dataclass(frozen=True)
class StoreConfig:
    __pydantic_config__ = _STRICT

    path: str = "docqa.db"


@dataclass(frozen=True)
class Config:
    __pydantic_config__ = _STRICT

    store: StoreConfig = field(default_factory=StoreConfig)
    ingest: IngestOptions = field(default_factory=IngestOptions)

    def with_db(self, db: str | None) -> Config:
        """This configuration with store.path replaced (the --db option), when given."""
        return self if db is None else dataclasses.replace(self, store=StoreConfig(path=db))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(path: str | Path | None = None) -> Config:
    """The defaults, overridden by the YAML file at `path` when one is given."""
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
        return Config()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (store:, ingest:, ...), got {type(raw).__name__}")
    return validate(raw, source=str(path))


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
