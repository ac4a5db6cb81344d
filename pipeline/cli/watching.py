"""`docqa index PATH... --watch`: the changes under PATHS indexed as they happen, each batch reported."""

from __future__ import annotations

import json

import click

from ingest.options import IngestOptions
from store.document_store import SQLiteDocumentStore


def watch_and_report(store: SQLiteDocumentStore, paths: tuple[str, ...], options: IngestOptions, workers: int | None, as_json: bool) -> None:
    """Each batch of changes reported as it is indexed (a summary on stderr, with --json a JSON line on stdout), until Ctrl-C."""
    from ingest.watch import WatchBatch, watch_paths

    def report(batch: WatchBatch) -> None:
        if batch.report is not None:
            for failure in batch.report.failures:
                click.echo(f"failed: {failure.path}: {failure.error}", err=True)
        click.echo(batch.summary(), err=True)
        if as_json:
            click.echo(json.dumps(batch.to_json()))
        if batch.report is not None and batch.report.error is not None:
            raise click.ClickException(batch.report.error)

    click.echo(f"watching {', '.join(paths)} for changes (Ctrl-C stops)", err=True)
    try:
        watch_paths(store, paths, options, report, workers=workers)
    except KeyboardInterrupt:
        click.echo("stopped watching", err=True)
