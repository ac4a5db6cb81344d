from __future__ import annotations

import pytest

from ingest.options import IngestOptions
from store.document_store import SQLiteDocumentStore


@pytest.fixture
def store(tmp_path):
    s = SQLiteDocumentStore(tmp_path / "index.db")
    yield s
    s.close()


@pytest.fixture
def options():
    # Small passages so that short test files split into several.
    return IngestOptions(split_length=40, split_overlap=8, workers=0)
