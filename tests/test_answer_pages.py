"""An answer names its own page: the page of its first character (issue 20), in the CLI, the JSON and the API."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from ingest.indexer import index_paths
from ingest.options import IngestOptions
from pipeline.answers import Answer, page_at
from pipeline.cli.output import print_ranking
from pipeline.config import AskConfig, Config, ReaderConfig, StoreConfig
from pipeline.qa import QA
from pipeline.serve.app import create_app
from store.document_store import SQLiteDocumentStore
from store.haystack_compat import Document
from tests.corpus import write_pdf

PAGES = ["The harbour railway was built by the town.", "The railway closed on 14 May", "1872 after a storm."]


class SpanReader:
    """A reader that answers every question with one chosen text wherever a passage holds it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def warm_up(self) -> None:
        pass

    def read_batch(self, questions, passages, top_k=None, show_progress=False):
        out = []
        for question, docs in zip(questions, passages):
            found = []
            for doc in docs:
                start = (doc.content or "").find(self.text)
                if start >= 0:
                    found.append(Answer(question, self.text, 0.0, 1.0, doc, start, start + len(self.text), 0.0))
            out.append(found)
        return out


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pages")
    pdf = write_pdf(folder / "harbour.pdf", PAGES)
    store = SQLiteDocumentStore(folder / "index.db")
    index_paths(store, [pdf], IngestOptions(workers=0), show_progress=False)
    [passage] = store.filter_documents()
    # One passage from page 1 to page 3: its pages joined by form feeds, its meta page the first.
    assert passage.content == "\f".join(PAGES) and passage.meta["page_number"] == 1
    store.close()
    return folder


def qa_answering(folder, text):
    config = Config(store=StoreConfig(path=str(folder / "index.db")), reader=ReaderConfig(model="unused"), ask=AskConfig(min_score=0.0))
    return QA(config, reader=SpanReader(text))


def shown(ranking):
    @click.command()
    def show():
        print_ranking(ranking, 0.0)

    return CliRunner().invoke(show).stdout.splitlines()


def test_an_answer_on_page_two_of_a_passage_from_page_one_is_named_page_two(indexed):
    qa = qa_answering(indexed, "14")
    ranking = qa.ask("When did the railway close?")
    [answer] = ranking.answers
    pdf = str(indexed / "harbour.pdf")
    assert shown(ranking)[1] == f"   {pdf}:2"
    data = ranking.to_json()["answers"][0]
    assert (data["answer"], data["page"], data["pages"], data["start"], data["end"]) == ("14", 2, [2], 65, 67)
    assert [(s["page"], s["pages"]) for s in data["sources"]] == [(2, [2])]
    with TestClient(create_app(qa.config, qa)) as client:
        api = client.post("/ask", json={"question": "When did the railway close?"}).json()["answers"][0]
    assert (api["page"], api["pages"], api["sources"][0]["page"], api["sources"][0]["pages"]) == (2, [2], 2, [2])
    # Inside Haystack pipelines: the reader's ExtractedAnswer says the same.
    meta = Answer(answer.text, "14", 0.0, 1.0, qa.store.filter_documents()[0], 65, 67).to_extracted_answer().meta
    assert (meta["page_number"], meta["pages"]) == (2, [2])


def test_an_answer_across_a_page_break_names_both_pages_and_shows_no_form_feed(indexed):
    qa = qa_answering(indexed, "14 May\f1872")
    ranking = qa.ask("When did the railway close?")
    pdf = str(indexed / "harbour.pdf")
    lines = shown(ranking)
    [answer] = ranking.answers
    assert lines[:3] == [f"1. 14 May 1872   score {answer.score:.3f}", f"   {pdf}:2\u20133", "   The harbour railway was built by the town. The railway closed on 14 May 1872 after a storm."]
    data = ranking.to_json()["answers"][0]
    assert (data["answer"], data["page"], data["pages"]) == ("14 May 1872", 2, [2, 3])
    assert "\f" not in data["context"] and data["context"][data["start"] : data["end"]] == "14 May 1872"
    with TestClient(create_app(qa.config, qa)) as client:
        api = client.post("/ask", json={"question": "When did the railway close?"}).json()["answers"][0]
    assert (api["answer"], api["page"], api["pages"], "\f" in api["context"]) == ("14 May 1872", 2, [2, 3], False)


