from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.api import create_app, safe_name
from pipeline.config import ApiConfig, AskConfig, Config, ReaderConfig, StoreConfig
from pipeline.qa import QA
from store.document_store import SQLiteDocumentStore
from store.errors import StoreError
from ingest.indexer import index_paths
from ingest.options import IngestOptions
from tests.corpus import write_pdf

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_model):
    folder = tmp_path_factory.mktemp("api")
    config = Config(
        store=StoreConfig(path=str(folder / "index.db")),
        reader=ReaderConfig(model=str(tiny_model)),
        ask=AskConfig(min_score=0.0),  # the tiny model's answers are noise that min_score would refuse
        api=ApiConfig(data_folder=str(folder / "uploads"), max_upload_mb=0.05, max_top_k=10, max_batch_request=3),
    )
    store = SQLiteDocumentStore(config.store.path)
    index_paths(store, [REPO / "examples"], IngestOptions(workers=0), show_progress=False)
    qa = QA(config, store=store)
    return config, qa, folder


@pytest.fixture
def client(setup):
    config, qa, _ = setup
    with TestClient(create_app(config, qa)) as c:
        yield c


def error_of(response):
    body = response.json()
    assert set(body) == {"error", "request_id"} and body["request_id"] == response.headers["X-Request-ID"]
    return body["error"]["field"], body["error"]["message"]


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_ask(client):
    response = client.post("/ask", json={"question": "When did the railway close?", "top_k": 2})
    assert response.status_code == 200
    data = response.json()
    assert data["question"] == "When did the railway close?" and data["found"] is True
    assert 1 <= len(data["answers"]) <= 2
    first = data["answers"][0]
    assert first["answer"] in first["context"] and first["file"].startswith(str(REPO / "examples"))


def test_ask_with_filters_and_files(client):
    filters = {"field": "meta.page_number", "operator": "==", "value": 2}
    data = client.post("/ask", json={"question": "What happened in the flood?", "filters": filters}).json()
    assert data["answers"] and all(a["page"] == 2 for a in data["answers"])
    only_txt = client.post("/ask", json={"question": "grind coffee", "files": ["*.txt"]}).json()
    assert all(a["file"].endswith(".txt") for a in only_txt["answers"])


def test_ask_batch_keeps_order(client):
    questions = ["Who built the railway?", "Which planet is the hottest?", "What grind does espresso need?"]
    data = client.post("/ask/batch", json={"questions": questions}).json()
    assert [r["question"] for r in data["results"]] == questions


@pytest.mark.parametrize(
    "body, status, field, message",
    [
        ({"question": "   "}, 422, "question", "the question is empty"),
        ({"question": "x" * 1001}, 422, "question", "the question is 1001 characters long, more than 1000"),
        ({"question": "q?", "top_k": 0}, 422, "top_k", "top_k must be between 1 and 10, got 0"),
        ({"question": "q?", "top_k": 11}, 422, "top_k", "top_k must be between 1 and 10, got 11"),
        ({"question": "q?", "filters": {"operator": "AND"}}, 422, "filters", None),
        ({"question": "q?", "filters": {"field": "meta.x", "operator": ">", "value": "abc"}}, 422, "filters", None),
        ({"question": 3}, 422, "question", "Input should be a valid string"),
        ({"questio": "q?"}, 422, "question", "Field required"),
        ({"question": "q?", "extra": 1}, 422, "extra", "Extra inputs are not permitted"),
    ],
)
def test_ask_bad_input(client, body, status, field, message):
    response = client.post("/ask", json=body)
    assert response.status_code == status
    got_field, got_message = error_of(response)
    assert got_field == field
    if message is not None:
        assert got_message == message


