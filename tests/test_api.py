from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.serve.app import create_app
from pipeline.serve.uploads import safe_name
from pipeline.config import ApiConfig, AskConfig, Config, ReaderConfig, StoreConfig
from pipeline.qa import QA
from store.document_store import SQLiteDocumentStore
from store.errors import StoreError
from ingest.indexer import index_paths
from ingest.options import IngestOptions
from tests.corpus import write_pdf
from tests.formats import ARTICLE_PAGE, ARTICLE_TEXT, DOCX_TEXT, write_docx, write_epub

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


def test_ask_with_filters_and_files(client, setup):
    filters = {"field": "meta.page_number", "operator": "==", "value": 2}
    data = client.post("/ask", json={"question": "What happened in the flood?", "filters": filters}).json()
    # The filter selects passages that start on page 2; an answer names the page of its first character.
    passages = {d.id: d for d in setup[1].store.filter_documents(filters)}
    assert data["answers"] and all(a["passage_id"] in passages for a in data["answers"])
    assert all(a["page"] == 2 + passages[a["passage_id"]].content.count("\f", 0, a["start"]) for a in data["answers"])
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
    # (An absolute pattern: a relative one is taken from the server's current folder.)
    answers = client.post("/ask", json={"question": "Who was the lighthouse keeper?", "files": ["/*/x.pdf"]}).json()["answers"]
    assert answers and answers[0]["file"] == str(stored)
    assert client.delete(f"/documents/{data['id']}").status_code == 204
    assert not stored.exists() and qa.store.get_file(data["id"]) is None
    assert client.delete(f"/documents/{data['id']}").status_code == 404


def test_upload_bad_files(client, tmp_path):
    unsupported = client.post("/documents", files={"file": ("report.xlsx", b"PK\x03\x04", "application/octet-stream")})
    assert unsupported.status_code == 415
    assert error_of(unsupported) == ("file", "unsupported file type '.xlsx': upload a .pdf, .txt, .md, .docx, .html, .htm, .epub, .png, .jpg, .jpeg, .tif or .tiff file")
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


