from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from tests.corpus import write_bad_files, write_corpus

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def runner():
    return CliRunner()


def test_index_json_exit_1_on_failures_then_stats(tmp_path, runner):
    write_corpus(tmp_path / "docs", pdfs=2, texts=2)
    write_bad_files(tmp_path / "docs" / "bad")
    db = str(tmp_path / "i.db")
    result = runner.invoke(cli, ["index", str(tmp_path / "docs"), "--db", db, "--json", "--workers", "0"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["files"] == {"indexed": 4, "unchanged": 0, "failed": 8, "removed": 0}
    assert set(data) == {"files", "passages", "failures", "still_failed", "earlier_failures", "gone", "skipped", "seconds"}
    assert (data["still_failed"], data["earlier_failures"], data["gone"]) == (8, [], 0)
    assert {Path(f["path"]).name for f in data["failures"]} == {
        "encrypted.pdf", "truncated.pdf", "corrupt.pdf", "scanned.pdf", "empty.txt", "blank.md", "binary.txt", "dangling.txt"
    }
    assert f"failed: {tmp_path / 'docs' / 'bad' / 'empty.txt'}: empty file\n" in result.stderr
    assert "4 indexed (" in result.stderr and ", 0 unchanged, 8 failed, 0 removed in " in result.stderr

    stats = runner.invoke(cli, ["stats", "--db", db, "--json"])
    assert stats.exit_code == 0
    s = json.loads(stats.stdout)
    assert (s["files"], s["failed"], s["passages"], s["pages"]) == (4, 8, data["passages"], 6)
    assert s["size_bytes"] > 0


def test_index_all_good_exits_0(tmp_path, runner):
    write_corpus(tmp_path / "docs", pdfs=0, texts=2)
    result = runner.invoke(cli, ["index", str(tmp_path / "docs"), "--db", str(tmp_path / "i.db"), "--workers", "0"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(cli, ["index", str(tmp_path / "docs"), "--db", str(tmp_path / "i.db"), "--json"])
    assert again.exit_code == 0
    assert json.loads(again.stdout)["files"] == {"indexed": 0, "unchanged": 2, "failed": 0, "removed": 0}


def test_usage_errors_exit_2(tmp_path, runner):
    missing = runner.invoke(cli, ["index", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert f"Path '{tmp_path / 'nope'}' does not exist." in missing.stderr
    assert runner.invoke(cli, ["index"]).exit_code == 2
    assert runner.invoke(cli, ["index", str(tmp_path), "--workers", "-1"]).exit_code == 2


def test_stats_without_database(tmp_path, runner):
    result = runner.invoke(cli, ["stats", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    assert result.stderr == f"Error: no database at {tmp_path / 'none.db'}: run `docqa index PATH` first (or pass --db)\n"


def test_stats_lists_failures(tmp_path, runner):
    (tmp_path / "empty.txt").write_bytes(b"")
    db = str(tmp_path / "i.db")
    runner.invoke(cli, ["index", str(tmp_path), "--db", db])
    result = runner.invoke(cli, ["stats", "--db", db])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1:] == [
        "files     0 indexed, 1 failed",
        "passages  0",
        "pages     0",
        "failures:",
        f"  {tmp_path / 'empty.txt'}: empty file",
    ]


def test_config_merges_file_and_db(tmp_path, runner):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ingest:\n  split_length: 80\n", encoding="utf-8")
    result = runner.invoke(cli, ["config", "--config", str(cfg), "--db", "x.db"])
    assert result.exit_code == 0
    assert "store:\n  path: x.db\n" in result.stdout
    assert "  split_length: 80\n  split_overlap: 20\n" in result.stdout


def test_bad_config_names_key_and_file(tmp_path, runner):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ingest:\n  split_lenght: 80\n  workers: '2'\n", encoding="utf-8")
    result = runner.invoke(cli, ["config", "--config", str(cfg)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {cfg}: ingest.workers: input should be a valid integer, got '2'; unknown key 'ingest.split_lenght' "
        "(valid keys: include, exclude, split_length, split_overlap, workers, timeout_s, max_memory_mb, stream_text_above_mb, encoding, ocr)\n"
    )


def test_help_imports_neither_torch_nor_haystack():
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pipeline.cli", "--help"], capture_output=True, text=True, cwd=REPO, check=True
    )
    imported = [line.split("|")[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")]
    assert not [m for m in imported if m.split(".")[0] in ("torch", "transformers", "haystack")]
    assert "Commands:" in out.stdout


def test_indexing_does_not_load_torch(tmp_path):
    (tmp_path / "a.txt").write_text("Some text.", encoding="utf-8")
    code = (
        "import sys; from click.testing import CliRunner; from pipeline.cli import cli; "
        f"r = CliRunner().invoke(cli, ['index', {str(tmp_path)!r}, '--db', {str(tmp_path / 'i.db')!r}, '--workers', '0']); "
        "assert r.exit_code == 0, r.output; print('torch' in sys.modules, 'haystack' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_haystack_torch_components_still_work_after_docqa_hid_torch():
    code = (
        "import sys, store.haystack_compat; assert 'torch' not in sys.modules; "
        "from haystack.utils.device import ComponentDevice; "
        "print(ComponentDevice.resolve_device(None).to_torch())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() in ("cpu", "cuda:0", "mps")


def test_global_options_go_before_or_after_the_command_name(tmp_path, runner):
    write_corpus(tmp_path / "docs", pdfs=0, texts=2)
    before = tmp_path / "before.db"
    result = runner.invoke(cli, ["--db", str(before), "index", str(tmp_path / "docs"), "--workers", "0"])
    assert result.exit_code == 0, result.output
    assert before.exists()
    config = tmp_path / "c.yaml"
    config.write_text(f"store:\n  path: {before}\n", encoding="utf-8")
    stats = runner.invoke(cli, ["--config", str(config), "stats", "--json"])
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.stdout)["files"] == 2
    # After the name wins over before it.
    other = runner.invoke(cli, ["--db", str(tmp_path / "none.db"), "stats", "--db", str(before), "--json"])
    assert other.exit_code == 0 and json.loads(other.stdout)["database"] == str(before)


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_goes_before_or_after_the_command_name(tmp_path, where):
    write_corpus(tmp_path / "docs", pdfs=0, texts=1)
    (tmp_path / "docs" / "table.csv").write_text("a,b\n", encoding="utf-8")
    args = ["index", str(tmp_path / "docs"), "--db", str(tmp_path / "i.db"), "--workers", "0"]
    args = ["-v", *args] if where == "before" else [*args, "-v"]
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"docqa: INFO: skipped (not in ingest.include): {tmp_path / 'docs' / 'table.csv'}\n" in done.stderr
