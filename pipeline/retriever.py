"""BM25 retrieval as Haystack components: over the store's indexes, or with rank-bm25.

`BM25Retriever` asks the store: nothing is loaded into memory at start-up, and passages
indexed a moment ago are found at once. With `retriever.backend: tantivy` (the default) it
ranks with the tantivy index beside the database (exact top k, fast at millions of
passages); with `fts5`, with SQLite's FTS5 index (exact, or cut by `max_postings`).
`RankBM25Retriever` (`backend: rank_bm25`) builds rank-bm25's in-memory index from the
store's passages with the same tokenizer policy (store.terms); it serves as the reference
the FTS5 ranking is tested against, and for small collections that want Okapi BM25 as
rank-bm25 computes it.

Both take the same `run()` arguments, so a caller never asks which one it has; the
rank-bm25 backend refuses the restrictions it cannot apply with a FilterError.
"""

from __future__ import annotations

from typing import Any

from store import haystack_compat  # noqa: F401  (Haystack without torch)
from haystack import Document, component, default_from_dict, default_to_dict

from store.document_store import SQLiteDocumentStore
from store.errors import check_count
from store.terms import terms

from pipeline.checks import FilterError
from pipeline.config import RetrieverConfig


class _StoreRetriever:
    """What both backends share: a store, a default top_k, run()'s arguments, and their serialisation."""

    def __init__(self, document_store: SQLiteDocumentStore, top_k: int = 20) -> None:
        check_count("top_k", top_k)
        self.document_store = document_store
        self.top_k = top_k

    @component.output_types(documents=list[Document])
    def run(
        self,
        query: str,
        top_k: int | None = None,
        filters: dict[str, Any] | None = None,
        paths: list[str] | None = None,
        file_ids: list[int] | None = None,
    ) -> dict[str, Any]:
        """The `top_k` passages that best match `query`, best first; Document.score is the BM25 score.

        `filters`: Haystack filters; `paths`: glob patterns on file paths; `file_ids`: only these files.
        """
        top_k = check_count("top_k", self.top_k if top_k is None else top_k)
        self.check_restrictions(filters, paths, file_ids)
        return {"documents": self._retrieve(query, top_k, filters, paths, file_ids)}

    def check_restrictions(self, filters: dict[str, Any] | None, paths: list[str] | None, file_ids: list[int] | None) -> None:
        """FilterError when this backend cannot apply these restrictions (checked before any work)."""

    def _retrieve(
        self, query: str, top_k: int, filters: dict[str, Any] | None, paths: list[str] | None, file_ids: list[int] | None
    ) -> list[Document]:
        raise NotImplementedError

    def _parameters(self) -> dict[str, Any]:
        return {"document_store": self.document_store.to_dict(), "top_k": self.top_k}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, **self._parameters())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        data["init_parameters"]["document_store"] = SQLiteDocumentStore.from_dict(data["init_parameters"]["document_store"])
        return default_from_dict(cls, data)


@component
class BM25Retriever(_StoreRetriever):
    """Passages for a query by BM25 over one of the store's indexes.

    `engine`: "tantivy" or "fts5"; `max_postings` (fts5 only): see
    SQLiteDocumentStore.bm25_retrieval (None ranks with every word).
    """

    def __init__(
        self, document_store: SQLiteDocumentStore, top_k: int = 20, max_postings: int | None = None, engine: str = "tantivy"
    ) -> None:
        # Explicit base call: @component rebuilds the class, which breaks zero-argument super().
        _StoreRetriever.__init__(self, document_store, top_k)
        if engine not in ("tantivy", "fts5"):
            raise ValueError(f"engine must be 'tantivy' or 'fts5', got {engine!r}")
        self.max_postings = max_postings
        self.engine = engine

    def _parameters(self) -> dict[str, Any]:
        return {**_StoreRetriever._parameters(self), "max_postings": self.max_postings, "engine": self.engine}

    def _retrieve(
        self, query: str, top_k: int, filters: dict[str, Any] | None, paths: list[str] | None, file_ids: list[int] | None
    ) -> list[Document]:
        max_postings = self.max_postings if self.engine == "fts5" else None
        return self.document_store.bm25_retrieval(
            query, top_k, filters, paths=paths, file_ids=file_ids, max_postings=max_postings, engine=self.engine
        )


@component
class RankBM25Retriever(_StoreRetriever):
    """Okapi BM25 by rank-bm25 over every passage of the store, loaded into memory once."""

    def __init__(self, document_store: SQLiteDocumentStore, top_k: int = 20) -> None:
        _StoreRetriever.__init__(self, document_store, top_k)
        self._documents: list[Document] | None = None
        self._bm25: Any = None

    def warm_up(self) -> None:
        """Load and tokenize every passage (the cost the FTS5 backend avoids)."""
        if self._bm25 is None:
            from rank_bm25 import BM25Okapi

            self._documents = self.document_store.filter_documents()
            corpus = [terms(d.content or "") for d in self._documents]
            # k1 and b as FTS5's bm25() uses them, so both backends compute the same formula.
            self._bm25 = BM25Okapi(corpus, k1=1.2, b=0.75) if corpus else None

    def check_restrictions(self, filters: dict[str, Any] | None, paths: list[str] | None, file_ids: list[int] | None) -> None:
        if filters or paths or file_ids:
            raise FilterError("filters and --file patterns need retriever.backend tantivy or fts5; rank_bm25 searches every passage")

    def _retrieve(
        self, query: str, top_k: int, filters: dict[str, Any] | None, paths: list[str] | None, file_ids: list[int] | None
    ) -> list[Document]:
        self.warm_up()
        query_terms = terms(query, drop_stopwords=True) or terms(query)
        if self._bm25 is None or not query_terms or self._documents is None:
            return []
        scores = self._bm25.get_scores(query_terms)
        best = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:top_k]
        return [Document(id=self._documents[i].id, content=self._documents[i].content, meta=self._documents[i].meta, score=float(scores[i])) for i in best if scores[i] > 0]


def make_retriever(store: SQLiteDocumentStore, config: RetrieverConfig) -> BM25Retriever | RankBM25Retriever:
    """The retriever `config.backend` names, over `store`."""
    if config.backend in ("tantivy", "fts5"):
        return BM25Retriever(store, top_k=config.top_k, max_postings=config.max_postings, engine=config.backend)
    return RankBM25Retriever(store, top_k=config.top_k)
