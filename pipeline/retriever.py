"""BM25 retrieval as Haystack components: over the store's FTS5 index, or with rank-bm25.

`BM25Retriever` (the default, `retriever.backend: fts5`) asks SQLite: nothing is loaded into
memory at start-up, and passages indexed a moment ago are found at once.
`RankBM25Retriever` (`backend: rank_bm25`) builds rank-bm25's in-memory index from the
store's passages with the same tokenizer policy (store.terms); it serves as the reference
the FTS5 ranking is tested against, and for small collections that want Okapi BM25 as
rank-bm25 computes it.
"""

from __future__ import annotations

from typing import Any

from store import haystack_compat  # noqa: F401  (Haystack without torch)
from haystack import Document, component, default_from_dict, default_to_dict

from store.document_store import SQLiteDocumentStore
from store.terms import terms

BACKENDS = ("fts5", "rank_bm25")


def _check_top_k(top_k: int) -> None:
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")


class _StoreRetriever:
    """What both backends share: a store, a default top_k, and their serialisation."""

    def __init__(self, document_store: SQLiteDocumentStore, top_k: int = 20) -> None:
        _check_top_k(top_k)
        self.document_store = document_store
        self.top_k = top_k

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
    """Passages for a query by BM25 over the store's FTS5 index; Document.score is the BM25 score.

    `max_postings`: see SQLiteDocumentStore.bm25_retrieval (None ranks with every word).
    """

    def __init__(self, document_store: SQLiteDocumentStore, top_k: int = 20, max_postings: int | None = None) -> None:
        _StoreRetriever.__init__(self, document_store, top_k)
        self.max_postings = max_postings

    def _parameters(self) -> dict[str, Any]:
        return {**_StoreRetriever._parameters(self), "max_postings": self.max_postings}

    @component.output_types(documents=list[Document])
    def run(
        self,
        query: str,
        top_k: int | None = None,
        filters: dict[str, Any] | None = None,
        paths: list[str] | None = None,
        file_ids: list[int] | None = None,
    ) -> dict[str, Any]:
        """`paths`: glob patterns on file paths; `file_ids`: only these files; `filters`: Haystack filters."""
        top_k = self.top_k if top_k is None else top_k
        _check_top_k(top_k)
        docs = self.document_store.bm25_retrieval(
            query, top_k, filters, paths=paths, file_ids=file_ids, max_postings=self.max_postings
        )
        return {"documents": docs}


@component
class RankBM25Retriever(_StoreRetriever):
    """Okapi BM25 by rank-bm25 over every passage of the store, loaded into memory once."""

    def __init__(self, document_store: SQLiteDocumentStore, top_k: int = 20) -> None:
        # Explicit base call: @component rebuilds the class, which breaks zero-argument super().
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

    @component.output_types(documents=list[Document])
    def run(self, query: str, top_k: int | None = None) -> dict[str, Any]:
        top_k = self.top_k if top_k is None else top_k
        _check_top_k(top_k)
        self.warm_up()
        query_terms = terms(query, drop_stopwords=True) or terms(query)
        if self._bm25 is None or not query_terms or self._documents is None:
            return {"documents": []}
        scores = self._bm25.get_scores(query_terms)
        best = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:top_k]
        docs = [Document(id=self._documents[i].id, content=self._documents[i].content, meta=self._documents[i].meta, score=float(scores[i])) for i in best if scores[i] > 0]
        return {"documents": docs}
