"""`docqa serve` as a newcomer meets it: API docs offline, start-up, uploads (the rest is tests/test_api.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.indexer import index_paths
from ingest.options import IngestOptions
from pipeline.config import ApiConfig, Config, ReaderConfig, StoreConfig
from pipeline.qa import QA
from pipeline.serve.app import create_app
from store.document_store import SQLiteDocumentStore

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_model):
    folder = tmp_path_factory.mktemp("serve")
    config = Config(
        store=StoreConfig(path=str(folder / "index.db")),
        reader=ReaderConfig(model=str(tiny_model)),
        api=ApiConfig(data_folder=str(folder / "uploads")),
    )
    store = SQLiteDocumentStore(config.store.path)
    index_paths(store, [REPO / "examples"], IngestOptions(workers=0), show_progress=False)
    return config, QA(config, store=store)


@pytest.fixture
def client(setup):
    config, qa = setup
    with TestClient(create_app(config, qa)) as c:
        yield c


def test_docs_and_redoc_load_their_assets_from_the_server(client):
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        assets = re.findall(r"""(?:src|href)=["']?([^"' >]+)""", html.text) + re.findall(r"url: '([^']+)'", html.text)
        assert assets and all(a.startswith("/") for a in assets), assets
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
