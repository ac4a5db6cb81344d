"""Batch question jobs (`docqa ask --batch`): read a question file, ask it through QA, in input order.

A question file holds one question per line, or JSONL with "question" and "id". A line that
cannot be asked (not JSON, no question, a question QA refuses) becomes an error record and
the rest of the batch goes on. Questions are asked a chunk at a time, so results come out
(and can be written) while the job runs, always in input order; an interrupted job keeps
what was written, and `done_ids` tells a resumed one which questions to skip.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store.errors import DocqaError

from pipeline.qa import QA, AskOptions

# Questions asked per call of QA.run: enough to fill the reader's batches (16 questions of 20
# passages are 320 pairs, five full batches of 64 windows), few enough that results are
# written and the progress bar moves every few seconds even on a CPU.
CHUNK_QUESTIONS = 16


class BatchFileError(DocqaError):
    """The batch file cannot be read at all."""


@dataclass(frozen=True)
class BatchItem:
    id: str  # the "id" of a JSONL line, else the line number
    question: str
    error: str | None = None  # why this line cannot be asked; the rest of the batch goes on


@dataclass
class BatchSummary:
    questions: int = 0  # asked in this run
    failed: int = 0
    seconds: float = 0.0
    skipped: int = 0  # already answered (a resumed job)
    done: int = 0  # results given so far

    def line(self) -> str:
        asked = self.done - self.failed
        rate = asked / self.seconds if self.seconds > 0 else 0.0
        skipped = f", {self.skipped} already answered" if self.skipped else ""
        counted = f"{self.questions} questions" if self.done == self.questions else f"{self.done} of {self.questions} questions"
        return f"{counted} ({self.failed} failed{skipped}) in {self.seconds:.1f} s, {rate:.2f} questions/s"


def read_batch_file(path: str | Path) -> list[BatchItem]:
    """Questions of a batch file, in order; blank lines are skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BatchFileError(f"cannot read batch file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BatchFileError(f"batch file {path} is not UTF-8 text: save it as UTF-8, one question per line") from None
    return parse_batch(text)


def parse_batch(text: str) -> list[BatchItem]:
    """Questions of a batch file's text (one a line, or JSONL with "question" and "id"), in order."""
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if not line.lstrip().startswith("{"):
            items.append(BatchItem(str(number), line.strip()))
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            items.append(BatchItem(str(number), "", f"line {number} is not valid JSON: {exc.msg}"))
            continue
        question = record.get("question") if isinstance(record, dict) else None
        item_id = str(record.get("id", number)) if isinstance(record, dict) else str(number)
        if not isinstance(question, str):
            items.append(BatchItem(item_id, "", f'line {number} has no "question" string'))
            continue
        items.append(BatchItem(item_id, question))
    return items


def done_ids(path: str | Path) -> set[str]:
    """The ids that a results file of an earlier run already holds (missing file: none).

    A last line cut short by an interruption is removed from the file, so results can be
    appended after it.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return set()
    except OSError as exc:
        raise BatchFileError(f"cannot read results file {path}: {exc.strerror}") from None
    complete = data[: data.rfind(b"\n") + 1]
    if len(complete) < len(data):
        with path.open("r+b") as f:
            f.truncate(len(complete))
    ids = set()
    for number, line in enumerate(complete.decode("utf-8", errors="replace").splitlines(), start=1):
        try:
            record = json.loads(line)
            ids.add(str(record["id"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            raise BatchFileError(f"{path} line {number} is not a result of docqa ask --batch: give another --out file") from None
    return ids


def run_batch(
    qa: QA, items: Sequence[BatchItem], options: AskOptions, summary: BatchSummary, show_progress: bool = False
) -> Iterator[dict[str, Any]]:
    """One JSON record per item, in input order: {"id", **Ranking.to_json()} or {"id", "question", "error"}.

    `summary` is filled in as the job runs (complete once the iterator is exhausted).
    """
    from tqdm import tqdm

    started = time.perf_counter()
    summary.questions = len(items)
    # One update per chunk of questions, seconds apart on a real model: draw every one
    # (tqdm's defaults skip updates that come within 0.1 s of the last).
    progress = tqdm(
        total=len(items), unit="question", desc="asking", disable=not show_progress, dynamic_ncols=True, mininterval=0, miniters=1
    )
    try:
        for first in range(0, len(items), CHUNK_QUESTIONS):
            chunk = items[first : first + CHUNK_QUESTIONS]
            errors = [_error(qa, item) for item in chunk]
            askable = [item for item, error in zip(chunk, errors) if error is None]
            rankings = iter(qa.run([item.question for item in askable], options) if askable else [])
            for item, error in zip(chunk, errors):
                if error is None:
                    yield {"id": item.id, **next(rankings).to_json()}
                else:
                    summary.failed += 1
                    yield {"id": item.id, "question": item.question, "error": error}
                summary.done += 1
                summary.seconds = time.perf_counter() - started
            progress.update(len(chunk))
    finally:
        progress.close()


def _error(qa: QA, item: BatchItem) -> str | None:
    if item.error is not None:
        return item.error
    try:
        qa.check_question(item.question)
    except DocqaError as exc:
        return str(exc)
    return None
