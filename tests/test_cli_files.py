"""`docqa files`, `docqa forget` and `docqa index --prune` of paths that are gone."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from tests.corpus import write_corpus


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def indexed(tmp_path, monkeypatch):
    """A folder of notes (two subfolders) and one empty file, indexed; the current folder is tmp_path."""
    monkeypatch.chdir(tmp_path)
    write_corpus(tmp_path / "docs", pdfs=0, texts=4)
    (tmp_path / "docs" / "empty.txt").write_bytes(b"")
    assert run("index", "docs", "--db", "i.db", "--workers", "0").exit_code == 1
    return tmp_path


def test_files_lists_each_file_relative_to_the_current_folder(indexed):
    result = run("files", "--db", "i.db")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "docs/empty.txt  failed: empty file"
    assert [line.split("  ")[0] for line in lines[1:]] == [
        "docs/md/note0000.md", "docs/md/note0002.md", "docs/notes/note0001.txt", "docs/notes/note0003.txt"
    ]
    assert all(line.endswith(" passages") for line in lines[1:])
    assert result.stderr == "5 files (4 indexed, 1 failed)\n"


def test_files_failed_json(indexed):
    result = run("files", "--db", "i.db", "--failed", "--json")
    assert result.exit_code == 0
    [record] = json.loads(result.stdout)["files"]
    assert (record["path"], record["status"], record["error"], record["passages"]) == (
        str(indexed / "docs" / "empty.txt"), "failed", "empty file", 0
    )
    assert set(record) == {"id", "path", "status", "error", "pages", "passages", "size", "sha256", "indexed_at"}


def test_forget_files_and_folders_present_or_deleted(indexed):
    forgot = run("forget", "docs/notes/note0001.txt", "--db", "i.db")
    assert (forgot.exit_code, forgot.stderr) == (0, "forgot 1 file\n")
    assert (indexed / "docs" / "notes" / "note0001.txt").exists()  # the file itself is left alone
    shutil.rmtree(indexed / "docs" / "md")
    forgot = run("forget", "docs/md", "--db", "i.db")
    assert (forgot.exit_code, forgot.stderr) == (0, "forgot 2 files\n")
    listed = run("files", "--db", "i.db").stdout
    assert "note0001" not in listed and "docs/md/" not in listed and "note0003" in listed
    missing = run("forget", "elsewhere", "docs/notes", "--db", "i.db")
    assert missing.exit_code == 1
    assert missing.stderr == "not indexed: elsewhere (`docqa files` lists what is)\nforgot 1 file\n"


def test_prune_accepts_a_deleted_folder_or_file(indexed):
    shutil.rmtree(indexed / "docs" / "md")
    pruned = run("index", "docs/md", "--prune", "--db", "i.db", "--json")
    assert pruned.exit_code == 0, pruned.output
    assert json.loads(pruned.stdout)["files"] == {"indexed": 0, "unchanged": 0, "failed": 0, "removed": 2}
    (indexed / "docs" / "notes" / "note0003.txt").unlink()
    pruned = run("index", "docs/notes/note0003.txt", "--prune", "--db", "i.db", "--json")
    assert json.loads(pruned.stdout)["files"]["removed"] == 1
    refused = run("index", "docs/md", "--db", "i.db")
    assert refused.exit_code == 2
    assert "Path 'docs/md' does not exist. (To forget its files, add --prune or run `docqa forget docs/md`.)" in refused.stderr


def test_a_re_index_exits_1_while_failed_files_remain_and_says_how_many(indexed):
    again = run("index", "docs", "--db", "i.db", "--json")
    assert again.exit_code == 1
    assert json.loads(again.stdout)["files"] == {"indexed": 0, "unchanged": 5, "failed": 0, "removed": 0}
    assert again.stderr.rstrip().endswith(" s; 1 file under these paths is still failed (`docqa files --failed` says why)")
    # Only the paths indexed count: a folder without failed files is a success.
    assert run("index", "docs/md", "--db", "i.db").exit_code == 0
    (indexed / "docs" / "empty.txt").write_text("Not empty any more.", encoding="utf-8")
    fixed = run("index", "docs", "--db", "i.db")
    assert fixed.exit_code == 0 and "still failed" not in fixed.stderr


def test_files_of_other_types_in_folders_are_counted_as_skipped(indexed):
    (indexed / "docs" / "report.xlsx").write_bytes(b"PK\x03\x04")
    (indexed / "docs" / "md" / "photo.GIF").write_bytes(b"GIF89a")  # images docqa reads are .png, .jpg and .tif
    (indexed / "docs" / ".hidden.xlsx").write_bytes(b"PK")  # excluded on purpose: not counted
    result = run("index", "docs", "--db", "i.db")
    assert result.stderr.rstrip().endswith("; 2 skipped, of other types (.gif, .xlsx: see ingest.include)")


def test_index_json_says_why_it_exits_1_when_earlier_failures_remain(indexed):
    again = run("index", "docs", "--db", "i.db", "--json")
    assert again.exit_code == 1
    data = json.loads(again.stdout)
    assert (data["files"]["failed"], data["failures"]) == (0, [])
    assert data["still_failed"] == 1
    assert data["earlier_failures"] == [{"path": str(indexed / "docs" / "empty.txt"), "error": "empty file"}]


def test_a_file_of_another_type_named_on_the_command_line_is_skipped_not_failed(indexed):
    (indexed / "docs" / "empty.txt").write_text("Not empty any more.", encoding="utf-8")
    (indexed / "docs" / "table.xyz").write_bytes(b"a,b\n1,2\n")
    named = run("index", "docs/table.xyz", "--db", "i.db", "--json")
    assert named.exit_code == 0, named.output
    data = json.loads(named.stdout)
    assert (data["files"], data["failures"], data["skipped"]) == ({"indexed": 0, "unchanged": 0, "failed": 0, "removed": 0}, [], 1)
    assert named.stderr.rstrip().endswith("; 1 skipped, of other types (.xyz: see ingest.include)")
    assert run("files", "--failed", "--db", "i.db").stdout == "docs/empty.txt  failed: empty file\n"  # not table.xyz
    # The folder holding it exits 0 as well: nothing was recorded as failed.
    assert run("index", "docs", "--db", "i.db").exit_code == 0


def test_a_failure_an_earlier_docqa_recorded_for_a_named_file_of_another_type_is_dropped(indexed):
    from store.document_store import SQLiteDocumentStore
    from store.records import FileInfo

    (indexed / "docs" / "empty.txt").write_text("Not empty any more.", encoding="utf-8")
    table = indexed / "docs" / "table.xyz"
    table.write_bytes(b"a,b\n")
    store = SQLiteDocumentStore(indexed / "i.db")
    store.save_failure(FileInfo(str(table), None, None, None), "unsupported file type '.xyz'")
    store.close()
    result = run("index", "docs", "--db", "i.db", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"]["removed"] == 1
    assert "table.xyz" not in run("files", "--db", "i.db").stdout


def test_a_plain_re_index_says_how_many_indexed_files_are_gone_and_suggests_prune(indexed):
    (indexed / "docs" / "notes" / "note0001.txt").unlink()
    (indexed / "docs" / "md" / "note0002.md").unlink()
    again = run("index", "docs", "--db", "i.db", "--json")
    data = json.loads(again.stdout)
    assert (data["gone"], data["files"]["removed"]) == (2, 0)
    assert "; 2 indexed files under these paths are gone from disk and still answer questions: add --prune to forget them" in again.stderr
    assert "note0001.txt" in run("files", "--db", "i.db").stdout  # kept: prune was not asked for
    pruned = run("index", "docs", "--db", "i.db", "--prune", "--json")
    assert (json.loads(pruned.stdout)["gone"], json.loads(pruned.stdout)["files"]["removed"]) == (0, 2)
    assert "gone from disk" not in pruned.stderr
