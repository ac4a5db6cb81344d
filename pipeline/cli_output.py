"""How `docqa ask` shows answers: readable text on a terminal, JSON and JSONL for programs."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import click

from store.errors import DocqaError

from pipeline.batch import read_batch_file
from pipeline.qa import QA
from pipeline.ranking import Ranking, RankedAnswer, Source


def ranking_json(ranking: Ranking, seconds: float) -> dict[str, Any]:
    """The JSON of `docqa ask --json` (DESIGN.md): question, answers, seconds; plus found and candidates."""
    data: dict[str, Any] = {
        "question": ranking.question,
        "found": ranking.found,
        "answers": [a.to_json() for a in ranking.answers],
    }
    if not ranking.found:
        data["candidates"] = [a.to_json() for a in ranking.candidates]
    data["seconds"] = round(seconds, 3)
    return data


def print_ranking(ranking: Ranking, min_score: float) -> None:
    if ranking.found:
        shown = ranking.answers
    elif ranking.candidates:
        click.echo(f"No answer scored at least ask.min_score ({min_score:g}). Best candidates, not answers:\n")
        shown = ranking.candidates
    else:
        click.echo("No answer: no passage matches the words of the question.")
        return
    for number, answer in enumerate(shown, start=1):
        _print_answer(number, answer)


def _print_answer(number: int, answer: RankedAnswer) -> None:
    best = answer.best
    click.echo(f"{number}. {click.style(answer.text, bold=True)}   score {answer.score:.3f}")
    click.echo(f"   {_where(best)}")
    click.echo(f"   {_highlight(best)}")
    if len(answer.sources) > 1:
        click.echo(f"   also in: {', '.join(_where(s) for s in answer.sources[1:])}")
    click.echo()


def _where(source: Source) -> str:
    if source.file is None:
        return f"passage {source.passage_id[:12]}"
    path = source.file
    relative = os.path.relpath(path)
    if not relative.startswith(".."):
        path = relative
    return f"{path}:{source.page}" if source.page is not None else path


def _highlight(source: Source) -> str:
    """The context with the answer in bold (click drops the styling when stdout is not a terminal)."""
    start, end = source.start - source.context_start, source.end - source.context_start
    context = source.context
    text = context[:start] + click.style(context[start:end], bold=True) + context[end:]
    return " ".join(text.split())


def run_batch(qa: QA, path: str, out: str | None, **options: Any) -> int:
    """Ask every question of a batch file; write JSONL in input order. Returns how many lines failed."""
    items = read_batch_file(path)
    started = time.perf_counter()
    askable, results = [], {}
    for i, item in enumerate(items):
        error = item.error
        if error is None:
            try:
                qa.check_question(item.question)
            except DocqaError as exc:
                error = str(exc)
        if error is None:
            askable.append(i)
        else:
            results[i] = {"id": item.id, "question": item.question, "error": error}
    if askable:
        rankings = qa.ask_batch([items[i].question for i in askable], show_progress=True, **options)
        for i, ranking in zip(askable, rankings):
            results[i] = {"id": items[i].id, **ranking_json(ranking, 0.0)}
            del results[i]["seconds"]
    seconds = time.perf_counter() - started
    stream = open(out, "w", encoding="utf-8") if out else sys.stdout
    try:
        for i in range(len(items)):
            stream.write(json.dumps(results[i], ensure_ascii=False) + "\n")
    finally:
        if out:
            stream.close()
    failed = len(items) - len(askable)
    rate = len(askable) / seconds if seconds > 0 else 0.0
    click.echo(f"{len(items)} questions ({failed} failed) in {seconds:.1f} s, {rate:.2f} questions/s", err=True)
    return failed
