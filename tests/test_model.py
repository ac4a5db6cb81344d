"""The reader model from a newcomer's side: a quick one-line failure without network, `docqa model download` and `check`."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.reader.precision import cpu_bf16_flag, resolve_precision

REPO = Path(__file__).resolve().parents[1]
MODEL = "distilbert-base-cased-distilled-squad"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docqa_without_network(tmp_path, *args):
    """docqa in a fresh process, as on a machine whose hub requests are refused and whose cache is empty."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_HUB_CACHE", "HF_HOME")}
    env.update(HF_HOME=str(tmp_path / "hf-home"), HF_ENDPOINT=f"http://127.0.0.1:{closed_port()}", PYTHONPATH=str(REPO))
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, env=env, cwd=tmp_path)
    return out, time.perf_counter() - started


@pytest.fixture(scope="module")
def examples_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("model") / "i.db"
    result = CliRunner().invoke(cli, ["index", str(REPO / "examples"), "--db", str(db), "--workers", "0"])
    assert result.exit_code == 0, result.output
    return db


def test_the_readmes_first_ask_fails_in_one_line_at_once_without_network(tmp_path, examples_db):
    out, seconds = docqa_without_network(tmp_path, "ask", "Who built the Northport Harbor Railway?", "--db", str(examples_db))
    assert out.returncode == 1
    [line] = out.stderr.splitlines()
    assert line.startswith(f"Error: cannot load reader model '{MODEL}': it is not in the Hugging Face cache ({tmp_path / 'hf-home'}")
    assert "cannot be reached (" in line
    assert line.endswith(
        f"Fix: on a machine with network run `docqa model download {MODEL} --to DIR` "
        f"(or `hf download {MODEL} --local-dir DIR`), copy DIR here and set reader.model to it"
    )
    assert seconds < 20  # transformers' own retries took about a minute


def test_model_download_without_network_says_so_in_one_line(tmp_path):
    out, _ = docqa_without_network(tmp_path, "model", "download", "--to", str(tmp_path / "m"))
    assert out.returncode == 1
    [line] = out.stderr.splitlines()
    assert line.startswith(f"Error: cannot download '{MODEL}': the Hugging Face hub (http://127.0.0.1:")
    assert line.endswith("Fix: run this on a machine with network and copy the folder over (--to DIR)")
    assert not (tmp_path / "m").exists()


def test_model_download_fetches_what_the_reader_needs_then_check_loads_it(tmp_path, tiny_model, monkeypatch):
    import huggingface_hub

    import pipeline.hub

    asked = {}

    def snapshot_download(name, local_dir=None, allow_patterns=None, endpoint=None):
        asked.update(name=name, allow_patterns=allow_patterns)
        shutil.copytree(tiny_model, local_dir)
        return str(local_dir)

    monkeypatch.setenv("HF_HUB_OFFLINE", "")
    monkeypatch.setattr(pipeline.hub, "check_hub", lambda name, downloading=False: None)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    siblings = [SimpleNamespace(rfilename=f) for f in ("config.json", "model.safetensors", "pytorch_model.bin", "tf_model.h5", "tokenizer.json")]
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", lambda self, name, timeout=None: SimpleNamespace(siblings=siblings))
    folder = tmp_path / "squad"
    result = CliRunner().invoke(cli, ["model", "download", "some/qa-model", "--to", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{folder}\n"
    assert asked == {
        "name": "some/qa-model",
        "allow_patterns": ["config.json", "tokenizer*", "vocab*", "merges.txt", "special_tokens_map.json", "*.model", "*.safetensors"],
    }

    config = tmp_path / "c.yaml"
    config.write_text(f"reader:\n  model: {folder}\n  device: cpu\n", encoding="utf-8")
    check = CliRunner().invoke(cli, ["model", "check", "--config", str(config)])
    assert check.exit_code == 0, check.output
    lines = check.stdout.splitlines()
    assert re.fullmatch(r"type        distilbert \(DistilBertForQuestionAnswering\), [\d,]+ parameters", lines[2])
    assert re.fullmatch(r"tokenizer   \w+, \d+ tokens, cased", lines[3])
    assert lines[:2] + lines[4:7] == [
        f"model       {folder}",
        f"from        the local folder {folder}",
        "device      cpu",
        f"precision   {resolve_precision('auto', 'cpu', cpu_bf16_flag())[0]}",  # auto: bf16 only where this CPU computes it natively
        "segment ids no",
    ]


def test_model_check_names_a_missing_folder(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"reader:\n  model: {tmp_path / 'nowhere'}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["model", "check", "--config", str(config)])
    assert result.exit_code == 1
    assert result.stderr == f"Error: reader model {str(tmp_path / 'nowhere')!r}: no such folder: set reader.model to a folder holding the model\n"
