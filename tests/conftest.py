from __future__ import annotations

import os

import pytest

from ingest.options import IngestOptions
from store.document_store import SQLiteDocumentStore

# Tests never reach the network: a model that is not on disk fails at once.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HAYSTACK_TELEMETRY_ENABLED"] = "False"


@pytest.fixture
def store(tmp_path):
    s = SQLiteDocumentStore(tmp_path / "index.db")
    yield s
    s.close()


@pytest.fixture
def options():
    # Small passages so that short test files split into several.
    return IngestOptions(split_length=40, split_overlap=8, workers=0)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    from tests.models import build_model

    return build_model(tmp_path_factory.mktemp("tiny-cased"))


@pytest.fixture(scope="session")
def tiny_uncased_model(tmp_path_factory):
    from tests.models import build_model

    return build_model(tmp_path_factory.mktemp("tiny-uncased"), uncased=True)


@pytest.fixture(scope="session")
def tiny_bert_model(tmp_path_factory):
    from tests.models import build_model

    return build_model(tmp_path_factory.mktemp("tiny-bert"), uncased=True, architecture="bert")


@pytest.fixture(scope="session")
def tiny_roberta_model(tmp_path_factory):
    from tests.models import build_roberta_model

    return build_roberta_model(tmp_path_factory.mktemp("tiny-roberta"))


@pytest.fixture(scope="session")
def tiny_roberta_untrimmed_model(tmp_path_factory):
    from tests.models import build_roberta_model

    return build_roberta_model(tmp_path_factory.mktemp("tiny-roberta-untrimmed"), trim_offsets=False)
