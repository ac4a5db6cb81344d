"""The reader as a Haystack component, usable inside any Haystack pipeline."""

from __future__ import annotations

import dataclasses
from typing import Any

from store.haystack_compat import Document, ExtractedAnswer, default_from_dict, default_to_dict
from haystack import component

from pipeline.config import ReaderConfig
from pipeline.reader.reader import Reader


@component
class ExtractiveReader:
    """Extracts answers to a query from Documents; keyword arguments are ReaderConfig's keys.

    The constructor only validates (cheap); `warm_up()` loads the model. Answers are
    `ExtractedAnswer`s whose score is the probability, with the raw logit score, the file
    and the page in `meta`. For many queries at once use `reader.read_batch`.
    """

    def __init__(self, reader: Reader | None = None, **settings: Any) -> None:
        """Settings are ReaderConfig's keys; or pass an existing `reader` to share its loaded model,
        with at most `top_k` (answers per run, instead of the reader's reader.top_k)."""
        if reader is not None and set(settings) - {"top_k"}:
            raise ValueError("pass either a reader (and top_k) or reader settings, not both")
        self.reader = reader if reader is not None else Reader(ReaderConfig(**settings))
        self.config = self.reader.config if reader is None else dataclasses.replace(reader.config, **settings)

    def warm_up(self) -> None:
        self.reader.warm_up()

    @component.output_types(answers=list[ExtractedAnswer])
    def run(self, query: str, documents: list[Document], top_k: int | None = None) -> dict[str, Any]:
        answers = self.reader.read(query, documents, top_k=self.config.top_k if top_k is None else top_k)
        return {"answers": [a.to_extracted_answer() for a in answers]}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, **dataclasses.asdict(self.config))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExtractiveReader:
        return default_from_dict(cls, data)