def test_malformed_json(client):
    response = client.post("/ask", content=b'{"question": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    field, message = error_of(response)
    assert field == "body" and message.startswith("malformed JSON")


def test_batch_bad_input(client):
    assert error_of(client.post("/ask/batch", json={"questions": []})) == ("questions", "no questions given")
    assert error_of(client.post("/ask/batch", json={"questions": ["a?"] * 4})) == ("questions", "4 questions, more than 3")
    assert error_of(client.post("/ask/batch", json={"questions": ["a?", ""]})) == ("questions.1", "the question is empty")


def test_documents_paging_and_detail(client):
    data = client.get("/documents", params={"limit": 2}).json()
    assert data["total"] == 3 and data["limit"] == 2 and len(data["documents"]) == 2
    rest = client.get("/documents", params={"offset": 2}).json()["documents"]
    names = [Path(d["path"]).name for d in data["documents"] + rest]
    assert names == ["coffee-brewing.txt", "harbor-railway.pdf", "solar-system.md"]
    pdf = next(d for d in data["documents"] + rest if d["path"].endswith(".pdf"))
    detail = client.get(f"/documents/{pdf['id']}").json()
    assert detail["pages"] == 3 and len(detail["passage_list"]) == detail["passages"] > 0
    assert error_of(client.get("/documents/99999")) == ("file_id", "no document with id 99999")
    assert client.get("/documents", params={"limit": 0}).status_code == 422


def test_upload_index_and_delete(client, setup, tmp_path):
    _, qa, folder = setup
    pdf = write_pdf(tmp_path / "notes.pdf", ["The lighthouse keeper was named Ada Sterling."])
    response = client.post("/documents", files={"file": ("../../x.pdf", pdf.read_bytes(), "application/pdf")})
    assert response.status_code == 201, response.text
    data = response.json()
    stored = Path(data["file"])
    assert stored.name == "x.pdf" and stored.resolve().parent.parent == (folder / "uploads").resolve()
    assert data["passages"] == 1 and stored.exists()
    answers = client.post("/ask", json={"question": "Who was the lighthouse keeper?", "files": ["*x.pdf"]}).json()["answers"]
    assert answers and answers[0]["file"] == str(stored)
    assert client.delete(f"/documents/{data['id']}").status_code == 204
    assert not stored.exists() and qa.store.get_file(data["id"]) is None
    assert client.delete(f"/documents/{data['id']}").status_code == 404


def test_upload_bad_files(client, tmp_path):
    unsupported = client.post("/documents", files={"file": ("report.docx", b"PK\x03\x04", "application/octet-stream")})
    assert unsupported.status_code == 415
    assert error_of(unsupported) == ("file", "unsupported file type '.docx': upload a .pdf, .txt or .md file")
    big = client.post("/documents", files={"file": ("big.txt", b"word " * 20000, "text/plain")})
    assert big.status_code == 413 and error_of(big) == ("file", "the file is larger than api.max_upload_mb (0.05 MB)")
    encrypted = write_pdf(tmp_path / "secret.pdf", ["Secret."], user_password="pw")
    refused = client.post("/documents", files={"file": ("secret.pdf", encrypted.read_bytes(), "application/pdf")})
    assert refused.status_code == 422
    field, message = error_of(refused)
    assert field == "file" and message.startswith("encrypted PDF that needs a password")
    corrupt = client.post("/documents", files={"file": ("broken.pdf", b"%PDF-1.4 garbage", "application/pdf")})
    assert corrupt.status_code == 422 and error_of(corrupt)[1].startswith("corrupt or truncated PDF")
    assert client.get("/documents").json()["total"] == 3  # nothing of the refused uploads was kept


def test_upload_when_the_database_cannot_be_written(client, setup, monkeypatch):
    _, qa, folder = setup
    message = f"cannot write to database {qa.store.path}: the disk is full (database or disk is full, SQLITE_FULL); ..."

    def full(*args, **kwargs):
        raise StoreError(message)

    monkeypatch.setattr(qa.store, "save_file", full)
    response = client.post("/documents", files={"file": ("notes.txt", b"Some words.", "text/plain")})
    assert response.status_code == 503 and error_of(response) == (None, message)
    assert not any(p.is_file() for p in (folder / "uploads").rglob("notes.txt"))  # the stored upload is removed


def test_safe_name():
    assert safe_name("../../x.pdf") == "x.pdf"
    assert safe_name("..\\..\\evil.txt") == "evil.txt"
    assert safe_name("a/b/..") == "upload"
    assert safe_name("naïve résumé.md") == "na_ve r_sum_.md"


def test_stats_and_openapi(client):
    stats = client.get("/stats").json()
    assert stats["files"] == 3 and stats["passages"] > 0
    schema = client.get("/openapi.json").json()
    assert {"/ask", "/ask/batch", "/documents", "/documents/{file_id}", "/healthz", "/readyz", "/stats"} <= set(schema["paths"])
    assert client.get("/docs").status_code == 200


def test_page_is_served_without_frameworks(client):
    page = client.get("/")
    assert page.status_code == 200 and "<form id=\"ask\">" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN


def test_api_key(setup, monkeypatch):
    config, qa, _ = setup
    keyed = dataclasses.replace(config, api=dataclasses.replace(config.api, key="s3cret"))
    with TestClient(create_app(keyed, qa)) as c:
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
        denied = c.post("/ask", json={"question": "q?"})
        assert denied.status_code == 401
        assert error_of(denied) == ("authorization", "missing or wrong API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'")
        assert c.get("/documents", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/documents", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/stats", headers={"X-API-Key": "s3cret"}).status_code == 200
    monkeypatch.setenv("DOCQA_API_KEY", "from-env")
    with TestClient(create_app(config, qa)) as c:
        assert c.get("/stats").status_code == 401
        assert c.get("/stats", headers={"X-API-Key": "from-env"}).status_code == 200


def test_cors_only_when_configured(setup):
    config, qa, _ = setup
    with TestClient(create_app(config, qa)) as c:
        assert "access-control-allow-origin" not in c.get("/healthz", headers={"Origin": "https://x.example"}).headers
    allowed = dataclasses.replace(config, api=dataclasses.replace(config.api, cors_origins=["https://x.example"]))
    with TestClient(create_app(allowed, qa)) as c:
        assert c.get("/healthz", headers={"Origin": "https://x.example"}).headers["access-control-allow-origin"] == "https://x.example"


def test_micro_batching_off_gives_the_same_answers(setup):
    config, qa, _ = setup
    off = dataclasses.replace(config, api=dataclasses.replace(config.api, micro_batching=False))
    question = {"question": "Which planet is the hottest?"}
    with TestClient(create_app(config, qa)) as on_client, TestClient(create_app(off, qa)) as off_client:
        on, off_ = on_client.post("/ask", json=question).json(), off_client.post("/ask", json=question).json()
    assert [a["answer"] for a in on["answers"]] == [a["answer"] for a in off_["answers"]]
