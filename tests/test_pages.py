"""The answer on its page: GET /documents/{id}/pages/{page} renders a PDF page with the answer's words boxed.

The PDFs are written by fpdf2 with text at known positions, so each test knows where the
answer's words are in pixels and checks that the boxes land there, and nowhere else.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.indexer import index_paths
from ingest.options import IngestOptions
from pipeline.config import ApiConfig, AskConfig, Config, ReaderConfig, StoreConfig
from pipeline.pages import fold, highlight_in_passage, locate
from pipeline.qa import QA
from pipeline.serve.app import create_app
from store.document_store import SQLiteDocumentStore

PAGE_WIDTH = 595.28  # A4 in points
FONT = 14


def write_lines(path: Path, pages: list[list[tuple[float, str]]]) -> dict[tuple[int, float, str], tuple[float, float, float, float]]:
    """A PDF with each page's lines at (72, y) in points from the top (y the baseline); returns
    where each word is: (page, y, word) -> left, top, right, bottom in points."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=FONT)
    where: dict[tuple[int, str], tuple[float, float, float, float]] = {}
    for number, lines in enumerate(pages, start=1):
        pdf.add_page()
        for y, line in lines:
            pdf.text(x=72, y=y, text=line)
            x = 72.0
            for word in line.split(" "):
                w = pdf.get_string_width(word)
                where[(number, y, word)] = (x, y - FONT * 0.75, x + w, y)  # cap height above the baseline
                x += w + pdf.get_string_width(" ")
    pdf.output(str(path))
    return where


