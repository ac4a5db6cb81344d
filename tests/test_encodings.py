"""Text files in legacy encodings: detection on a corpus of several languages, doubtful files, ingest.encoding."""

from __future__ import annotations

import json
from pathlib import PurePath

import pytest
from click.testing import CliRunner

from ingest.clean import clean
from ingest.convert import DOUBTFUL_ENCODING, convert
from ingest.encoding import detect, plausibility
from ingest.options import IngestOptions
from pipeline.cli import cli
from pipeline.config import ConfigError, validate
from tests.languages import samples, write_samples

# The one file of the corpus that two encodings read equally well: Polish "Dziękuję, będę" in
# cp1250 is French-looking "Dziêkujê, bêdê" in cp1252. It is read as cp1252 (Western is
# preferred on a tie) and reported as doubtful.
AMBIGUOUS = {("Polish", "cp1250", "Dziękuję, będę jutro wieczorem.")}


@pytest.mark.parametrize("language, encoding, text", samples(), ids=lambda v: v if len(v) < 20 else None)
def test_every_file_of_the_corpus_is_read_right_or_reported_as_doubtful(language, encoding, text):
    converted = convert(PurePath("a.txt"), text.encode(encoding))
    doubtful = [w for w in converted.warnings if w.startswith(DOUBTFUL_ENCODING)]
    if (language, encoding, text) in AMBIGUOUS:
        assert doubtful == [
            f"{DOUBTFUL_ENCODING}: not UTF-8; read as cp1252, but cp1250 would read it as well "
            "('Dziêkujê,' or 'Dziękuję,', 'bêdê' or 'będę'): if its text is wrong, set ingest.encoding to the right one"
        ]
    else:
        assert converted.text == clean(text)
        assert not doubtful


def test_the_issues_latin1_french_is_not_read_as_cp1250_or_cp1257():
    long = "La forêt près du lac, à Zürich, où l'on va être heureux. " * 4
    assert convert(PurePath("fr.txt"), long.encode("latin-1")).text == clean(long)
    short = "crème, naïve, déjà, François"
    converted = convert(PurePath("fr.txt"), short.encode("latin-1"))
    assert (converted.text, converted.warnings) == (short, ["not UTF-8; read as cp1252"])


def test_detection_knows_other_scripts_and_utf16_without_bom():
    russian = "Привет, мир! Сегодня хорошая погода, и мы идём гулять в парк у реки. " * 3
    for encoding in ("cp1251", "koi8_r"):
        assert detect(russian.encode(encoding)).encoding == encoding
    french = "Il était une fois une forêt près de la rivière. " * 3
    assert detect(french.encode("utf-16-le")).encoding == "utf_16_le"


def test_plausibility_is_the_share_of_letters_one_alphabet_explains():
    assert plausibility("forêt près à Zürich où") == 1.0  # French
    assert plausibility("foręt prčs ŕ Zürich oů") == pytest.approx(2 / 5)  # ę, č, ŕ, ü, ů: Czech explains č and ů
    assert plausibility("mo¿e") == 0.0  # a symbol inside a word
    assert plausibility("plain ASCII") == 1.0


def test_ingest_encoding_reads_files_that_are_not_utf8_with_it(tmp_path):
    polish = "Dziękuję, będę jutro wieczorem."
    data = polish.encode("cp1250")
    assert convert(PurePath("pl.txt"), data, IngestOptions(encoding="cp1250")).text == polish
    # UTF-8 files (and BOMs) keep being read as what they are.
    assert convert(PurePath("u.txt"), "Zażółć".encode("utf-8"), IngestOptions(encoding="cp1250")).text == "Zażółć"
    bad = convert(PurePath("x.txt"), b"caf\x81 ok", IngestOptions(encoding="cp1252"))
    assert (bad.text, bad.warnings) == ("caf\ufffd ok", ["invalid cp1252 (character maps to <undefined>); bad bytes read as U+FFFD"])


def test_ingest_encoding_is_checked_and_changes_re_index():
    with pytest.raises(ConfigError, match=r"ingest: encoding must be auto or the name of an encoding .*, got 'latin-9x'"):
        validate({"ingest": {"encoding": "latin-9x"}}, source="c.yaml")
    assert IngestOptions().splitter != IngestOptions(encoding="cp1250").splitter
    assert IngestOptions(encoding="windows-1250").splitter == IngestOptions(encoding="cp1250").splitter


def test_index_reports_doubtful_files_and_counts_them(tmp_path):
    written = write_samples(tmp_path / "docs")
    db = str(tmp_path / "i.db")
    result = CliRunner().invoke(cli, ["index", str(tmp_path / "docs"), "--db", db, "--workers", "0", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"]["indexed"] == len(written)
    [polish] = [path for path, encoding, text in written if ("Polish", encoding, text) in AMBIGUOUS]
    assert f"{polish}: {DOUBTFUL_ENCODING}: not UTF-8; read as cp1252, but cp1250 would read it as well" in result.stderr
    assert result.stderr.rstrip().endswith(" s; 1 read in a doubtful encoding (see above)")

    config = tmp_path / "c.yaml"
    config.write_text("ingest:\n  encoding: cp1250\n", encoding="utf-8")
    forced = CliRunner().invoke(cli, ["index", str(polish), "--db", db, "--config", str(config), "--json"])
    assert forced.exit_code == 0 and json.loads(forced.stdout)["files"]["indexed"] == 1
    assert DOUBTFUL_ENCODING not in forced.stderr
