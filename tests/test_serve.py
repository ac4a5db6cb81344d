"""`docqa serve` as a newcomer meets it: API docs offline, start-up, uploads (the rest is tests/test_api.py)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
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


def test_the_same_upload_is_not_stored_twice(client, setup):
    _, qa = setup
    body = {"file": ("keeper.txt", b"The lighthouse keeper was named Ada Sterling.", "text/plain")}
    first = client.post("/documents", files=body)
    assert first.status_code == 201, first.text
    again = client.post("/documents", files={"file": ("keeper-copy.txt", body["file"][1], "text/plain")})
    assert again.status_code == 200  # not created
    assert again.json() == {**first.json(), "duplicate": True, "message": f"already indexed as document {first.json()['id']} ({first.json()['file']}): not stored again"}
    assert client.get("/documents").json()["total"] == 4
    assert len([p for p in Path(setup[0].api.data_folder).iterdir()]) == 1
    assert client.delete(f"/documents/{first.json()['id']}").status_code == 204


def docqa(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_serve_on_a_busy_port_says_so_before_loading_anything(tmp_path, tiny_model):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.perf_counter()
        process = docqa("serve", "--port", str(port), "--db", str(tmp_path / "i.db"), cwd=tmp_path)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert stderr == (
        f"Error: cannot listen on 127.0.0.1:{port} (Address already in use): another program, perhaps another docqa serve, "
        "uses that port: pass --port N or stop it\n"
    )
    assert time.perf_counter() - started < 10  # it loaded the model for 9 s before
    assert not (tmp_path / "i.db").exists()


def test_serve_starts_on_a_missing_database_and_is_filled_by_uploads(tmp_path, tiny_model):
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "docqa.yaml").write_text(f"reader:\n  model: {tiny_model}\napi:\n  port: {port}\n", encoding="utf-8")
    process = docqa("serve", cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert httpx.post(url + "/ask", json={"question": "Who kept the lighthouse?"}).status_code == 503  # empty, not down
        uploaded = httpx.post(url + "/documents", files={"file": ("keeper.txt", b"The lighthouse keeper was named Ada Sterling.", "text/plain")})
        assert uploaded.status_code == 201, uploaded.text
        answer = httpx.post(url + "/ask", json={"question": "Who kept the lighthouse?"}).json()
        assert answer["answers"] and answer["answers"][0]["file"] == uploaded.json()["file"]
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)
    assert stdout == ""  # the access log is a log: on stderr
    assert f"listening on {url}/ (the page; the API's description at {url}/docs); loading the reader model...\n" in stderr
    assert '"POST /documents HTTP/1.1" 201' in stderr
    assert f"the database {tmp_path / 'docqa.db'} holds no passages yet: upload files on the page at {url}/" in stderr
