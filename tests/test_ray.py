"""--ray on a real multi-process Ray cluster on this machine: a head node and a second node.

Skipped, with the reason printed, where Ray is not installed (the [ray] extra).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

# Ray puts its nodes on the machine's network address; this keeps the test cluster on
# loopback (Ray's own switch for machines without cluster networking; read when ray is imported).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray", reason='Ray is not installed: pip install -e ".[ray]"')

from ray.cluster_utils import Cluster  # noqa: E402

from pipeline.cli import cli  # noqa: E402
from pipeline.config import RayConfig  # noqa: E402
from store.document_store import SQLiteDocumentStore  # noqa: E402
from tests.corpus import write_bad_files, write_corpus  # noqa: E402
from tests.reliability import consistency_problems, snapshot  # noqa: E402

OBJECT_STORE = 80 * 1024 * 1024  # bytes per node: small, as the machines running the tests are


def test_ray_config_is_checked():
    with pytest.raises(ValueError, match="actors must be >= 1, got 0"):
        RayConfig(actors=0)


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": OBJECT_STORE})
    cluster.add_node(num_cpus=1, object_store_memory=OBJECT_STORE)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def files_and_failures(db: Path) -> tuple[dict, list]:
    store = SQLiteDocumentStore(db, create=False)
    try:
        records, _ = store.list_files(0, 10_000)
        return {r.path: (r.status, r.error, r.pages, r.passages, r.sha256) for r in records}, sorted((f.path, f.error) for f in store.stats().failures)
    finally:
        store.close()


def test_cluster_has_two_nodes(cluster):
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2


def test_index_on_ray_equals_the_single_machine_run(cluster, tmp_path):
    write_corpus(tmp_path / "docs", pdfs=6, texts=4)
    write_bad_files(tmp_path / "docs" / "bad")
    here = run("index", tmp_path / "docs", "--db", tmp_path / "here.db", "--workers", "0", "--json")
    there = run("index", tmp_path / "docs", "--db", tmp_path / "ray.db", "--ray", cluster.address, "--json")
    assert here.exit_code == there.exit_code == 1  # the bad files failed, the rest were indexed
    summary_here, summary_there = json.loads(here.stdout), json.loads(there.stdout)
    assert summary_there["files"] == summary_here["files"] == {"indexed": 10, "unchanged": 0, "failed": 8, "removed": 0}
    assert sorted(map(str, summary_there["failures"])) == sorted(map(str, summary_here["failures"]))
    assert files_and_failures(tmp_path / "ray.db") == files_and_failures(tmp_path / "here.db")
    reference = snapshot(tmp_path / "here.db")
    assert snapshot(tmp_path / "ray.db") == reference and consistency_problems(tmp_path / "ray.db", reference) == []
    # Unchanged files are not sent to the cluster: a re-run decides as the single-machine one.
    again_here = run("index", tmp_path / "docs", "--db", tmp_path / "here.db", "--workers", "0", "--json")
    again = run("index", tmp_path / "docs", "--db", tmp_path / "ray.db", "--ray", cluster.address, "--json")
    assert json.loads(again.stdout)["files"] == json.loads(again_here.stdout)["files"]
    assert json.loads(again.stdout)["files"]["indexed"] == 0


def _convert_workers() -> list[int]:
    """Pids of Ray workers converting a file right now (Ray names a busy worker's process after its task)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/cmdline").read_bytes().startswith(b"ray::convert_data"):
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def test_a_worker_killed_mid_job_is_retried_and_the_database_stays_whole(cluster, tmp_path):
    write_corpus(tmp_path / "docs", pdfs=24, texts=0, pages=12)
    here = run("index", tmp_path / "docs", "--db", tmp_path / "here.db", "--workers", "0")
    assert here.exit_code == 0
    killed = []

    def kill_one() -> None:
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            for pid in _convert_workers():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one)
    killer.start()
    there = run("index", tmp_path / "docs", "--db", tmp_path / "ray.db", "--ray", cluster.address, "--json")
    killer.join()
    assert killed, "no conversion task was caught running"
    assert there.exit_code == 0, there.output  # the task of the killed worker was retried
    assert json.loads(there.stdout)["files"]["indexed"] == 24
    reference = snapshot(tmp_path / "here.db")
    assert consistency_problems(tmp_path / "ray.db", reference) == [] and snapshot(tmp_path / "ray.db") == reference


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, tiny_model):
    folder = tmp_path_factory.mktemp("ray-ask")
    write_corpus(folder / "docs", pdfs=4, texts=4)
    db = folder / "index.db"
    assert run("index", folder / "docs", "--db", db, "--workers", "0").exit_code == 0
    # One window per forward pass, so the arithmetic is the same whatever goes into a batch.
    config = folder / "docqa.yaml"
    config.write_text(f"store:\n  path: {db}\nreader:\n  model: {tiny_model}\n  max_batch_size: 1\n", encoding="utf-8")
    questions = folder / "questions.txt"
    words = ["river", "harbor", "falcon", "compass", "quartz", "meadow", "ember", "summit"]
    questions.write_text("".join(f"Which {w} is near the {v}?\n" for w in words for v in words[:5]) + "   \n{bad json\n", encoding="utf-8")
    return config, questions


def test_ask_batch_on_ray_gives_the_single_machine_answers(cluster, indexed, tmp_path):
    config, questions = indexed
    here = run("ask", "--batch", questions, "--config", config, "--out", tmp_path / "here.jsonl")
    there = run("ask", "--batch", questions, "--config", config, "--out", tmp_path / "ray.jsonl", "--ray", cluster.address)
    assert here.exit_code == there.exit_code == 1  # the bad line failed in both
    lines = (tmp_path / "ray.jsonl").read_text().splitlines()
    assert len(lines) == 41 and lines == (tmp_path / "here.jsonl").read_text().splitlines()
    assert "41 questions (1 failed) in " in there.stderr


def test_a_reader_actor_killed_mid_job_is_restarted_and_its_work_retried(cluster, indexed, tiny_model):
    from pipeline.qa import QA
    from pipeline.config import load_config
    from pipeline.reader.ray_pool import RayReader

    config = load_config(indexed[0])
    questions = [line for line in indexed[1].read_text().splitlines() if line.strip() and not line.startswith("{")]
    reference = QA(config).ask_batch(questions)
    reader = RayReader(config.reader, RayConfig(), cluster.address)
    qa = QA(config, reader=reader)
    results = []
    asking = threading.Thread(target=lambda: results.append(qa.ask_batch(questions)))
    asking.start()
    time.sleep(0.5)
    ray.kill(reader._actors[0], no_restart=False)  # as a crash would: Ray restarts it
    asking.join()
    reader.shutdown()
    assert [[(a.text, a.best.passage_id, a.best.start, a.score) for a in r.answers] for r in results[0]] == [
        [(a.text, a.best.passage_id, a.best.start, a.score) for a in r.answers] for r in reference
    ]
