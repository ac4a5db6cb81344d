"""The indexing acceptance run at CI size: 200 files through `docqa index` with worker processes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import ingest.worker
from pipeline.cli import cli
from store.document_store import SQLiteDocumentStore
from tests.corpus import write_bad_files, write_corpus
from tests.test_indexer import assert_passages_cover


def test_two_hundred_files(tmp_path, monkeypatch):
    written = write_corpus(tmp_path / "docs", pdfs=120, texts=72, pages=2)
    bad = write_bad_files(tmp_path / "docs" / "bad")
    assert len(written) + len(bad) == 200
    db = tmp_path / "index.db"
    runner = CliRunner()

    result = runner.invoke(cli, ["index", str(tmp_path / "docs"), "--db", str(db), "--workers", "2", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["files"] == {"indexed": 192, "unchanged": 0, "failed": 8, "removed": 0}
    reasons = {Path(f["path"]).name: f["error"] for f in report["failures"]}
    assert sorted(reasons) == sorted(bad)
    assert all(reasons[name].startswith(why) for name, why in bad.items())

    store = SQLiteDocumentStore(db, create=False)
    assert store.integrity_check() == ["ok"]
    assert_passages_cover(store, list(written))
    assert store.count_documents() == report["passages"]

    parsed = []
    monkeypatch.setattr(ingest.worker, "convert", lambda *a: parsed.append(a))
    again = runner.invoke(cli, ["index", str(tmp_path / "docs"), "--db", str(db), "--workers", "0", "--json"])
    assert json.loads(again.stdout)["files"] == {"indexed": 0, "unchanged": 199, "failed": 1, "removed": 0}
    assert parsed == []
