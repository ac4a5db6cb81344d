"""How `docqa ask` shows answers: page breaks, also in."""

from __future__ import annotations

import click
from click.testing import CliRunner

from pipeline.cli.output import print_ranking
from pipeline.ranking import Ranking, RankedAnswer, Source


def source(file, page, passage, pages=None):
    return Source(file, page, pages or (None if page is None else [page]), passage, 0, 9, "the 1872 line", 0, 1.0, None)


def test_an_answer_shows_no_page_break_and_lists_other_places_once():
    answer = RankedAnswer(
        "the\f1872", 0.5, 0.5,
        (source("/d/a.pdf", 2, "p1"), source("/d/a.pdf", 2, "p2"), source("/d/b.txt", None, "p3"), source("/d/b.txt", None, "p4")),
    )

    @click.command()
    def show():
        print_ranking(Ranking("q?", [answer]), 0.0)

    lines = CliRunner().invoke(show).stdout.splitlines()
    assert lines[0] == "1. the 1872   score 0.500"
    assert lines[1:4] == ["   /d/a.pdf:2", "   the 1872 line", "   also in: /d/b.txt"]


def test_an_answer_across_a_page_break_names_its_pages_and_other_places_theirs():
    answer = RankedAnswer("the 1872", 0.5, 0.5, (source("/d/a.pdf", 2, "p1", [2, 3]), source("/d/c.pdf", 7, "p2"), source("/d/a.pdf", 2, "p3")))

    @click.command()
    def show():
        print_ranking(Ranking("q?", [answer]), 0.0)

    lines = CliRunner().invoke(show).stdout.splitlines()
    assert lines[1] == "   /d/a.pdf:2\u20133" and lines[3] == "   also in: /d/c.pdf:7, /d/a.pdf:2"
