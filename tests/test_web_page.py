"""The page at / and the API docs in a real browser: headless Chromium (Debian's package) driven by Playwright.

Screenshots go to $DOCQA_SCREENSHOTS when it is set (to look at them), else to the test's
temporary folder. Requests that leave the server are refused, as on a machine without network.
"""

from __future__ import annotations

import io
import json
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
from pipeline.config import ApiConfig, AskConfig, Config, ReaderConfig, StoreConfig
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


@contextmanager
def serving(config: Config) -> Iterator[str]:
    """The API over `config` in a thread of this process; yields its URL."""
    import uvicorn

    from pipeline.serve.app import create_app

    store = SQLiteDocumentStore(config.store.path)
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


def examples_config(tmp_path: Path, tiny_model: Path, **api: object) -> Config:
    """The shipped examples indexed in a fresh database; uploads under tmp_path."""
    config = Config(
        store=StoreConfig(path=str(tmp_path / "i.db")),
        reader=ReaderConfig(model=str(tiny_model)),
        api=ApiConfig(data_folder=str(tmp_path / "uploads"), **api),  # type: ignore[arg-type]
    )
    index_paths(SQLiteDocumentStore(config.store.path), [REPO / "examples"], IngestOptions(workers=0), show_progress=False)
    return config


@pytest.fixture
def server(tmp_path, tiny_model):
    with serving(examples_config(tmp_path, tiny_model)) as url:
        yield url


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
        assert any(Path(w.split(",")[0]).name in {"harbor-railway.pdf", "solar-system.md", "coffee-brewing.txt"} for w in wheres)


EXAMPLE_NAMES = ["coffee-brewing.txt", "harbor-railway.pdf", "solar-system.md"]


def document_names(page) -> list[str]:
    return page.locator("#documents .name").all_inner_texts()


def test_page_uploads_lists_and_deletes_documents(server, tmp_path, shots):
    notes = tmp_path / "notes.txt"
    notes.write_text("The lighthouse keeper was named Ada Sterling. She kept the lamp for forty years.", encoding="utf-8")
    with offline_browser(server) as (context, outside):
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(server + "/")
        page.wait_for_selector("#documents li")
        # Paths relative to the folder the indexed files share; no key field when none is needed.
        assert document_names(page) == EXAMPLE_NAMES
        assert page.locator("#documents-title").inner_text() == "Documents (3)"
        assert page.locator("#key-row").is_hidden()
        assert page.locator("#documents li").filter(has_text="harbor-railway.pdf").locator(".info").inner_text() == "3 pages, 2 passages"

        # Upload with the button (the file chooser), then by drag and drop.
        page.set_input_files("#files", str(notes))
        page.wait_for_selector("#upload-status.ok")
        assert page.locator("#upload-status").inner_text() == "Indexed notes.txt (1 passage)."
        dropped = page.evaluate_handle(
            "() => { const dt = new DataTransfer(); "
            "dt.items.add(new File(['Comets are icy bodies. Halley returns every 76 years.'], 'comets.md', {type: 'text/markdown'})); return dt; }"
        )
        page.dispatch_event("#drop", "drop", {"dataTransfer": dropped})
        page.wait_for_function("document.getElementById('upload-status').textContent.startsWith('Indexed comets.md')")
        page.wait_for_function("document.querySelectorAll('#documents li').length === 5")
        # By name, and not under their upload folders' ids.
        assert document_names(page) == ["coffee-brewing.txt", "comets.md", "harbor-railway.pdf", "notes.txt", "solar-system.md"]

        # Ask is disabled while a question runs, and the answer names the uploaded file.
        page.fill("#question", "Who was the lighthouse keeper?")
        assert page.evaluate("() => { document.getElementById('ask').requestSubmit(); return document.getElementById('submit').disabled; }")
        page.wait_for_selector(".answer")
        page.wait_for_function("!document.getElementById('submit').disabled")
        assert set(page.locator(".answer .where").all_inner_texts()) == {"notes.txt"}
        page.screenshot(path=str(shots / "page-uploaded.png"), full_page=True)

        # Delete forgets the file, and an uploaded one leaves the data folder.
        page.locator("#documents li").filter(has_text="notes.txt").get_by_role("button", name="Delete notes.txt").click()
        page.wait_for_function("document.querySelectorAll('#documents li').length === 4")
        assert document_names(page) == ["coffee-brewing.txt", "comets.md", "harbor-railway.pdf", "solar-system.md"]
        assert not list((tmp_path / "uploads").rglob("notes.txt")) and list((tmp_path / "uploads").rglob("comets.md"))
        assert outside == []


