"""How `docqa ask` shows answers on a terminal (JSON is Ranking.to_json, printed as it is)."""

from __future__ import annotations

import os

import click

from store.records import FileRecord

from pipeline.ranking import Ranking, RankedAnswer, Source


def print_ranking(ranking: Ranking, min_score: float, restricted: bool = False) -> None:
    if ranking.found:
        shown = ranking.answers
    elif ranking.candidates:
        click.echo(f"No answer scored at least ask.min_score ({min_score:g}). Best candidates, not answers:\n")
        shown = ranking.candidates
    else:
        where = " of the files --file selects" if restricted else ""
        click.echo(f"No answer: no passage{where} matches the words of the question.")
        return
    for number, answer in enumerate(shown, start=1):
        _print_answer(number, answer)


def _print_answer(number: int, answer: RankedAnswer) -> None:
    best = answer.best
    # Whitespace as one space: an answer across a PDF page break holds a form feed.
    click.echo(f"{number}. {click.style(' '.join(answer.text.split()), bold=True)}   score {answer.score:.3f}")
    click.echo(f"   {_where(best)}")
    click.echo(f"   {_highlight(best)}")
    # Other places, each once: passages of the same page are one place to a reader.
    elsewhere = [w for w in dict.fromkeys(_where(s) for s in answer.sources[1:]) if w != _where(best)]
    if elsewhere:
        click.echo(f"   also in: {', '.join(elsewhere)}")
    click.echo()


def print_files(records: list[FileRecord]) -> None:
    """One line a file: its path (relative to the current folder when inside it) and its state."""
    for record in records:
        if record.status == "failed":
            click.echo(f"{_shown(record.path)}  failed: {record.error}")
        else:
            pages = f"{record.pages} pages, " if record.pages is not None else ""
            click.echo(f"{_shown(record.path)}  {pages}{record.passages} passages")
    failed = sum(r.status == "failed" for r in records)
    click.echo(f"{len(records)} files ({len(records) - failed} indexed, {failed} failed)", err=True)


def _shown(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _where(source: Source) -> str:
    """file:page of the answer's first character, file:2–3 when the answer crosses a page break."""
    if source.file is None:
        return f"passage {source.passage_id[:12]}"
    path = _shown(source.file)
    if source.page is None:
        return path
    last = source.pages[-1] if source.pages else source.page
    return f"{path}:{source.page}" if last == source.page else f"{path}:{source.page}\u2013{last}"


def _highlight(source: Source) -> str:
    """The context with the answer in bold (click drops the styling when stdout is not a terminal)."""
    start, end = source.start - source.context_start, source.end - source.context_start
    context = source.context
    text = context[:start] + click.style(context[start:end], bold=True) + context[end:]
    return " ".join(text.split())