def test_upload_word_html_and_epub(client, tmp_path):
    from tests.test_epub import BOOK_TEXT, CHAPTERS

    before = client.get("/documents").json()["total"]
    uploads = [
        ("railway.docx", write_docx(tmp_path / "r.docx").read_bytes(), DOCX_TEXT),
        ("danube.html", ARTICLE_PAGE.encode(), ARTICLE_TEXT),
        ("danube.epub", write_epub(tmp_path / "d.epub", CHAPTERS).read_bytes(), BOOK_TEXT),
    ]
    for name, data, text in uploads:
        response = client.post("/documents", files={"file": (name, data, "application/octet-stream")})
        assert response.status_code == 201, response.text
        assert response.json()["passages"] == 1
        passages = client.get(f"/documents/{response.json()['id']}").json()["passage_list"]
        assert [(p["text"], p["start"], p["page"]) for p in passages] == [(text, 0, None)]
        assert client.delete(f"/documents/{response.json()['id']}").status_code == 204
    renamed = client.post("/documents", files={"file": ("old.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "WordDocument".encode("utf-16-le"), "x")})
    assert renamed.status_code == 422 and error_of(renamed) == ("file", (
        "an old Word .doc file named .docx: save it as .docx (Word: Save As; or "
        "`libreoffice --headless --convert-to docx FILE`) and index that"
    ))
    assert client.get("/documents").json()["total"] == before


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


# -- issue 16: the API holds its own contract --------------------------------------------

TOO_BIG = 2**63  # one more than SQLite's largest integer


def test_integers_beyond_sqlite_are_refused_where_they_enter(client):
    limit = "Input should be less than or equal to 9223372036854775807"
    for response, field in (
        (client.get(f"/documents/{TOO_BIG}"), "file_id"),
        (client.delete(f"/documents/{TOO_BIG}"), "file_id"),
        (client.get("/documents", params={"offset": TOO_BIG}), "offset"),
    ):
        assert response.status_code == 422 and error_of(response) == (field, limit)
    assert client.get("/documents/9223372036854775807").status_code == 404
    assert client.get("/documents", params={"offset": 2**63 - 1}).json()["documents"] == []
    assert error_of(client.get("/documents/0")) == ("file_id", "Input should be greater than or equal to 1")
    for value in (TOO_BIG, -(2**63) - 1):
        filters = {"field": "meta.page_number", "operator": "==", "value": value}
        response = client.post("/ask", json={"question": "q?", "filters": filters})
        assert response.status_code == 422
        assert error_of(response) == (
            "filters",
            f"the value compared with 'meta.page_number' must be between -9223372036854775808 and 9223372036854775807 (SQLite's integer range), got {value}",
        )


def test_ids_of_deleted_documents_are_not_handed_out_again(client):
    first = client.post("/documents", files={"file": ("a.txt", b"The ferry leaves at noon.", "text/plain")}).json()["id"]
    assert client.delete(f"/documents/{first}").status_code == 204
    second = client.post("/documents", files={"file": ("a.txt", b"The ferry leaves at noon.", "text/plain")}).json()["id"]
    assert second > first and client.get(f"/documents/{first}").status_code == 404
    assert client.delete(f"/documents/{second}").status_code == 204


def test_the_schema_states_the_rules_the_code_enforces(client):
    from pipeline.checks import NON_BLANK

    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    ask, batch = components["AskRequest"], components["BatchRequest"]
    assert ask["required"] == ["question"] and ask["additionalProperties"] is False
    question = ask["properties"]["question"]
    assert (question["minLength"], question["maxLength"], question["pattern"]) == (1, 1000, NON_BLANK)
    top_k = {"type": "integer", "minimum": 1, "maximum": 10}  # api.max_top_k of this app
    assert top_k.items() <= ask["properties"]["top_k"]["anyOf"][0].items()
    assert top_k.items() <= batch["properties"]["top_k"]["anyOf"][0].items()
    questions = batch["properties"]["questions"]
    assert (questions["minItems"], questions["maxItems"], questions["items"]["pattern"]) == (1, 3, NON_BLANK)
    # Filters: the four shapes of Haystack's syntax, each with its required fields.
    shapes = ask["properties"]["filters"]["anyOf"]
    assert [s.get("$ref", "null").rsplit("/", 1)[-1] for s in shapes] == ["EqualityFilter", "OrderingFilter", "MembershipFilter", "LogicalFilter", "null"]
    assert components["LogicalFilter"]["properties"]["conditions"]["items"]["anyOf"] == shapes[:4]
    assert components["EqualityFilter"]["properties"]["field"]["anyOf"][1]["pattern"] == '^meta\\.[^"\\x00]*$'
    assert components["EqualityFilter"]["required"] == ["field", "operator", "value"]
    assert components["LogicalFilter"]["required"] == ["operator", "conditions"]
    assert components["MembershipFilter"]["properties"]["value"]["type"] == "array"
    ordering = components["OrderingFilter"]["properties"]["value"]["anyOf"]
    assert {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}.items() <= ordering[0].items()
    assert {"type": "string", "format": "date-time"}.items() <= ordering[2].items()
    # Path and query integers.
    get_document = schema["paths"]["/documents/{file_id}"]["get"]
    assert {"minimum": 1, "maximum": 2**63 - 1}.items() <= get_document["parameters"][0]["schema"].items()
    listing = {p["name"]: p["schema"] for p in schema["paths"]["/documents"]["get"]["parameters"]}
    assert (listing["offset"]["minimum"], listing["offset"]["maximum"], listing["limit"]["maximum"]) == (0, 2**63 - 1, 500)
    # Uploads: the extensions and non-empty files, in the schema's words.
    upload = schema["paths"]["/documents"]["post"]
    file = components[upload["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]["file"]
    assert ".pdf, .txt, .md, .docx, .html, .htm, .epub" in file["description"] and "must not be empty" in file["description"]
    assert file["minLength"] == 1  # an empty file breaks the schema, as it breaks the rule (schemathesis)
    # Every error a route gives has the ErrorResponse body; 401 only where a key is set.
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    expected = {
        ("/ask", "post"): {400, 404, 415, 422, 500, 503},
        ("/ask/batch", "post"): {400, 415, 422, 500, 503},
        ("/documents", "get"): {422, 500, 503},
        ("/documents", "post"): {400, 413, 415, 422, 500, 503},
        ("/documents/{file_id}", "get"): {404, 422, 500, 503},
        ("/documents/{file_id}", "delete"): {404, 422, 500, 503},
        ("/stats", "get"): {500, 503},
    }
    for (path, method), statuses in expected.items():
        responses = schema["paths"][path][method]["responses"]
        errors = {int(code) for code in responses if int(code) >= 400}
        assert errors == statuses, (path, method)
        assert all(responses[str(code)]["content"]["application/json"]["schema"] == error for code in errors)
    assert "securitySchemes" not in schema["components"]


def test_filters_are_refused_in_qa_words_or_where_inside_them(client):
    def refused(filters):
        response = client.post("/ask", json={"question": "q?", "filters": filters})
        assert response.status_code == 422
        return error_of(response)

    # Rules QA owns: its message.
    assert refused([1]) == ("filters", "a filter must be a dictionary, got [1]")
    assert refused({"field": "content", "operator": "~", "value": 1}) == ("filters", "unknown comparison operator '~' for field 'content'")
    assert refused({"field": "meta.a\x00b", "operator": "==", "value": 1}) == (
        "filters",
        "filter field 'meta.a\\x00b': a metadata key holding '\"' or a NUL character cannot be filtered on (SQLite's JSON paths cannot name it)",
    )
    # Rules only the schema states (QA reads a float of any size, and ignores unknown keys).
    assert refused({"field": "content", "operator": "==", "value": 1, "extra": 2}) == ("filters", "equality.extra: Extra inputs are not permitted")
    nested = {"operator": "OR", "conditions": [{"field": "content", "operator": "in", "value": [1e19]}]}
    assert refused(nested) == ("filters", "logical.conditions.0.membership.value.0: Input should be less than or equal to 9223372036854775807")


def test_schema_bounds_and_qa_agree(setup):
    # The bounds the schema states refuse exactly what QA refuses, with QA's message.
    from pipeline.serve.models import request_models

    config, qa, _ = setup
    models = request_models(qa, config.api)
    for top_k in range(-2, 14):
        try:
            qa.options(top_k=top_k, max_top_k=config.api.max_top_k)
            qa_says = None
        except Exception as exc:
            qa_says = str(exc)
        try:
            models.ask.model_validate({"question": "q?", "top_k": top_k})
            model_says = None
        except Exception as exc:
            model_says = exc.errors()[0]["msg"]
        assert model_says == qa_says, top_k
    for question in ["", " ", "\u3000\x1c", "a", " a ", "x" * 1000, "x" * 1001]:
        try:
            qa.check_question(question)
            qa_says = None
        except Exception as exc:
            qa_says = str(exc)
        try:
            models.ask.model_validate({"question": question})
            model_says = None
        except Exception as exc:
            model_says = exc.errors()[0]["msg"]
        assert model_says == qa_says, question


def test_405_names_the_allowed_methods(client):
    for method, path, allowed in (
        ("PUT", "/ask", "POST"),
        ("GET", "/ask/batch", "POST"),
        ("PUT", "/documents", "GET, POST"),
        ("PUT", "/docs", "GET"),  # fastapi-offline serves its pages as GET routes
        ("PATCH", "/documents/1", "GET, DELETE"),
        ("POST", "/healthz", "GET"),
        ("OPTIONS", "/stats", "GET"),
    ):
        response = client.request(method, path)
        assert response.status_code == 405 and response.headers["Allow"] == allowed, (method, path)
        assert error_of(response) == (None, "Method Not Allowed")


def test_the_key_is_checked_before_the_body_is_read(setup):
    config, qa, folder = setup
    keyed = dataclasses.replace(config, api=dataclasses.replace(config.api, key="s3cret"))
    malformed = {"content": b'{"question": ', "headers": {"Content-Type": "application/json"}}
    with TestClient(create_app(keyed, qa)) as c:
        for response in (
            c.post("/ask", **malformed),
            c.post("/ask/batch", json={"questions": "not a list"}),
            c.post("/documents", files={"file": ("x.docx", b"PK", "application/octet-stream")}),
            c.get("/documents/not-a-number"),
            c.get("/documents", params={"limit": 0}),
        ):
            assert response.status_code == 401 and error_of(response)[0] == "authorization"
        assert c.post("/ask", headers={"X-API-Key": "s3cret", **malformed["headers"]}, content=malformed["content"]).status_code == 400
    assert not any(p.name == "x.docx" for p in (folder / "uploads").rglob("*"))


def test_with_a_key_the_description_of_the_api_is_open_and_declares_the_key(setup):
    # /openapi.json and /docs hold no data, and Swagger UI at /docs loads the schema without
    # a key (it then offers "Authorize"); config.yaml says so.
    config, qa, _ = setup
    keyed = dataclasses.replace(config, api=dataclasses.replace(config.api, key="s3cret"))
    with TestClient(create_app(keyed, qa)) as c:
        assert c.get("/docs").status_code == 200
        schema = c.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"] == {
        "HTTPBearer": {"type": "http", "scheme": "bearer", "description": "The API key as 'Authorization: Bearer KEY'."},
        "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "The API key as 'X-API-Key: KEY'."},
    }
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if path in ("/healthz", "/readyz"):
                assert "security" not in operation and "401" not in operation["responses"]
            else:
                assert operation["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}], (path, method)
                assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
    comment = (REPO / "config.yaml").read_text(encoding="utf-8").split("\n  key:")[0].rsplit("\n  port:", 1)[1]
    assert "/openapi.json" in comment and "/docs" in comment


def test_an_upload_without_its_file_is_refused(client):
    response = client.post("/documents", data={"other": "x"}, files={"notfile": ("a.txt", b"words", "text/plain")})
    assert response.status_code == 422 and error_of(response) == ("file", "Field required")


def test_relative_file_patterns_are_taken_from_the_servers_folder(client, monkeypatch):
    monkeypatch.chdir(REPO)
    data = client.post("/ask", json={"question": "grind coffee", "files": ["examples/*.txt"]}).json()
    assert data["answers"] and {a["file"] for a in data["answers"]} == {str(REPO / "examples" / "coffee-brewing.txt")}
    folder = client.post("/ask", json={"question": "grind coffee", "files": ["examples/"]}).json()
    assert folder["answers"]
    monkeypatch.chdir(REPO / "examples")
    assert client.post("/ask", json={"question": "grind coffee", "files": ["*.txt"]}).json()["answers"]


def test_a_pattern_that_matches_no_file_is_refused_as_the_cli_refuses_it(client, monkeypatch):
    monkeypatch.chdir(REPO)
    response = client.post("/ask", json={"question": "grind coffee", "files": ["pdfs/*"]})
    assert response.status_code == 404  # well-formed (a schema cannot know the files): nothing to search
    assert error_of(response) == (
        "files",
        f"no indexed file matches {str(REPO / 'pdfs' / '*')!r} (a pattern like '*/name.pdf' finds a name in any folder): "
        "`docqa files` lists the indexed files",
    )


def test_a_duplicate_upload_is_not_created_again(client):
    first = client.post("/documents", files={"file": ("dup.txt", b"The tram reached the pier in 1911.", "text/plain")})
    assert first.status_code == 201 and first.json()["duplicate"] is False and first.json()["message"] is None
    again = client.post("/documents", files={"file": ("copy.txt", b"The tram reached the pier in 1911.", "text/plain")})
    assert again.status_code == 200
    body = again.json()
    assert (body["id"], body["file"], body["duplicate"]) == (first.json()["id"], first.json()["file"], True)
    assert body["message"] == f"already indexed as document {body['id']} ({body['file']}): not stored again"
    assert client.delete(f"/documents/{body['id']}").status_code == 204


@pytest.mark.parametrize("path, body", [("/ask", "question=When+did+the+railway+close%3F"), ("/ask/batch", "questions=x")])
def test_a_body_that_is_not_json_is_415_naming_the_type(client, path, body):
    form = "application/x-www-form-urlencoded"  # curl -d's default
    response = client.post(path, content=body, headers={"Content-Type": form})
    assert response.status_code == 415
    assert error_of(response) == ("Content-Type", f"{path} reads a JSON body: send it with 'Content-Type: application/json' (got {form!r})")
    plain = client.post("/ask", content=b'{"question": "When did the railway close?"}', headers={"Content-Type": "application/json; charset=utf-8"})
    assert plain.status_code == 200
    bare = client.post("/ask", content=b'{"question": "When did the railway close?"}', headers={"Content-Type": ""})
    assert bare.status_code == 415  # no type declared: not read as JSON, as FastAPI's strict_content_type
    assert error_of(bare)[1] == "/ask reads a JSON body: send it with 'Content-Type: application/json' (the request has no Content-Type)"
