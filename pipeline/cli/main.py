"""The `docqa` command line: a thin shell over the Python API.

Results go to stdout (`--json`: one JSON document); progress, logs and summaries to stderr.
Exit status: 0 success; 1 an error, or (index) some files failed; 2 a usage error;
130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from typing import TYPE_CHECKING, Any, TextIO

import click

from store.errors import DocqaError

from pipeline.checks import QuestionError, check_question
from pipeline.config import Config, find_config, load_config

if TYPE_CHECKING:
    from pipeline.reader.ray_pool import RayReader

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

ray_option = click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="auto",
    default=None,
    metavar="[ADDRESS]",
    help="Run on a Ray cluster: ADDRESS of its head (host:port), 'auto' (default: the cluster started here "
    "with `ray start`, or RAY_ADDRESS) or 'local' (a new one in this process). Needs the [ray] extra.",
)


_CONFIG_HELP = "YAML file overriding config.yaml defaults (default: the nearest docqa.yaml)."
_DB_HELP = "Database file (overrides store.path)."
_VERBOSE_HELP = "More log output on stderr (-v info, -vv debug)."


def common_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--config, --db and -v, accepted by every command (DESIGN.md), after its name or before it
    (`docqa --db X index ...` and `docqa index ... --db X` alike; after the name wins)."""

    @click.option("--config", "config_path", type=click.Path(dir_okay=False), help=_CONFIG_HELP)
    @click.option("--db", type=click.Path(dir_okay=False), help=_DB_HELP)
    @click.option("-v", "--verbose", count=True, help=_VERBOSE_HELP)
    @functools.wraps(command)
    def wrapper(*args: Any, config_path: str | None, db: str | None, verbose: int, **kwargs: Any) -> Any:
        given: dict[str, Any] = click.get_current_context().find_root().obj or {}
        config_path = config_path if config_path is not None else given.get("config_path")
        db = db if db is not None else given.get("db")
        if verbose:
            _log_level(given.get("verbose", 0) + verbose)
        try:
            if config_path is None and (found := find_config(os.getcwd())) is not None:
                logging.getLogger(__name__).info("configuration: %s", found)
                config = load_config(found, project=True).with_db(db)
            else:
                config = load_config(config_path).with_db(db)
            return command(*args, config=config, **kwargs)
        except DocqaError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def _log_level(verbose: int) -> None:
    logging.getLogger().setLevel(logging.WARNING - 10 * min(verbose, 2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help=_VERBOSE_HELP)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=_CONFIG_HELP + " Also accepted after the command's name.")
@click.option("--db", type=click.Path(dir_okay=False), help=_DB_HELP + " Also accepted after the command's name.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, config_path: str | None, db: str | None) -> None:
    """Question answering over folders of PDFs and text files."""
    ctx.obj = {"verbose": verbose, "config_path": config_path, "db": db}
    logging.basicConfig(level=logging.WARNING, format="docqa: %(levelname)s: %(message)s", stream=sys.stderr)
    _log_level(verbose)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--workers", type=click.IntRange(min=0), help="Conversion processes (default: ingest.workers, else one per core; 0: none).")
@click.option("--prune", is_flag=True, help="Forget indexed files under PATHS that are no longer there (PATHS may be gone too).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout (with --watch: one JSON line a batch of changes).")
@click.option("--watch", is_flag=True, help="After indexing, keep watching PATHS and index what is added, changed, moved or deleted, until Ctrl-C.")
@ray_option
@common_options
def index(paths: tuple[str, ...], workers: int | None, prune: bool, as_json: bool, watch: bool, ray_address: str | None, config: Config) -> None:
    """Index PDF, text, Word, HTML, EPUB and image files and folders (recursively) into the database.

    Unchanged files are skipped; changed files are re-indexed; files that cannot be read
    are reported and recorded, and the rest are indexed. Exits 1 when some files under
    PATHS are failed, in this run or an earlier one. With --watch, goes on indexing the
    changes under PATHS as they happen; Ctrl-C ends it (exit status 0).
    """
    if watch and ray_address is not None:
        raise click.UsageError("--watch indexes each change here: it does not go with --ray")
    from ingest.indexer import index_paths

    for path in paths:
        if not prune and not os.path.lexists(path):
            raise click.BadParameter(
                f"Path '{path}' does not exist. (To forget its files, add --prune or run `docqa forget {path}`.)", param_hint="'PATHS...'"
            )
    from store.document_store import SQLiteDocumentStore

    store = SQLiteDocumentStore(config.store.path)
    with _ray_output(ray_address):
        report = index_paths(store, paths, config.ingest, workers=workers, prune=prune, ray_address=ray_address)
    for failure in report.failures:
        click.echo(f"failed: {failure.path}: {failure.error}", err=True)
    for doubtful in report.doubtful:
        click.echo(f"{doubtful.path}: {doubtful.error}", err=True)
    click.echo(report.summary(), err=True)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=None if watch else 2))
    if report.error is not None:
        raise click.ClickException(report.error)
    if report.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if watch:
        from pipeline.cli.watching import watch_and_report

        watch_and_report(store, paths, config.ingest, workers, as_json)
        return
    if report.failed or report.still_failed:
        sys.exit(EXIT_FAILED)


