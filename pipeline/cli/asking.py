"""How `docqa ask` asks: one question, a batch file, or questions typed at a terminal."""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

import click

from store.errors import DocqaError

from pipeline.checks import QuestionError
from pipeline.qa import QA, AskOptions


def answer(qa: QA, question: str, options: AskOptions, as_json: bool, restricted: bool) -> None:
    from pipeline.cli.output import print_ranking

    started = time.perf_counter()
    [ranking] = qa.run([question], options)
    if as_json:
        click.echo(json.dumps(ranking.to_json(time.perf_counter() - started), indent=2, ensure_ascii=False))
    else:
        print_ranking(ranking, qa.config.ask.min_score, restricted=restricted)


def ask_interactively(qa: QA, options: AskOptions, as_json: bool, restricted: bool) -> None:
    """Questions from the terminal, one a line, with the model loaded once; Ctrl-D (or Ctrl-C) ends."""
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass
    click.echo("loading the reader model...", err=True)
    qa.reader.warm_up()
    click.echo("Ask a question about the indexed files (Ctrl-D to quit).", err=True)
    while True:
        try:
            question = input("question> ")
        except (EOFError, KeyboardInterrupt):
            click.echo(err=True)
            return
        if not question.strip():
            continue
        try:
            answer(qa, question, options, as_json, restricted)
        except DocqaError as exc:
            click.echo(f"Error: {exc}", err=True)
        click.echo()


def ask_lines(qa: QA, questions: list[str], options: AskOptions, as_json: bool, restricted: bool) -> int:
    """Questions read from a pipe (`echo QUESTION | docqa ask`), each answered as `docqa ask
    QUESTION` answers it, with the model loaded once; returns how many could not be asked."""
    failed = 0
    for number, question in enumerate(questions):
        if number:
            click.echo()
        try:
            answer(qa, question, options, as_json, restricted)
        except QuestionError as exc:  # this line's fault: say so and go on
            click.echo(f"Error: line {number + 1}: {exc}", err=True)
            failed += 1
    return failed


def stdin_questions() -> list[str]:
    """The non-blank lines of stdin, as questions."""
    return [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]


def ask_batch(qa: QA, batch_file: str, out: str | None, resume: bool, options: AskOptions, stdout: TextIO) -> int:
    """Answer a batch file (`-`: stdin) as JSONL, each line written as soon as it is answered
    (to `out`, else `stdout`); returns how many lines failed."""
    from pipeline.batch import BatchSummary, done_ids, parse_batch, read_batch_file, run_batch

    items = parse_batch(sys.stdin.read()) if batch_file == "-" else read_batch_file(batch_file)
    summary = BatchSummary()
    if resume:
        assert out is not None
        done = done_ids(out)
        todo = [item for item in items if item.id not in done]
        summary.skipped = len(items) - len(todo)
        items = todo
    stream: TextIO | None = None  # opened at the first record, so a batch refused at once leaves no file
    try:
        for record in run_batch(qa, items, options, summary, show_progress=True):
            if stream is None:
                stream = open(out, "a" if resume else "w", encoding="utf-8") if out else stdout
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            stream.flush()
    except KeyboardInterrupt:
        # Said here, with what was done, and only here: exit status 130 without main's own "interrupted".
        click.echo(f"interrupted: {summary.line()}" + ("; `--resume` goes on from there" if out else ""), err=True)
        raise click.exceptions.Exit(130) from None
    finally:
        if out and stream is not None:
            stream.close()
    click.echo(summary.line(), err=True)
    return summary.failed