def test_answers_show_pages_also_in_and_no_page_break_characters(server, shots):
    with offline_browser(server) as (context, _):
        page = context.new_page()
        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        page.goto(server + "/")
        page.wait_for_selector("#documents li")
        root = page.evaluate("root")
        source = lambda file, page_, passage: {"file": root + file, "page": page_, "passage_id": passage, "context": "before\fthe 1872 answer after"}  # noqa: E731
        answer = {
            "answer": "the\f1872", "score": 0.5,
            "sources": [source("harbor-railway.pdf", 2, "p1"), source("harbor-railway.pdf", 2, "p2"), source("notes/a.txt", None, "p3")],
        }
        page.evaluate("(answer) => showAnswer(answer)", answer)
        box = page.locator(".answer").last
        assert box.locator(".where").inner_text() == "harbor-railway.pdf, page 2"
        assert box.locator(".also").inner_text() == "also in: notes/a.txt"  # not its own file and page again
        assert "\f" not in box.inner_text() and box.locator(".text").inner_text() == "the 1872"

        page.fill("#question", "When did the Northport Harbor Railway close?")
        page.click("#submit")
        # Scores are exclusive probabilities (issue 21): often one answer alone passes ask.min_score.
        page.wait_for_function("document.querySelectorAll('.answer').length > 0")
        assert "\f" not in page.locator("#answers").inner_text()
        page.screenshot(path=str(shots / "page-phone.png"), full_page=True)


def test_an_answer_across_a_page_break_shows_both_pages(server):
    # The JSON's page is the answer's first character's, pages every page it lies on (issue 20).
    with offline_browser(server) as (context, _):
        page = context.new_page()
        page.goto(server + "/")
        page.wait_for_selector("#documents li")
        root = page.evaluate("root")
        source = {"file": root + "harbor-railway.pdf", "page": 2, "pages": [2, 3], "passage_id": "p1", "context": "closed on 14 May 1872"}
        page.evaluate("(answer) => showAnswer(answer)", {"answer": "14 May 1872", "score": 0.5, "sources": [source, dict(source, pages=[2])]})
        box = page.locator(".answer").last
        assert box.locator(".where").inner_text() == "harbor-railway.pdf, pages 2\u20133"
        assert box.locator(".also").inner_text() == "also in: harbor-railway.pdf, page 2"


def test_the_key_field_shows_only_when_the_server_needs_a_key(tmp_path, tiny_model, shots):
    with serving(examples_config(tmp_path, tiny_model, key="s3cret")) as url, offline_browser(url) as (context, _):
        page = context.new_page()
        page.goto(url + "/")
        page.wait_for_selector("#key-row:not([hidden])")
        assert page.locator("#documents li").count() == 0
        page.fill("#key", "s3cret")
        page.press("#key", "Enter")
        page.wait_for_selector("#documents li")
        assert document_names(page) == EXAMPLE_NAMES
        assert page.locator("#upload-status").inner_text() == ""
        page.screenshot(path=str(shots / "page-key.png"), full_page=True)


