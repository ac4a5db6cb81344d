"""Batch question files for `docqa ask --batch`: one question per line, or JSONL with "question" and "id"."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from store.errors import DocqaError


class BatchFileError(DocqaError):
    """The batch file cannot be read at all."""


@dataclass(frozen=True)
class BatchItem:
    id: str  # the "id" of a JSONL line, else the line number
    question: str
    error: str | None = None  # why this line cannot be asked; the rest of the batch goes on


def read_batch_file(path: str | Path) -> list[BatchItem]:
    """Questions of a batch file, in order; blank lines are skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BatchFileError(f"cannot read batch file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BatchFileError(f"batch file {path} is not UTF-8 text: save it as UTF-8, one question per line") from None
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
