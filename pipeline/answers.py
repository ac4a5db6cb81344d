"""The answer type: defined once, used by the reader, the ranking, the CLI and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ingest.converted import pages_of

if TYPE_CHECKING:
    from haystack import Document
    from haystack.dataclasses import ExtractedAnswer


@dataclass(frozen=True)
class Answer:
    """A span of one passage that answers a question.

    `score` is the reader's raw start+end logit sum: it compares across passages and
    documents because it is never normalised per passage. `probability` is the share of the
    question's probability mass on this answer, normalised over every candidate span of
    every passage read for the question (spans with the same text in one passage add up).
    `passage_log_norm` is the logsumexp of the raw scores of every valid span of the passage
    (all its windows): `exp(score - passage_log_norm)` is the answer's probability within its
    passage, and the passage's own log-normaliser is the reader's evidence for it as a whole.
    `passage.content[start:end] == text` always holds.
    """

    question: str
    text: str
    score: float
    probability: float
    passage: Document
    start: int
    end: int
    passage_log_norm: float = 0.0

    @property
    def file(self) -> str | None:
        return self.passage.meta.get("file_path")

    @property
    def page(self) -> int | None:
        """The page of the answer's first character (None for a file without pages)."""
        return page_at(self.passage, self.start)

    @property
    def pages(self) -> list[int] | None:
        """Every page the answer lies on, first to last: [2], or [2, 3] across a page break.

        The rest of a word hyphenated across a page break stands before the break, made whole
        (Converted.next_page_spans), so an answer can end on its first page and still hold
        characters of the next, or start on the next and end on the first: the pages are
        those of every character, lowest to highest.
        """
        pages = _passage_pages(self.passage)
        if pages is None:
            return None
        held = [pages[_clamped(i, pages)] for i in range(self.start, max(self.end, self.start + 1))]
        return list(range(min(held), max(held) + 1))

    @classmethod
    def from_extracted_answer(cls, answer: ExtractedAnswer) -> Answer:
        """The inverse of to_extracted_answer (for answers that came from docqa's reader)."""
        assert answer.document is not None and answer.document_offset is not None and answer.data is not None
        return cls(
            question=answer.query,
            text=answer.data,
            score=float(answer.meta["raw_score"]),
            probability=answer.score,
            passage=answer.document,
            start=answer.document_offset.start,
            end=answer.document_offset.end,
            passage_log_norm=float(answer.meta.get("passage_log_norm", 0.0)),
        )

    def to_extracted_answer(self) -> ExtractedAnswer:
        """The same answer as Haystack's ExtractedAnswer (score: the probability)."""
        from store.haystack_compat import ExtractedAnswer

        meta: dict[str, Any] = {
            "raw_score": self.score,
            "passage_log_norm": self.passage_log_norm,
            "file_path": self.file,
            "page_number": self.page,  # the page of the answer's first character
            "pages": self.pages,
        }
        return ExtractedAnswer(
            query=self.question,
            score=self.probability,
            data=self.text,
            document=self.passage,
            document_offset=ExtractedAnswer.Span(self.start, self.end),
            meta=meta,
        )


def page_at(passage: Document, offset: int) -> int | None:
    """The page of the character at `offset` of `passage`, None for a passage without a page.

    A passage's meta page_number is the page of its first character; its text is a slice of
    the file's text, whose pages are joined by form feeds, with its meta next_page_spans
    printed on the page after theirs (ingest.converted.pages_of).
    """
    pages = _passage_pages(passage)
    return None if pages is None else pages[_clamped(offset, pages)]


def _passage_pages(passage: Document) -> list[int] | None:
    """The page of each character of `passage` ([page_number] for an empty one), None without pages."""
    first = passage.meta.get("page_number")
    if not isinstance(first, int):
        return None
    return pages_of(passage.content or "", first, passage.meta.get("next_page_spans") or ()) or [first]


def _clamped(offset: int, pages: list[int]) -> int:
    return min(max(offset, 0), len(pages) - 1)