def test_an_answers_page_image_boxes_the_answers_words(tmp_path, tiny_model, shots):
    from tests.test_pages import PAGE_WIDTH, overlap, write_lines

    docs = tmp_path / "docs"
    docs.mkdir()
    # Every word once on the page, so the words of whatever the tiny model answers are known by position.
    line = "Kestrel came from Glasgow in 1872 pulling twelve wagons."
    where = write_lines(docs / "engine.pdf", [[(120, line), (200, "Nothing else here.")]])
    config = Config(
        store=StoreConfig(path=str(tmp_path / "i.db")),
        reader=ReaderConfig(model=str(tiny_model)),
        ask=AskConfig(min_score=0.0),
        api=ApiConfig(data_folder=str(tmp_path / "uploads")),
    )
    index_paths(SQLiteDocumentStore(config.store.path), [docs], IngestOptions(workers=0), show_progress=False)
    with serving(config) as url, offline_browser(url) as (context, _):
        page = context.new_page()
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(url + "/")
        page.wait_for_selector("#documents li")
        page.fill("#question", "Where did Kestrel come from?")
        page.click("#submit")
        image = page.locator(".answer").first.locator(".page-strip img")
        image.wait_for(timeout=30_000)
        page.wait_for_function("document.querySelector('.answer .page-strip img').complete && document.querySelector('.answer .page-strip img').naturalWidth > 0")
        answer = page.locator(".answer .text").first.inner_text()
        boxes = json.loads(image.get_attribute("data-boxes"))
        width = int(image.get_attribute("data-width"))
        shown = page.evaluate("() => { const r = document.querySelector('.answer .page-strip img').getBoundingClientRect(); return [r.left, r.top, r.width]; }")
        page.screenshot(path=str(shots / "page-answer-on-its-page.png"), full_page=False)
        shot = page.screenshot()
    words = answer.split()
    where = {(p, y, w.rstrip(".")): box for (p, y, w), box in where.items()}
    assert words and all((1, 120, w.rstrip(".")) in where for w in words), answer
    assert len(boxes) == 1  # one line
    to_pixels = lambda box: tuple(v * width / PAGE_WIDTH for v in box)  # noqa: E731
    for word in line.rstrip(".").split():
        covered = overlap(boxes[0], to_pixels(where[(1, 120, word)]))
        assert covered > 0.8 if word in answer.rstrip(".").split() else covered == 0, (word, answer, boxes)
    # On screen: the middle of the answer's first word is tinted, a word left of it is not.
    from PIL import Image

    screen = Image.open(io.BytesIO(shot)).convert("RGB")
    left, top, displayed = shown
    ratio = displayed / PAGE_WIDTH
    first = where[(1, 120, words[0].rstrip("."))]
    r, g, b = screen.getpixel((int(left + (first[0] + first[2]) / 2 * ratio), int(top + (first[1] + first[3]) / 2 * ratio)))
    assert r > 200 and r - b > 60, (r, g, b)
    r, g, b = screen.getpixel((int(left + 40 * ratio), int(top + 100 * ratio)))  # the margin, above the line
    assert (r, g, b) == (255, 255, 255)


