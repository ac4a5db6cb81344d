"""The page at / and the API docs in a real browser: headless Chromium (Debian's package) driven by Playwright.

Screenshots go to $DOCQA_SCREENSHOTS when it is set (to look at them), else to the test's
temporary folder. Requests that leave the server are refused, as on a machine without network.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingest.indexer import index_paths
from ingest.options import IngestOptions
from pipeline.config import Config, ReaderConfig, StoreConfig
from pipeline.qa import QA
from store.document_store import SQLiteDocumentStore

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    return None


@pytest.fixture
def server(tmp_path, tiny_model):
    import uvicorn

    from pipeline.serve.app import create_app

    config = Config(store=StoreConfig(path=str(tmp_path / "i.db")), reader=ReaderConfig(model=str(tiny_model)))
    store = SQLiteDocumentStore(config.store.path)
    index_paths(store, [REPO / "examples"], IngestOptions(workers=0), show_progress=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(create_app(config, QA(config, store=store)), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not uv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(10)


@contextmanager
def offline_browser(server: str) -> Iterator[tuple[object, list[str]]]:
    """A Chromium browser, and the list of URLs outside `server` that its pages tried to load (all refused)."""
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    outside: list[str] = []

    def only_the_server(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        context = browser.new_context()
        context.route("**/*", only_the_server)
        yield context, outside
        browser.close()


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("DOCQA_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_api_docs_and_redoc_render_offline(server, shots):
    with offline_browser(server) as (context, outside):
        page = context.new_page()
        page.goto(server + "/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
        assert page.locator(".swagger-ui .info .title").inner_text().startswith("docqa")
        assert page.locator(".opblock-summary-path").filter(has_text="/ask").count() >= 2
        page.screenshot(path=str(shots / "docs.png"))
        page.goto(server + "/redoc")
        page.wait_for_selector("h1:has-text('docqa')", timeout=30_000)
        assert page.get_by_text("/documents/{file_id}").count() >= 1
        page.screenshot(path=str(shots / "redoc.png"))
        # Everything came from the server, but for ReDoc's own "API docs by Redocly" footer logo,
        # which it always links from its site; offline it is a missing image beside the text.
        assert [url for url in outside if not url.startswith("https://cdn.redoc.ly/redoc/logo-mini")] == []


def test_question_in_the_page_shows_an_answer_with_its_file(server):
    with offline_browser(server) as (browser, _):
        page = browser.new_page()
        page.goto(server + "/")
        page.fill("#question", "When did the Northport Harbor Railway close?")
        page.click("#submit")
        page.wait_for_selector(".answer", timeout=30_000)
        first = page.locator(".answer").first
        assert first.locator("mark").count() == 1  # the answer is highlighted in its context
        wheres = page.locator(".where").all_inner_texts()
        assert any(Path(w.split(":")[0]).name in {"harbor-railway.pdf", "solar-system.md", "coffee-brewing.txt"} for w in wheres)
