"""The docqa CLI with stage timers: where the seconds of `docqa ask --batch` go (bench/gpu.py, part 3).

    python -m bench.gpu_timed TIMINGS.json ask --batch FILE [docqa's options...]

Runs pipeline.cli.main exactly as the `docqa` script does, in this process, after wrapping
a few functions with clocks: QA.retrieve (retrieval), the reader's own Reader.timings
(tokenize, model, spans, answers), Reader.warm_up (load), and the ranking (word counts of
the retrieved passages and QA.rank). At exit it writes {stage: seconds, "total": seconds from the
start of this module (docqa's imports included)}. A handful of clock reads per question: the job's own
time is not measurably changed.
"""

from __future__ import annotations

import atexit
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()


def timed(stages: dict[str, float], stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        clock = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            stages[stage] += time.perf_counter() - clock

    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper


def instrument(stages: dict[str, float]) -> list[Any]:
    """Wrap the stages' functions; returns the list that collects every Reader built."""
    import pipeline.qa as qa
    from pipeline.reader import reader as reader_module

    readers: list[Any] = []
    original_init = reader_module.Reader.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        readers.append(self)

    reader_module.Reader.__init__ = init  # type: ignore[method-assign]
    reader_module.Reader.warm_up = timed(stages, "load", reader_module.Reader.warm_up)  # type: ignore[method-assign]
    qa.QA.retrieve = timed(stages, "retrieval", qa.QA.retrieve)  # type: ignore[method-assign]
    qa.QA.rank = timed(stages, "ranking", qa.QA.rank)  # type: ignore[method-assign]
    qa.word_counts = timed(stages, "ranking", qa.word_counts)
    return readers


def main() -> None:
    target = Path(sys.argv[1])
    stages: dict[str, float] = defaultdict(float)
    readers = instrument(stages)

    def write() -> None:
        reading: dict[str, float] = defaultdict(float)
        for reader in readers:
            for stage, seconds in reader.timings.items():
                reading[stage] += seconds
        total = time.perf_counter() - STARTED
        target.write_text(json.dumps({**stages, **{f"reader {k}": v for k, v in reading.items()}, "total": total}, indent=1))

    atexit.register(write)
    from pipeline.cli.main import main as docqa

    sys.argv = ["docqa", *sys.argv[2:]]
    docqa()


if __name__ == "__main__":
    main()
