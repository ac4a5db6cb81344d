"""`docqa index` of a folder of Word, HTML and EPUB files, good and bad, through worker processes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import cli
from store.document_store import SQLiteDocumentStore
from tests.formats import ARTICLE_PAGE, ARTICLE_TEXT, DOCX_TEXT, write_docx, write_epub
from tests.test_epub import BOOK_TEXT, CHAPTERS
from tests.test_indexer import assert_passages_cover


def test_docx_html_and_epub_are_indexed_with_exact_offsets_and_bad_ones_reported(tmp_path):
    docs = tmp_path / "docs"
    (docs / "web").mkdir(parents=True)
    write_docx(docs / "railway.docx")
    (docs / "web" / "danube.html").write_text(ARTICLE_PAGE, encoding="utf-8")
    (docs / "web" / "old.HTM").write_bytes("<p>Caf\u00e9 \u00e0 l\u2019ancienne, na\u00efve fa\u00e7ade.</p>".encode("cp1252"))
    write_epub(docs / "danube.epub", CHAPTERS)
    (docs / "renamed.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "WordDocument".encode("utf-16-le"))
    (docs / "web" / "junk.html").write_bytes(b"\x01\x02\x03\x04 junk " * 200)
    (docs / "broken.epub").write_bytes(b"PK\x03\x04 truncated")
    db = tmp_path / "index.db"

    result = CliRunner().invoke(cli, ["index", str(docs), "--db", str(db), "--workers", "2", "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["files"] == {"indexed": 4, "unchanged": 0, "failed": 3, "removed": 0}
    assert {Path(f["path"]).name: f["error"] for f in report["failures"]} == {
        "renamed.docx": "an old Word .doc file named .docx: save it as .docx (Word: Save As; or "
        "`libreoffice --headless --convert-to docx FILE`) and index that",
        "junk.html": "binary file, not HTML: another kind of file named .html",
        "broken.epub": "corrupt or truncated EPUB (BadZipFile: File is not a zip file): if it opens, save it again and index the copy",
    }

    store = SQLiteDocumentStore(db, create=False)
    assert store.integrity_check() == ["ok"]
    good = [str(docs / "railway.docx"), str(docs / "web" / "danube.html"), str(docs / "web" / "old.HTM"), str(docs / "danube.epub")]
    assert_passages_cover(store, good)  # every passage is file_text[start:start + len(passage)], all text covered
    passages = {}
    for doc in store.filter_documents():
        passages.setdefault(Path(doc.meta["file_path"]).name, []).append(doc)
    assert sorted(passages) == ["danube.epub", "danube.html", "old.HTM", "railway.docx"]
    # Short documents are one passage each: the whole converted text, from offset 0, with no page.
    for name, text in (("railway.docx", DOCX_TEXT), ("danube.html", ARTICLE_TEXT), ("danube.epub", BOOK_TEXT)):
        [doc] = passages[name]
        assert (doc.content, doc.meta["split_idx_start"], doc.meta["page_number"]) == (text, 0, None)
    assert passages["old.HTM"][0].content == "Caf\u00e9 \u00e0 l\u2019ancienne, na\u00efve fa\u00e7ade."

    hits = store.bm25_retrieval("Which capitals does the Danube pass?", top_k=1)
    assert Path(hits[0].meta["file_path"]).name == "danube.html"
