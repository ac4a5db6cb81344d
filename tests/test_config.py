from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from ingest.options import IngestOptions
from pipeline.config import ApiConfig, Config, ConfigError, StoreConfig, load_config

REPO = Path(__file__).resolve().parents[1]


def test_shipped_config_yaml_is_exactly_the_defaults():
    # Its relative paths start from its own folder, as any configuration file's do.
    anchored = dataclasses.replace(
        Config(), store=StoreConfig(path=str(REPO / "docqa.db")), api=ApiConfig(data_folder=str(REPO / "docqa-uploads"))
    )
    assert load_config(REPO / "config.yaml") == anchored
    assert yaml.safe_load((REPO / "config.yaml").read_text()) == Config().to_dict()


def test_every_key_in_config_yaml_has_a_comment():
    lines = (REPO / "config.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\s*[a-z_]+:", line):
            assert lines[i - 1].lstrip().startswith("#"), f"config.yaml line {i + 1} has no comment above it: {line!r}"


def test_partial_file_keeps_other_defaults(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("ingest:\n  split_overlap: 10\n", encoding="utf-8")
    assert load_config(path) == dataclasses.replace(Config(), ingest=IngestOptions(split_overlap=10))


def test_empty_file_is_defaults(tmp_path):
    (tmp_path / "c.yaml").write_text("", encoding="utf-8")
    assert load_config(tmp_path / "c.yaml") == Config()


@pytest.mark.parametrize(
    "text, message",
    [
        ("store:\n  paht: x\n", "{p}: unknown key 'store.paht' (valid keys: path)"),
        ("server: {}\n", "{p}: unknown key 'server' (valid keys: store, ingest, retriever, reader, ask, api, ray)"),
        ("ingest:\n  split_length: 1.5\n", "{p}: ingest.split_length: input should be a valid integer, got 1.5"),
        ("ingest:\n  include: '*.pdf'\n", "{p}: ingest.include: input should be a valid array, got '*.pdf'"),
        ("ingest:\n  split_overlap: 200\n", "{p}: ingest: split_overlap must be >= 0 and < split_length (120), got 200"),
        ("- a\n", "{p}: expected a mapping of sections (store:, ingest:, ...), got list"),
        ("a: [\n", None),
    ],
)
def test_errors_name_key_and_file(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    if message is None:
        assert str(err.value).startswith(f"{path} is not valid YAML: ")
    else:
        assert str(err.value) == message.format(p=path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match=r"^cannot read config file .*none\.yaml: No such file or directory$"):
        load_config(tmp_path / "none.yaml")


def test_relative_paths_start_from_the_files_folder(tmp_path):
    (tmp_path / "models" / "squad").mkdir(parents=True)
    path = tmp_path / "c.yaml"
    path.write_text("store:\n  path: data/i.db\nreader:\n  model: models/squad\napi:\n  data_folder: ../up\n", encoding="utf-8")
    config = load_config(path)
    assert (config.store.path, config.reader.model) == (str(tmp_path / "data/i.db"), str(tmp_path / "models/squad"))
    assert config.api.data_folder == str(tmp_path / "../up")
    hub = tmp_path / "hub.yaml"
    hub.write_text("reader:\n  model: deepset/roberta-base-squad2\n", encoding="utf-8")
    assert load_config(hub).reader.model == "deepset/roberta-base-squad2"  # a hub id, not a folder
    assert load_config(hub).store.path == "docqa.db"  # a default, from the working directory
    assert load_config(hub, project=True).store.path == str(tmp_path / "docqa.db")  # a project's: from its folder
