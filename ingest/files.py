"""Finding the files to index, and hashing them."""

from __future__ import annotations

import fnmatch
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from store.records import Failure


@dataclass(frozen=True)
class Discovered:
    files: list[str]  # absolute paths, sorted, no duplicates
    failures: list[Failure]  # folders that could not be listed
    skipped: list[str] = field(default_factory=list)  # files inside folders that `include` leaves out, sorted


def discover(paths: Iterable[str | os.PathLike[str]], include: list[str], exclude: list[str]) -> Discovered:
    """Files under `paths` whose names match `include` and no part of whose path matches `exclude`.

    A file named directly is taken when its name matches `include`, and skipped otherwise,
    as it would be in a folder (exclude does not apply to it: it was asked for by name).
    Folder symlinks are not followed, so a symlink loop cannot recurse forever.
    """
    found: set[str] = set()
    skipped: list[str] = []
    failures: list[Failure] = []

    def on_error(exc: OSError) -> None:
        failures.append(Failure(os.path.abspath(exc.filename), f"cannot read folder: {exc.strerror}"))

    for given in paths:
        root = os.path.abspath(given)
        if not os.path.isdir(root):
            # (A path that is not there is taken: reading it reports why.)
            if _matches(os.path.basename(root).lower(), [p.lower() for p in include]) or not os.path.lexists(root):
                found.add(root)
            else:
                skipped.append(root)
            continue
        for folder, dirs, names in os.walk(root, onerror=on_error):
            dirs[:] = sorted(d for d in dirs if not _matches(d, exclude))
            for name in names:
                if _matches(name, exclude):
                    continue
                if _matches(name.lower(), [p.lower() for p in include]):
                    found.add(os.path.join(folder, name))
                else:
                    skipped.append(os.path.join(folder, name))
    return Discovered(sorted(found), failures, sorted(skipped))


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def sha256_file(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def under(path: str, roots: list[str]) -> bool:
    """Whether `path` is one of `roots` or inside one of them."""
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)