@cli.command()
@click.option("--failed", "failed_only", is_flag=True, help="Only the files that could not be indexed, with why.")
@click.option("--json", "as_json", is_flag=True, help="Print the files as JSON on stdout.")
@common_options
def files(failed_only: bool, as_json: bool, config: Config) -> None:
    """List the files in the database: indexed ones with their pages and passages, failed ones with why."""
    import dataclasses

    from store.document_store import SQLiteDocumentStore

    store = SQLiteDocumentStore(config.store.path, create=False)
    records, _ = store.list_files(0, None, status="failed" if failed_only else None)
    if as_json:
        click.echo(json.dumps({"files": [dataclasses.asdict(r) for r in records]}, indent=2, ensure_ascii=False))
        return
    from pipeline.cli.output import print_files

    print_files(records)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@common_options
def forget(paths: tuple[str, ...], config: Config) -> None:
    """Forget indexed files: each PATH is a file or a folder, still on disk or deleted. Files on disk are not touched.

    Exits 1 when a PATH holds no indexed file.
    """
    from ingest.indexer import forget_paths
    from store.document_store import SQLiteDocumentStore

    store = SQLiteDocumentStore(config.store.path, create=False)
    forgotten = forget_paths(store, paths)
    for path, removed in forgotten.items():
        if not removed:
            click.echo(f"not indexed: {path} (`docqa files` lists what is)", err=True)
    total = sum(len(removed) for removed in forgotten.values())
    click.echo(f"forgot {total} file{'s' if total != 1 else ''}", err=True)
    if not all(forgotten.values()):
        sys.exit(EXIT_FAILED)


@cli.command()
@click.argument("question", required=False)
@click.option("--top-k", type=click.IntRange(min=1), help="Answers to show (default: ask.top_k).")
@click.option("--retrieve-k", type=click.IntRange(min=1), help="Passages to read per question (default: retriever.top_k).")
@click.option("--file", "paths", multiple=True, metavar="GLOB", help="Only search files whose path matches GLOB, relative to the current folder or absolute (repeatable).")
@click.option("--batch", "batch_file", type=click.Path(dir_okay=False, allow_dash=True), help="Ask every question of FILE (lines, or JSONL with \"question\" and \"id\"; - reads stdin).")
@click.option("--out", type=click.Path(dir_okay=False), help="With --batch: write the JSONL answers to FILE instead of stdout, each as it is done.")
@click.option("--resume", is_flag=True, help="With --out: skip the questions FILE already has results for, and append the others.")
@click.option("--json", "as_json", is_flag=True, help="Print the answers as JSON on stdout.")
@ray_option
@common_options
def ask(
    question: str | None,
    top_k: int | None,
    retrieve_k: int | None,
    paths: tuple[str, ...],
    batch_file: str | None,
    out: str | None,
    resume: bool,
    as_json: bool,
    ray_address: str | None,
    config: Config,
) -> None:
    """Answer QUESTION from the indexed files, or every question of --batch FILE.

    Without either on a terminal, asks for questions one after another with the model loaded
    once (Ctrl-D ends); off a terminal (`echo QUESTION | docqa ask`), asks each line of stdin. Everything but the model (the database, where the model comes from,
    --file patterns, the batch file) is checked before the model loads.

    Exit status: 0 answered (also when no answer passes ask.min_score); 1 an error, or
    some batch lines failed; 2 a usage error (no question, an empty question).
    """
    given = (question is not None) + (batch_file is not None)
    if given == 2:
        raise click.UsageError("give either a QUESTION or --batch FILE, not both")
    interactive = given == 0 and _on_a_terminal()
    piped: list[str] | None = None
    if given == 0 and not interactive:
        from pipeline.cli.asking import stdin_questions

        piped = stdin_questions()
        if not piped:
            raise click.UsageError("no question: give a QUESTION, --batch FILE, or questions on stdin, one a line")
    if out is not None and batch_file is None:
        raise click.UsageError("--out goes with --batch")
    if ray_address is not None and batch_file is None:
        raise click.UsageError("--ray goes with --batch FILE (one question is read where it is asked)")
    if resume and out is None:
        raise click.UsageError("--resume goes with --batch FILE --out FILE (it skips the questions already in the --out file)")
    if question is not None:
        try:
            check_question(question, config.ask.max_question_chars)
        except QuestionError as exc:
            raise click.BadParameter(str(exc), param_hint="QUESTION") from None
    from pipeline.checks import check_ready

    check_ready(config)  # before importing Haystack and torch: a missing database is said at once
    from pipeline.qa import QA

    qa = QA(config)
    options = qa.options(top_k=top_k, retrieve_k=retrieve_k, paths=paths, base=os.getcwd())
    qa.check_paths(options)
    from pipeline.cli.asking import answer, ask_batch, ask_interactively, ask_lines

    if batch_file is not None:
        with _ray_output(ray_address) as stdout:
            if ray_address is not None:  # once everything else is checked: the actors load the model
                qa = QA(config, store=qa.store, reader=_ray_reader(config, ray_address))
            failed = ask_batch(qa, batch_file, out, resume, options, stdout)
        if failed:
            sys.exit(EXIT_FAILED)
        return
    if piped is not None:
        if ask_lines(qa, piped, options, as_json, restricted=bool(paths)):
            sys.exit(EXIT_FAILED)
        return
    if question is None:
        ask_interactively(qa, options, as_json, restricted=bool(paths))
        return
    answer(qa, question, options, as_json, restricted=bool(paths))


