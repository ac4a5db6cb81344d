"""Reading on a Ray cluster: a pool of actors, each holding a loaded reader.

`RayReader.read_batch` has `Reader.read_batch`'s arguments and results, so QA, batch jobs
and evaluation use it unchanged: retrieval and ranking stay in this process (where the
database is), and only reading is distributed. Questions are sent to the actors in groups,
each question with all its passages (its probabilities are normalised over them), and the
answers come back in input order. An actor that dies is restarted by Ray and its
in-flight groups are retried there.

The actors live as long as the RayReader, so a batch job that QA.run()s many chunks loads
the model once per actor (Ray Data's map_batches actor pools would live for one chunk).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from store.errors import check_count

from pipeline.config import RayConfig, ReaderConfig

if TYPE_CHECKING:
    from haystack import Document

    from pipeline.answers import Answer

# Questions per remote call: enough to fill the reader's batches on the actor, small enough
# that every actor gets work and results stream back.
GROUP_QUESTIONS = 16


class _ReaderActor:
    """A Ray actor that loads the reader once and reads the groups sent to it."""

    def __init__(self, config: ReaderConfig, threads: int) -> None:
        import torch

        from pipeline.reader.reader import Reader

        torch.set_num_threads(threads)  # the CPUs Ray gave this actor, not every core of its node
        self.reader = Reader(config)
        self.reader.warm_up()

    def read_batch(self, questions: list[str], passages: list[list[Document]], top_k: int) -> list[list[Answer]]:
        return self.reader.read_batch(questions, passages, top_k=top_k)


class RayReader:
    """Reader.read_batch on a pool of Ray actors (see the module docstring)."""

    def __init__(self, config: ReaderConfig, ray_config: RayConfig, address: str) -> None:
        from ingest.ray_convert import connect

        self.config = config
        ray = connect(address)
        gpus = int(ray.cluster_resources().get("GPU", 0))
        if ray_config.actors is not None:
            count = ray_config.actors
        else:  # one per GPU on a GPU cluster, else one per node
            count = gpus or len([node for node in ray.nodes() if node["Alive"]])
        actor = ray.remote(
            num_cpus=ray_config.cpus_per_actor,
            num_gpus=1 if gpus else 0,
            max_restarts=2,
            max_task_retries=2,
            scheduling_strategy="SPREAD",
        )(_ReaderActor)
        self._actors = [actor.remote(config, ray_config.cpus_per_actor) for _ in range(count)]

    def warm_up(self) -> None:
        """Nothing to do here: each actor loaded its reader when it started."""

    def read(self, question: str, passages: Sequence[Document], top_k: int | None = None) -> list[Answer]:
        return self.read_batch([question], [passages], top_k=top_k)[0]

    def read_batch(
        self, questions: Sequence[str], passages: Sequence[Sequence[Document]], top_k: int | None = None, show_progress: bool = False
    ) -> list[list[Answer]]:
        from ray.util import ActorPool
        from tqdm import tqdm

        if len(questions) != len(passages):
            raise ValueError(f"read_batch needs one list of passages per question: {len(questions)} questions, {len(passages)} lists")
        top_k = check_count("top_k", self.config.top_k if top_k is None else top_k)
        groups = [
            (list(questions[i : i + GROUP_QUESTIONS]), [list(p) for p in passages[i : i + GROUP_QUESTIONS]])
            for i in range(0, len(questions), GROUP_QUESTIONS)
        ]
        pool = ActorPool(self._actors)
        results: list[list[Answer]] = []
        with tqdm(total=len(questions), unit="question", desc="reading (ray)", disable=not show_progress) as progress:
            for answers in pool.map(lambda a, group: a.read_batch.remote(group[0], group[1], top_k), groups):
                results.extend(answers)
                progress.update(len(answers))
        return results

    def shutdown(self) -> None:
        import ray

        for actor in self._actors:
            ray.kill(actor)
        self._actors = []
