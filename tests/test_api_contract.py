"""The HTTP API holds its own contract: schemathesis against the app's OpenAPI schema.

The short run CI affords (a fixed seed, a few cases per operation, the coverage, fuzzing
and stateful phases, every check), without and with an API key; bench/api_fuzz.py is the long run
against `docqa serve`. The exclusions, each with its reason, are in tests/schemathesis.toml.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import schemathesis

from ingest.indexer import index_paths
from ingest.options import IngestOptions
from pipeline.config import ApiConfig, Config, ReaderConfig, StoreConfig
from pipeline.qa import QA
from pipeline.serve.app import create_app
from store.document_store import SQLiteDocumentStore

REPO = Path(__file__).resolve().parents[1]
KEY = "contract-key"
# Before the exclusions: top-level keys must come before TOML's [[operations]] tables.
SETTINGS = """\
seed = 16
[generation]
max-examples = 4
[phases.examples]
enabled = false
[phases.coverage]
enabled = true
[phases.fuzzing]
enabled = true
[phases.stateful]
enabled = true
max-steps = 6
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_model):
    folder = tmp_path_factory.mktemp("contract")
    config = Config(
        store=StoreConfig(path=str(folder / "index.db")),
        reader=ReaderConfig(model=str(tiny_model)),
        # A small batch ceiling keeps the boundary cases (a full batch) quick to answer.
        api=ApiConfig(data_folder=str(folder / "uploads"), max_top_k=10, max_batch_request=5),
    )
    store = SQLiteDocumentStore(config.store.path)
    index_paths(store, [REPO / "examples"], IngestOptions(workers=0), show_progress=False)
    return config, QA(config, store=store)


@pytest.mark.parametrize("key", [None, KEY], ids=["without-key", "with-key"])
def test_api_holds_its_contract(served, key):
    from schemathesis.engine import from_schema
    from schemathesis.python import asgi

    config, qa = served
    app = create_app(dataclasses.replace(config, api=dataclasses.replace(config.api, key=key)), qa)
    settings = schemathesis.Config.from_str(SETTINGS + (REPO / "tests" / "schemathesis.toml").read_text(encoding="utf-8"))
    settings.projects.override.checks.update(included_check_names=["all"])  # as `--checks all`
    if key is not None:
        settings.projects.default.update(headers={"Authorization": f"Bearer {key}"})
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=settings)
    try:
        checked, failures = _results(from_schema(schema).execute())
    finally:
        asgi.shutdown_lifespans()  # schemathesis starts the app's lifespan (the model) and keeps it running
    assert not failures, "\n".join(failures)
    ran = {"not_a_server_error", "positive_data_acceptance", "negative_data_rejection", "unsupported_method", "status_code_conformance"}
    assert ran <= set(checked)
    if key is not None:
        assert "ignored_auth" in checked
    assert "use_after_free" in checked  # the stateful phase ran: upload, read, delete, read


def _results(stream) -> tuple[dict[str, int], list[str]]:
    """How often each check ran, and every failure with its request (as curl) and the response."""
    from schemathesis.engine import Status, events

    checked: dict[str, int] = {}
    failures: list[str] = []
    for event in stream:
        if isinstance(event, (events.FatalError, events.NonFatalError)):
            failures.append(f"schemathesis error: {event.info}")
        if not isinstance(event, events.ScenarioFinished):
            continue
        for case_id, checks in event.recorder.checks.items():
            for check in checks:
                checked[check.name] = checked.get(check.name, 0) + 1
                if check.status != Status.FAILURE or check.failure_info is None:
                    continue
                interaction = event.recorder.interactions.get(case_id)
                response = interaction.response if interaction is not None else None
                answer = f"{response.status_code} {(response.content or b'')[:300]!r}" if response is not None else "no response"
                failures.append(f"{event.label}: {check.name}: {check.failure_info.failure.title}\n  {check.failure_info.failure.message}\n  {check.failure_info.code_sample}\n  -> {answer}")
    return checked, failures