def test_page_of_a_character():
    passage = Document(content="one\ftwo\fthree", meta={"page_number": 4})
    assert [page_at(passage, i) for i in (0, 3, 4, 7, 8)] == [4, 4, 5, 5, 6]
    # A passage that starts with the break is already on the page after it.
    assert page_at(Document(content="\ftwo\fthree", meta={"page_number": 5}), 1) == 5
    assert page_at(Document(content="\ftwo\fthree", meta={"page_number": 5}), 5) == 6
    assert page_at(Document(content="no pages", meta={"page_number": None}), 3) is None
    text = Answer("q?", "two\fthree", 0.0, 1.0, passage, 4, 13)
    assert (text.page, text.pages) == (5, [5, 6])
    assert Answer("q?", "one", 0.0, 1.0, passage, 0, 3).pages == [4]
    assert Answer("q?", "one", 0.0, 1.0, Document(content="one", meta={}), 0, 3).pages is None


def test_an_answer_holding_a_word_hyphenated_across_the_page_break_names_both_pages(tmp_path):
    from pipeline.pages import highlight_in_passage
    from tests.pdf_pages import Run, write_runs_pdf

    # "sta-" ends page 1's body, above its footnote; "tion," starts page 2. The word is made
    # whole on page 1, before the footnote, so its rest "tion," stands before the page break.
    runs = [
        [Run(72, 700, "words on the page before"), Run(72, 686, "the radio sta-"), Run(72, 90, "A note here.", 8)],
        [Run(72, 700, "tion, on the air")],
    ]
    pdf = write_runs_pdf(tmp_path / "break.pdf", runs)
    store = SQLiteDocumentStore(tmp_path / "index.db")
    index_paths(store, [pdf], IngestOptions(workers=0), show_progress=False)
    [passage] = store.filter_documents()
    text = "words on the page before the radio station,\n\nA note here.\fon the air"
    assert passage.content == text and passage.meta["next_page_spans"] == [[38, 43]] and text[38:43] == "tion,"

    def pages(answer: str) -> tuple[int | None, list[int] | None]:
        start = text.index(answer)
        found = Answer("q", answer, 0.0, 1.0, passage, start, start + len(answer))
        return found.page, found.pages

    assert pages("radio station") == (1, [1, 2])  # ends in the rest of the word, printed on page 2
    assert pages("station,\n\nA note") == (1, [1, 2])  # and on into page 1's footnote
    assert pages("tion") == (2, [2])
    assert pages("tion,\n\nA note") == (2, [1, 2])
    assert pages("the radio sta") == (1, [1])
    assert pages("A note here.\fon the air") == (1, [1, 2])
    assert pages("on the air") == (2, [2])
    assert page_at(passage, text.index("\f")) == 1  # a form feed is the last character of its page
    # The page image boxes each page's part, with that page's text around it.
    start, end = text.index("radio station"), text.index(",")
    on_one, on_two = (highlight_in_passage(text, start, end, 1, page, passage.meta["next_page_spans"]) for page in (1, 2))
    assert (on_one.answer, on_one.before[-11:], on_one.after) == ("radio sta", "before the ", "\n\nA note here.")
    assert (on_two.answer, on_two.before, on_two.after) == ("tion", "", ",on the air")
    store.close()
    # The CLI names both pages.
    qa = qa_answering(tmp_path, "radio station")
    assert shown(qa.ask("Which station?"))[1] == f"   {pdf}:1\u20132"
