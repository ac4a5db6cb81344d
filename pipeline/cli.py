"""The `docqa` command line: a thin shell over the Python API.

Results go to stdout (`--json`: one JSON document); progress, logs and summaries to stderr.
Exit status: 0 success; 1 an error, or (index) some files failed; 2 a usage error;
130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from store.errors import DocqaError

from pipeline.config import Config, load_config

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def common_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--config and --db, accepted by every command (DESIGN.md)."""

    @click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML file overriding config.yaml defaults.")
    @click.option("--db", type=click.Path(dir_okay=False), help="Database file (overrides store.path).")
    @functools.wraps(command)
    def wrapper(*args: Any, config_path: str | None, db: str | None, **kwargs: Any) -> Any:
        try:
            config = load_config(config_path).with_db(db)
            return command(*args, config=config, **kwargs)
        except DocqaError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Question answering over folders of PDFs and text files."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="docqa: %(levelname)s: %(message)s", stream=sys.stderr)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--workers", type=click.IntRange(min=0), help="Conversion processes (default: ingest.workers, else one per core; 0: none).")
@click.option("--prune", is_flag=True, help="Forget indexed files under PATHS that are no longer there.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@common_options
def index(paths: tuple[str, ...], workers: int | None, prune: bool, as_json: bool, config: Config) -> None:
    """Index PDF, .txt and .md files and folders (recursively) into the database.

    Unchanged files are skipped; changed files are re-indexed; files that cannot be read
    are reported and recorded, and the rest are indexed. Exits 1 when some files failed.
    """
    from ingest.indexer import index_paths
    from store.document_store import SQLiteDocumentStore

    store = SQLiteDocumentStore(config.store.path)
    report = index_paths(store, paths, config.ingest, workers=workers, prune=prune)
    for failure in report.failures:
        click.echo(f"failed: {failure.path}: {failure.error}", err=True)
    click.echo(report.summary(), err=True)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    if report.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if report.failed:
        sys.exit(EXIT_FAILED)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON on stdout.")
@common_options
def stats(as_json: bool, config: Config) -> None:
    """Files, passages, pages, failures and size of the database."""
    from store.document_store import SQLiteDocumentStore

    store = SQLiteDocumentStore(config.store.path, create=False)
    s = store.stats()
    if as_json:
        data = {
            "database": str(store.path),
            "files": s.files,
            "failed": s.failed,
            "passages": s.passages,
            "pages": s.pages,
            "size_bytes": s.size_bytes,
            "failures": [{"path": f.path, "error": f.error} for f in s.failures],
        }
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"database  {store.path} ({s.size_bytes / 1e6:.1f} MB)")
    click.echo(f"files     {s.files} indexed, {s.failed} failed")
    click.echo(f"passages  {s.passages}")
    click.echo(f"pages     {s.pages}")
    if s.failures:
        click.echo("failures:")
        for failure in s.failures:
            click.echo(f"  {failure.path}: {failure.error}")


@cli.command("config")
@common_options
def show_config(config: Config) -> None:
    """Print the effective configuration (defaults, then --config, then --db) as YAML."""
    import yaml

    click.echo(yaml.safe_dump(config.to_dict(), sort_keys=False), nl=False)


def main() -> None:
    # Haystack's telemetry would try to reach the network on pipeline runs; docqa runs
    # offline by default. Set HAYSTACK_TELEMETRY_ENABLED=True to opt in.
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    cli(prog_name="docqa")


if __name__ == "__main__":
    main()
