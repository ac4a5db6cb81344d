"""The HTTP API against its own OpenAPI schema: schemathesis, every check, long run.

Starts the real `docqa serve` on 127.0.0.1 (the tiny stand-in model of
`../shared/tools/make_standin_model.py --tiny`, or `--model DIR`) over a fresh
database of the examples and a small generated corpus, and runs schemathesis 4 on it with
`--checks all` and its coverage, fuzzing and stateful phases, `--examples` cases per
operation: once without an API key and once with one (sent as a bearer token; schemathesis
also tries requests without it). After each run the server is stopped and the database
checked: SQLite's and FTS5's integrity checks, the foreign keys, and the upload folder
against the files table (every upload folder holds one file the database knows, every
uploaded file the database knows is on disk).

    python bench/api_fuzz.py [--examples 100] [--seed 0] [--model DIR] [--workers 1]

Exit status 0 when every check passed in both runs and the database was consistent after
each. Reports (JUnit, JSON, and a HAR of every request) are written under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# The exclusions, with the reason next to each: shared with the CI test.
SCHEMATHESIS_CONFIG = REPO / "tests" / "schemathesis.toml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tiny_standin() -> Path:
    """The 2-layer stand-in (real vocabulary, random weights) of ../shared/tools, built once."""
    path = REPO / "bench" / "out" / "standin-tiny"
    if not (path / "model.safetensors").exists():
        tool = REPO.parent / "shared" / "tools" / "make_standin_model.py"
        subprocess.run([sys.executable, str(tool), "--tiny", str(path)], check=True)
    return path


def build_database(work: Path) -> Path:
    """The examples plus a generated corpus (enough files that stateful DELETEs leave passages)."""
    from ingest.indexer import index_paths
    from ingest.options import IngestOptions
    from store.document_store import SQLiteDocumentStore
    from tests.corpus import write_corpus

    corpus = work / "corpus"
    write_corpus(corpus, pdfs=10, texts=40, pages=2)
    db = work / "index.db"
    store = SQLiteDocumentStore(db)
    report = index_paths(store, [REPO / "examples", corpus], IngestOptions(workers=0), show_progress=False)
    store.close()
    print(f"database: {report.indexed} files indexed, {report.failed} failed", file=sys.stderr)
    return db


def serve(config: Path, port: int, log: Path, ready_within_s: float = 300) -> subprocess.Popen[bytes]:
    """`docqa serve` in a fresh process, once it answers /readyz.

    This checkout comes first on its path, before whatever PYTHONPATH already holds (the
    packages bench/gpu.py carries to a device machine).
    """
    import httpx

    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "serve", "--config", str(config), "--port", str(port)],
        cwd=REPO,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1"},
    )
    deadline = time.time() + ready_within_s
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"docqa serve did not become ready (see {log}): {log.read_text(errors='replace')[-2000:]}")


def schemathesis(url: str, out: Path, args: argparse.Namespace, key: str | None) -> tuple[int, str]:
    """Run schemathesis; its exit status and output."""
    out.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file", str(SCHEMATHESIS_CONFIG),
        "--no-color",
        "run", f"{url}/openapi.json",
        "--checks", "all",
        "--phases", "coverage,fuzzing,stateful",
        "--max-examples", str(args.examples),
        "--seed", str(args.seed),
        "--workers", str(args.workers),
        "--report", "junit,json,har",
        "--report-dir", str(out),
        "--request-timeout", "300",
        # The check's default limit is 10 s. A batch of api.max_batch_request (100) questions
        # reads 2,000 passages; on the shared 2-core machine this was measured on (load 8-12
        # from other benchmarks) that takes up to ~90 s with the tiny stand-in model.
        "--max-response-time", str(args.max_response_time),
    ]
    if key is not None:
        command += ["--header", f"Authorization: Bearer {key}"]
    done = subprocess.run(command, capture_output=True, text=True)
    (out / "schemathesis.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    return done.returncode, done.stdout + done.stderr


def consistency(db: Path, uploads: Path) -> list[str]:
    """What is wrong with the database and the upload folder after the run ([] when nothing)."""
    from store.document_store import SQLiteDocumentStore

    problems: list[str] = []
    store = SQLiteDocumentStore(db, create=False)
    if (check := store.integrity_check()) != ["ok"]:
        problems.append(f"integrity_check: {check}")
    store.close()
    with sqlite3.connect(db) as raw:
        if keys := raw.execute("PRAGMA foreign_key_check").fetchall():
            problems.append(f"foreign_key_check: {keys[:5]}")
        paths = [row[0] for row in raw.execute("SELECT path FROM files")]
    root = uploads.resolve()
    known = {Path(p) for p in paths if Path(p).parent.parent == root}
    on_disk = {f for folder in root.iterdir() for f in folder.iterdir()} if root.exists() else set()
    folders = {folder for folder in root.iterdir()} if root.exists() else set()
    if stray := sorted(str(f) for f in on_disk - known):
        problems.append(f"uploads the database does not know: {stray[:5]} ({len(stray)})")
    if lost := sorted(str(f) for f in known - on_disk):
        problems.append(f"uploads in the database but not on disk: {lost[:5]} ({len(lost)})")
    if odd := sorted(str(f) for f in folders if not f.is_dir() or len(list(f.iterdir())) != 1):
        problems.append(f"upload folders without exactly one file: {odd[:5]} ({len(odd)})")
    print(f"uploads kept: {len(known)} (in the database and on disk)", file=sys.stderr)
    return problems


# What `--checks all` runs (schemathesis 4.32).
CHECKS = (
    "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
    "response_schema_conformance", "negative_data_rejection", "positive_data_acceptance", "missing_required_header",
    "unsupported_method", "allow_header_conformance", "use_after_free", "ensure_resource_availability", "ignored_auth",
    "object_level_authorization", "max_response_time",
)


def summary(out: Path, serve_log: Path) -> str:
    """Requests the server answered (by status), cases generated, and failures per check."""
    statuses: dict[str, int] = {}
    for line in serve_log.read_text(encoding="utf-8", errors="replace").splitlines():
        if '" ' in line and "HTTP/1.1" in line:
            status = line.rsplit('" ', 1)[1].split()[0]
            statuses[status] = statuses.get(status, 0) + 1
    report = json.loads(next(out.glob("json-*.json")).read_text(encoding="utf-8"))
    failures = [f"{f['code']} {f['title']}: {f['count']} ({', '.join(f['operations'])})" for f in report.get("failures", [])]
    cases = report.get("test_cases", {})
    entries = json.loads(next(out.glob("har-*.json")).read_text(encoding="utf-8"))["log"]["entries"]
    slowest = max(entries, key=lambda e: e["time"], default=None)
    slow = f"{slowest['time'] / 1000:.1f} s ({slowest['request']['method']} /{slowest['request']['url'].split('/', 3)[-1]})" if slowest else "-"
    return (
        f"requests answered: {sum(statuses.values())} ({', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))}); "
        f"test cases generated: {cases.get('generated')}, with failures: {cases.get('with_failures')}; "
        f"schemathesis errors: {len(report.get('errors', []))}; slowest response: {slow}\n"
        f"checks ({len(CHECKS)}): {', '.join(CHECKS)}\n"
        f"failures: {'; '.join(failures) if failures else '0 of every check'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=100, help="cases per operation and phase (schemathesis --max-examples)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", type=Path, help="a QA model folder (default: the tiny stand-in, built under bench/out)")
    parser.add_argument("--workers", type=int, default=1, help="concurrent schemathesis workers")
    parser.add_argument("--max-response-time", type=float, default=120, help="seconds a response may take (the max_response_time check)")
    parser.add_argument("--only", choices=["without-key", "with-key"], help="run one of the two")
    parser.add_argument("--out", type=Path, help="where reports go (default: a new temporary folder)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="docqa-api-fuzz-"))
    out = (args.out or work / "reports").resolve()
    model = args.model if args.model is not None else tiny_standin()
    source = build_database(work)
    ok = True
    for key in (None, "fuzz-key"):
        name = "with-key" if key else "without-key"
        if args.only not in (None, name):
            continue
        folder = work / name
        folder.mkdir()
        db = folder / "index.db"
        db.write_bytes(source.read_bytes())
        config = folder / "config.yaml"
        config.write_text(
            f"store:\n  path: {db}\nreader:\n  model: {model}\n  device: cpu\n"
            f"api:\n  data_folder: {folder / 'uploads'}\n" + (f"  key: {key}\n" if key else ""),
            encoding="utf-8",
        )
        port = free_port()
        process = serve(config, port, folder / "serve.log")
        started = time.perf_counter()
        try:
            status, output = schemathesis(f"http://127.0.0.1:{port}", out / name, args, key)
        finally:
            process.terminate()
            process.wait(60)
        seconds = time.perf_counter() - started
        problems = consistency(db, folder / "uploads")
        tail = output.strip().splitlines()[-30:]
        print("\n".join(tail))
        print(f"\n== {name}: schemathesis exit {status} in {seconds:.0f} s; database after the run: {problems or 'integrity_check ok, FTS ok, foreign keys ok, uploads match'}")
        print(summary(out / name, folder / "serve.log"))
        ok = ok and status == 0 and not problems
    print(f"\nreports: {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