def test_the_document_list_on_a_phone_with_a_failed_file(tmp_path, tiny_model, shots):
    docs = tmp_path / "docs"
    long_folder = docs / "quarterly-harbour-reports-2026-final"
    long_folder.mkdir(parents=True)
    (long_folder / "annual-summary-of-harbour-operations-and-finances.pdf").write_bytes(b"%PDF-1.4 garbage")
    for i in range(40):
        (docs / f"note-{i:02d}-about-the-northport-harbour-railway.txt").write_text(f"Note {i} about the railway.", encoding="utf-8")
    config = Config(
        store=StoreConfig(path=str(tmp_path / "i.db")),
        reader=ReaderConfig(model=str(tiny_model)),
        api=ApiConfig(data_folder=str(tmp_path / "uploads")),
    )
    index_paths(SQLiteDocumentStore(config.store.path), [docs], IngestOptions(workers=0), show_progress=False)
    with serving(config) as url, offline_browser(url) as (context, _):
        page = context.new_page()
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(url + "/")
        page.wait_for_selector("#documents li")
        assert page.locator("#documents-title").inner_text() == "Documents (41, 1 failed)"
        rows = page.evaluate(
            """() => [...document.querySelectorAll('#documents li')].map((li) => {
                 const name = li.querySelector('.name'), info = li.querySelector('.info');
                 const line = parseFloat(getComputedStyle(name).lineHeight);
                 return {failed: li.classList.contains('failed'), nameHeight: name.getBoundingClientRect().height, line,
                         nameBottom: name.getBoundingClientRect().bottom, infoTop: info.getBoundingClientRect().top,
                         info: info.textContent, height: li.getBoundingClientRect().height, right: li.getBoundingClientRect().right};
               })"""
        )
        listed = page.evaluate("() => document.getElementById('documents').getBoundingClientRect().height")
        assert len(rows) == 25 and page.locator("#more").inner_text() == "Show more (16 more)"  # paged past a screenful
        failed = [r for r in rows if r["failed"]]
        assert len(failed) == 1 and failed[0]["info"].startswith("failed: ")
        assert rows[0]["failed"]  # failed files first: what needs seeing
        for row in rows:
            assert row["nameHeight"] <= 1.5 * row["line"], row  # one line: no name wrapped, mid-word or otherwise
            assert row["infoTop"] >= row["nameBottom"] - 1, row  # the failure message on its own line
            assert row["right"] <= 390
        assert listed <= 2 * len(rows) * min(r["height"] for r in rows)
        page.screenshot(path=str(shots / "page-phone-list.png"), full_page=True)
        page.fill("#filter", "annual")
        page.wait_for_function("document.querySelectorAll('#documents li').length === 1")
        assert page.locator("#documents li.failed .file").inner_text() == "annual-summary-of-harbour-operations-and-finances.pdf"
        assert page.locator("#more").is_hidden()
        page.fill("#filter", "")
        page.click("#more")
        page.wait_for_function("document.querySelectorAll('#documents li').length === 41")
        page.set_viewport_size({"width": 1280, "height": 900})
        wide = page.evaluate("() => [...document.querySelectorAll('#documents .name')].map((n) => n.getBoundingClientRect().height / parseFloat(getComputedStyle(n).lineHeight))")
        assert max(wide) <= 1.5


def test_several_uploads_are_each_sent_and_reported_with_a_bad_one_in_the_middle(server, tmp_path, shots):
    good, empty, other = tmp_path / "first.txt", tmp_path / "empty.txt", tmp_path / "third.md"
    good.write_text("The ferry to Penmore leaves at noon.", encoding="utf-8")
    empty.write_bytes(b"")
    other.write_text("Comets are icy bodies.", encoding="utf-8")
    with offline_browser(server) as (context, _):
        page = context.new_page()
        page.goto(server + "/")
        page.wait_for_selector("#documents li")
        page.set_input_files("#files", [str(good), str(empty), str(other)])
        page.wait_for_function("document.querySelectorAll('#documents li').length === 5")
        results = page.locator("#upload-results li")
        assert results.count() == 3
        assert [results.nth(i).get_attribute("class") for i in range(3)] == ["ok", "refused", "ok"]
        assert results.nth(0).inner_text() == "first.txt: indexed, 1 passage"
        assert results.nth(1).inner_text().startswith("empty.txt: ") and "empty" in results.nth(1).inner_text()[len("empty.txt: "):]
        assert results.nth(2).inner_text() == "third.md: indexed, 1 passage"
        assert page.locator("#upload-status").inner_text() == "Indexed first.txt (1 passage), third.md (1 passage). Refused: empty.txt (see below)."
        assert "third.md" in document_names(page) and "empty.txt" not in document_names(page)
        page.screenshot(path=str(shots / "page-uploads.png"), full_page=True)