def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """The area of a ∩ b, as a share of b's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, w) * max(0.0, h) / ((b[2] - b[0]) * (b[3] - b[1]))


def pixels(box: tuple[float, float, float, float], width: int) -> tuple[float, ...]:
    scale = width / PAGE_WIDTH
    return tuple(v * scale for v in box)


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_model):
    folder = tmp_path_factory.mktemp("pages")
    where = write_lines(
        folder / "keeper.pdf",
        [
            [(100, "Ada Sterling wrote the logbook."), (160, "The keeper was Ada Sterling in 1890."), (220, "Nobody else kept the light-"), (240, "house after her.")],
            [(100, "A second page about Ada Sterling.")],
        ],
    )
    (folder / "notes.txt").write_text("Ada Sterling kept the light.\n", encoding="utf-8")
    config = Config(
        store=StoreConfig(path=str(folder / "index.db")),
        reader=ReaderConfig(model=str(tiny_model)),
        ask=AskConfig(min_score=0.0),
        api=ApiConfig(data_folder=str(folder / "uploads")),
    )
    store = SQLiteDocumentStore(config.store.path)
    index_paths(store, [folder], IngestOptions(workers=0), show_progress=False)
    with TestClient(create_app(config, QA(config, store=store))) as client:
        yield client, store, folder, where


def passage_with(store, text):
    [passage] = [d for d in store.filter_documents() if text in (d.content or "")]
    return passage


def image_of(response):
    from PIL import Image

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return Image.open(io.BytesIO(response.content)).convert("RGB"), [tuple(b) for b in json.loads(response.headers["X-Highlight-Boxes"])]


def test_the_highlight_lands_on_the_answers_words_and_no_others(served):
    client, store, folder, where = served
    passage = passage_with(store, "The keeper was Ada Sterling")
    start = passage.content.index("keeper was Ada Sterling") + len("keeper was ")
    end = start + len("Ada Sterling")
    file_id = passage.meta["file_id"]
    image, boxes = image_of(client.get(f"/documents/{file_id}/pages/1", params={"highlight": f"{passage.id}:{start}:{end}", "width": 800}))
    assert image.width == 800
    [box] = boxes  # one line
    # The occurrence of the second line (the passage's text around it says so).
    ada, sterling = pixels(where[(1, 160, "Ada")], 800), pixels(where[(1, 160, "Sterling")], 800)
    assert overlap(box, ada) > 0.9 and overlap(box, sterling) > 0.9
    # Not the words around it, nor the other "Ada Sterling" on the page.
    for word in ("was", "in", "1890."):
        assert overlap(box, pixels(where[(1, 160, word)], 800)) == 0, word
    for word in ("Ada", "Sterling"):
        assert overlap(box, pixels(where[(1, 100, word)], 800)) == 0, word
    # The box is drawn: the middle of the answer's "Ada" is tinted yellow, the first line's is not.
    r, g, b = image.getpixel((int((ada[0] + ada[2]) / 2), int(ada[1]) - 1))
    assert r > 240 and r - b > 80  # white under a yellow fill
    first = pixels(where[(1, 100, "Ada")], 800)
    assert image.getpixel((int(first[0]) - 3, int(first[1]) - 1)) == (255, 255, 255)


def test_a_word_hyphenated_across_lines_is_boxed_on_both(served):
    client, store, _, where = served
    passage = passage_with(store, "lighthouse")
    start = passage.content.index("lighthouse")
    end = start + len("lighthouse")
    _, boxes = image_of(client.get(f"/documents/{passage.meta['file_id']}/pages/1", params={"highlight": f"{passage.id}:{start}:{end}", "width": 600}))
    assert len(boxes) == 2
    assert overlap(boxes[0], pixels(where[(1, 220, "light-")], 600)) > 0.8
    assert overlap(boxes[1], pixels(where[(1, 240, "house")], 600)) > 0.8
    assert overlap(boxes[0], pixels(where[(1, 220, "the")], 600)) == 0
    assert overlap(boxes[1], pixels(where[(1, 240, "after")], 600)) == 0


def test_an_answer_on_the_second_page_is_boxed_there(served):
    client, store, _, where = served
    passage = passage_with(store, "second page")
    start = passage.content.index("Ada Sterling", passage.content.index("second page"))
    end = start + len("Ada Sterling")
    page = passage.meta["page_number"] + passage.content.count("\f", 0, start)
    assert page == 2
    _, [box] = image_of(client.get(f"/documents/{passage.meta['file_id']}/pages/2", params={"highlight": f"{passage.id}:{start}:{end}"}))
    assert overlap(box, pixels(where[(2, 100, "Ada")], 1000)) > 0.9 and overlap(box, pixels(where[(2, 100, "about")], 1000)) == 0
    wrong = client.get(f"/documents/{passage.meta['file_id']}/pages/1", params={"highlight": f"{passage.id}:{start}:{end}"})
    assert wrong.status_code == 404
    assert wrong.json()["error"] == {"field": "highlight", "message": "this answer is on page 2, not on page 1: ask for /pages/2"}


def test_without_a_highlight_the_page_is_plain_and_cached(served):
    client, store, _, _ = served
    file_id = passage_with(store, "The keeper was").meta["file_id"]
    first = client.get(f"/documents/{file_id}/pages/1", params={"width": 400})
    image, boxes = image_of(first)
    assert boxes == [] and image.size == (400, round(400 * 841.89 / PAGE_WIDTH))
    assert first.headers["Cache-Control"] == "private, max-age=86400"
    again = client.get(f"/documents/{file_id}/pages/1", params={"width": 400}, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""


def test_errors_name_the_document_page_and_rule(served):
    client, store, _, _ = served
    pdf = passage_with(store, "The keeper was")
    text = passage_with(store, "Ada Sterling kept")
    pdf_id, text_id = pdf.meta["file_id"], text.meta["file_id"]
    cases = [
        (f"/documents/{pdf_id}/pages/3", {}, 404, "page", f"document {pdf_id} has 2 pages: page 3 is not one of them"),
        ("/documents/999/pages/1", {}, 404, "file_id", "no document with id 999"),
        (f"/documents/{text_id}/pages/1", {}, 415, "file_id", f"document {text_id} (notes.txt) is not a PDF: its passages are its text (GET /documents/{text_id})"),
        (f"/documents/{pdf_id}/pages/1", {"width": 50}, 422, "width", "Input should be greater than or equal to 200"),
        (f"/documents/{pdf_id}/pages/1", {"width": 5000}, 422, "width", "Input should be less than or equal to 2400"),
        (f"/documents/{pdf_id}/pages/1", {"highlight": "nonsense"}, 422, "highlight", "String should match pattern '^[^:]{1,128}:[0-9]{1,9}:[0-9]{1,9}$'"),
        (f"/documents/{pdf_id}/pages/1", {"highlight": f"{text.id}:0:3"}, 404, "highlight", f"document {pdf_id} has no passage {text.id!r}"),
        (f"/documents/{pdf_id}/pages/1", {"highlight": f"{pdf.id}:5:5"}, 404, "highlight", f"the offsets 5:5 are not an answer's in a passage of {len(pdf.content)} characters: 0 <= start < end <= {len(pdf.content)}"),
    ]
    for path, params, status, field, message in cases:
        response = client.get(path, params=params)
        assert response.status_code == status, (path, params, response.text)
        assert response.json()["error"] == {"field": field, "message": message}, (path, params)


def test_the_page_image_is_declared_in_the_schema(served):
    client, *_ = served
    operation = client.get("/openapi.json").json()["paths"]["/documents/{file_id}/pages/{page}"]["get"]
    assert set(operation["responses"]) == {"200", "404", "415", "422", "500", "503"}
    assert "image/png" in operation["responses"]["200"]["content"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert (parameters["width"]["schema"]["minimum"], parameters["width"]["schema"]["maximum"]) == (200, 2400)
    assert parameters["highlight"]["schema"]["anyOf"][0]["pattern"] == "^[^:]{1,128}:[0-9]{1,9}:[0-9]{1,9}$"


def test_locate_prefers_the_occurrence_its_context_agrees_with():
    page, _ = fold("Ada Sterling wrote. The keeper was Ada Sterling in 1890. Ada Sterling again.")
    answer = fold("Ada Sterling")[0]
    at = locate(page, answer, fold("The keeper was ")[0], fold(" in 1890.")[0])
    assert at is not None and page[: at[0]].endswith("thekeeperwas") and page[at[1]:].startswith("in1890")
    assert locate(page, answer) == (0, len(answer))  # no context: the first
    assert locate(page, fold("Kestrel")[0]) is None and locate(page, "") is None
    # Ligatures, case and hyphenation across lines fold alike.
    assert fold("The ﬁle light-\nhouse")[0] == fold("the file lighthouse")[0]


def test_highlight_in_passage_takes_the_part_on_the_page():
    text = "Before the break the long\fanswer ends here."
    start, end = text.index("long"), text.index(" ends")
    assert highlight_in_passage(text, start, end, 4, 4).answer == "long"
    second = highlight_in_passage(text, start, end, 4, 5)
    assert (second.answer, second.before, second.after) == ("answer", "", " ends here.")
