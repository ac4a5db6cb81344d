"""Indexing options: the `ingest` section of config.yaml, with its defaults."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OcrOptions:
    """The `ingest.ocr` section: reading pages without a text layer and image files (ingest/ocr.py)."""

    __pydantic_config__ = {"extra": "forbid", "strict": True}

    enabled: bool = True
    languages: str = "eng"
    dpi: int = 300
    page_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if not self.languages or not all(part.replace("_", "").isalnum() for part in self.languages.split("+")):
            raise ValueError(f"languages must be Tesseract language names joined by + (eng, eng+deu), got {self.languages!r}")
        if not 70 <= self.dpi <= 1200:
            raise ValueError(f"dpi must be between 70 and 1200, got {self.dpi}")
        if self.page_timeout_s <= 0:
            raise ValueError(f"page_timeout_s must be > 0, got {self.page_timeout_s}")


@dataclass(frozen=True)
class IngestOptions:
    # Read by pydantic when pipeline.config validates config.yaml: unknown keys and wrong
    # types are errors. A plain dict, so this module does not import pydantic.
    __pydantic_config__ = {"extra": "forbid", "strict": True}

    include: list[str] = field(
        default_factory=lambda: ["*.pdf", "*.txt", "*.md", "*.docx", "*.html", "*.htm", "*.epub", "*.png", "*.jpg", "*.jpeg", "*.tif", "*.tiff"]
    )
    exclude: list[str] = field(default_factory=lambda: [".*", "__pycache__", "node_modules"])
    split_length: int = 120
    split_overlap: int = 20
    workers: int | None = None
    timeout_s: float = 120.0
    max_memory_mb: int = 2048
    stream_text_above_mb: float = 32.0
    encoding: str = "auto"
    ocr: OcrOptions = field(default_factory=OcrOptions)

    def __post_init__(self) -> None:
        if self.split_length < 1:
            raise ValueError(f"split_length must be >= 1, got {self.split_length}")
        if not 0 <= self.split_overlap < self.split_length:
            raise ValueError(f"split_overlap must be >= 0 and < split_length ({self.split_length}), got {self.split_overlap}")
        if self.workers is not None and self.workers < 0:
            raise ValueError(f"workers must be >= 0 (0: convert in the main process), got {self.workers}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.max_memory_mb < 256:
            raise ValueError(f"max_memory_mb must be >= 256, got {self.max_memory_mb}")
        if self.stream_text_above_mb < 0:
            raise ValueError(f"stream_text_above_mb must be >= 0, got {self.stream_text_above_mb}")
        if self.encoding != "auto":
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ValueError(f"encoding must be auto or the name of an encoding (cp1252, latin-1, cp1250, ...), got {self.encoding!r}") from None

    @property
    def splitter(self) -> str:
        """Identifies how passages were made: a file indexed under other settings is re-indexed."""
        forced = "" if self.encoding == "auto" else f" encoding={codecs.lookup(self.encoding).name}"
        return f"words/v1 length={self.split_length} overlap={self.split_overlap}{forced}"