def _on_a_terminal() -> bool:
    return sys.stdin.isatty()


@contextmanager
def _ray_output(ray_address: str | None) -> Iterator[TextIO]:
    """The stream for results while a command runs; with --ray, stdout is stderr meanwhile.

    Ray's driver prints its workers' errors (a worker killed, out of memory) on stdout,
    which must hold only results (--json, JSONL): they go to stderr with the logs.
    """
    stdout = sys.stdout
    if ray_address is None:
        yield stdout
        return
    with redirect_stdout(sys.stderr):
        yield stdout


def _ray_reader(config: Config, ray_address: str | None) -> RayReader | None:
    """A reader on the Ray cluster at `ray_address`, or None to read in this process."""
    if ray_address is None:
        return None
    from pipeline.reader.ray_pool import RayReader

    return RayReader(config.reader, config.ray, ray_address)


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


@cli.group("eval")
def evaluate() -> None:
    """Measure docqa: on a SQuAD v1.1 file, or on your own questions."""


@evaluate.command("squad")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--mode", type=click.Choice(["reader", "retrieval", "open"]), required=True, help="What to measure (see the README).")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N questions.")
@click.option("--predictions", type=click.Path(dir_okay=False), help="Write predictions in SQuAD's format ({id: answer}).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@ray_option
@common_options
def eval_squad(
    file: str, mode: str, limit: int | None, predictions: str | None, as_json: bool, ray_address: str | None, config: Config
) -> None:
    """Exact match, F1 and recall@k on a SQuAD v1.1 FILE.

    reader: each question read against its own paragraph. retrieval: every paragraph indexed
    as its own document in a fresh temporary store; recall@1/5/20. open: retrieval, then
    reading and ranking, end to end.
    """
    from pipeline.evaluate import evaluate_squad

    with _ray_output(ray_address):
        reader = _ray_reader(config, ray_address) if mode != "retrieval" else None
        result = evaluate_squad(file, mode, config, limit=limit, predictions_path=predictions, show_progress=True, reader=reader)
    _print_result(result, as_json)


def _print_result(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        click.echo(f"{key:<22}{value:.3f}" if isinstance(value, float) else f"{key:<22}{value}")


@evaluate.command("qa")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--predictions", type=click.Path(dir_okay=False), help="Write each question's top answer as JSONL.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@common_options
def eval_qa(file: str, predictions: str | None, as_json: bool, config: Config) -> None:
    """Check docqa on your own documents: FILE is JSONL of {"question", "answers": [...], "file"?}.

    Asks every question against the current index and reports exact match and F1 of the
    top answer, answer recall (a retrieved passage contains a gold answer) and, for lines
    with "file", file recall (a retrieved passage comes from that file).
    """
    from pipeline.evaluate import evaluate_qa
    from pipeline.qa import QA

    result = evaluate_qa(file, QA(config), predictions_path=predictions, show_progress=True)
    _print_result(result, as_json)


@cli.command()
@click.option("--host", help="Address to listen on (default: api.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: api.port, 8000).")
@click.option("--watch", "watched", multiple=True, type=click.Path(exists=True), metavar="PATH", help="Index PATH (a file or folder) at start and every change under it while serving (repeatable).")
@common_options
def serve(host: str | None, port: int | None, watched: tuple[str, ...], config: Config) -> None:
    """Serve the HTTP API (OpenAPI at /docs) and a question page at /.

    A missing database is created, so a server can start empty and be filled by uploads. The
    port and the model's source are checked before the model loads. With --watch PATH, the
    files under PATH are indexed at start and kept in sync while it serves.
    """
    host, port = host or config.api.host, port or config.api.port
    sock = _listen(host, port)
    from pipeline.hub import locate

    locate(config.reader.model)
    import uvicorn

    from store.document_store import SQLiteDocumentStore

    from pipeline.qa import QA
    from pipeline.serve.app import create_app

    store = SQLiteDocumentStore(config.store.path)
    if not store.has_passages():
        click.echo(f"the database {store.path} holds no passages yet: upload files on the page at http://{host}:{port}/ or run `docqa index PATH`", err=True)
    app = create_app(config, QA(config, store=store), watch=watched)
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    # uvicorn names no address when handed a socket: docqa says where it listens, at once.
    click.echo(f"listening on {url}/ (the page; the API's description at {url}/docs); loading the reader model...", err=True)
    uvicorn.Server(uvicorn.Config(app, log_level="info", log_config=_server_logging())).run(sockets=[sock])


def _server_logging() -> dict[str, Any]:
    """uvicorn's logging, with its access log on stderr: stdout is for results only."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    settings = copy.deepcopy(LOGGING_CONFIG)
    settings["handlers"]["access"]["stream"] = "ext://sys.stderr"
    return settings


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port for the server, or a one-line error naming the fix."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({exc.strerror}): "
            + ("another program, perhaps another docqa serve, uses that port: pass --port N or stop it" if exc.errno == errno.EADDRINUSE else "pass another --host or --port")
        ) from None
    return sock


@cli.group()
def model() -> None:
    """Fetch the reader model, or check that it loads."""


@model.command("download")
@click.argument("name", required=False)
@click.option("--to", "folder", type=click.Path(file_okay=False), help="Save it in folder DIR (default: the Hugging Face cache).")
@common_options
def model_download(name: str | None, folder: str | None, config: Config) -> None:
    """Fetch hub model NAME (default: reader.model) with the files the reader needs.

    Into the Hugging Face cache, where docqa finds it by its hub id, or into --to DIR: a
    folder to copy to machines without network and name in reader.model.
    """
    from pipeline.hub import download

    name = name or config.reader.model
    path = download(name, folder)
    click.echo(str(path))
    if folder is not None:
        click.echo(f"set reader.model to {path} (or copy the folder to the machine that needs it)", err=True)


@model.command("check")
@common_options
def model_check(config: Config) -> None:
    """Load the configured reader model and say what it is, its device and precision."""
    from pipeline.hub import describe

    for line in describe(config.reader).lines():
        click.echo(line)


@cli.command("config")
@common_options
def show_config(config: Config) -> None:
    """Print the effective configuration (defaults, then --config, then --db) as YAML,
    and what reader.batch_tokens and reader.precision resolve to on this machine, and why, as comments."""
    import yaml

    from pipeline.reader.features import describe_batch_tokens
    from pipeline.reader.precision import describe_precision

    click.echo(yaml.safe_dump(config.to_dict(), sort_keys=False), nl=False)
    click.echo(f"# reader.batch_tokens here: {describe_batch_tokens(config.reader)}")
    click.echo(f"# reader.precision here: {describe_precision(config.reader)}")


def main() -> None:
    # Haystack's telemetry would try to reach the network on pipeline runs; docqa runs
    # offline by default. Set HAYSTACK_TELEMETRY_ENABLED=True to opt in.
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    # Not click's standalone mode: it turns Ctrl-C into "Aborted!" and exit status 1, while
    # docqa's documented status for an interrupted command is 130.
    try:
        code = cli.main(prog_name="docqa", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.Abort):
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
