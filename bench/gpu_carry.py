"""What bench/gpu.py takes to a device machine: the carry folder, its size, and its unpacking there.

The device machine receives the working tree and the paths named in `carry`, at most 64 MiB
together (/work/.library/device/README.md); ../shared does not travel. `prepare` fills the
git-ignored folder CARRY with:

- wheels/: docqa's runtime dependencies that the device's image lacks (Python 3.12,
  manylinux x86-64), at the versions installed here, installed there with --no-deps into a
  folder put on PYTHONPATH (DEVICE_HAS: the image's packages, read from the device notes);
- fixture/: the trained fixture reader in fp16 (its fp32 weights are 90 MB, over the budget
  with the rest), with the word-embedding rows of tokens that no question or paragraph of
  the public half uses set to zero, xz-compressed (31 MB). Those rows are never read by the
  check, which reads only public-half questions; the run verifies every token it feeds is a
  kept one. Unpacked there to an ordinary fp32 checkpoint (the fp16 values, widened);
- reference.json: the fixture's answers in fp32 on this CPU with the original fp32 weights,
  the check's reference;
- squad.json.xz and vocab-bert-base-cased.txt: the public half, and the vocabulary the
  full-size stand-in is written with (write_standin, as ../shared/tools/make_standin_model.py).
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CARRY = "gpu-carry"  # relative to the repository root; in .gitignore
LIMIT_BYTES = 64 * 1024 * 1024  # the working tree and carried paths together
SITE = Path("/tmp/docqa-gpu-site")  # where the wheels are installed on the device

# docqa's runtime dependencies (and theirs) that its code imports for `ask --batch`, `serve`
# and evaluation, found by tracing a run here; the image lacks them, or may hold versions
# older than these packages need (typing-extensions >= 4.16 for pydantic, anyio >= 4.14
# for haystack), so the versions installed here travel and come first on the path.
CARRIED = (
    "haystack-ai", "lazy-imports", "filetype", "posthog", "distro", "backoff", "sniffio",
    "pydantic", "pydantic-core", "typing-inspection", "annotated-types", "typing-extensions",
    "sqlalchemy", "rank-bm25", "tantivy", "pypdf",
    "fastapi", "starlette", "python-multipart", "fastapi-offline", "opentelemetry-api", "uvicorn",
    "anyio", "certifi",
)  # fmt: skip
# The image's packages that docqa imports (KINDS.md, "Python packages already there",
# read 2026-11-17): used there as they are; torch, transformers and tokenizers above all
# must not be replaced by this machine's CPU builds.
DEVICE_HAS = (
    "torch", "transformers", "tokenizers", "safetensors", "huggingface-hub", "numpy", "tqdm",
    "pyyaml", "click", "charset-normalizer", "httpx", "httpcore", "h11", "idna", "jinja2",
    "markupsafe", "networkx", "requests", "urllib3", "regex", "filelock", "fsspec", "packaging",
    "pillow", "rich", "pygments", "annotated-doc", "psutil", "sentencepiece", "accelerate",
)  # fmt: skip
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64")
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def wheel_name(filename: str) -> str:
    """The project name of a wheel file (PEP 427: name-version-...whl)."""
    return canonical(filename.split("-")[0])


def download_wheels(folder: Path, names: Sequence[str] = CARRIED) -> list[Path]:
    """cp312 manylinux wheels of `names` at this environment's versions, into `folder` (kept if there)."""
    from importlib.metadata import version

    folder.mkdir(parents=True, exist_ok=True)
    have = {wheel_name(p.name) for p in folder.glob("*.whl")}
    wanted = [f"{name}=={version(name)}" for name in names if canonical(name) not in have]
    if wanted:
        platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
                   "--implementation", "cp", *platforms, "-d", str(folder), *wanted]  # fmt: skip
        subprocess.run(command, check=True)
    return sorted(folder.glob("*.whl"))


def check_wheels(wheels: Iterable[Path]) -> None:
    """One wheel per project (two stop the whole install), none of a package the image has."""
    seen: dict[str, str] = {}
    for wheel in wheels:
        name = wheel_name(wheel.name)
        if name in seen:
            raise ValueError(f"two wheels of {name}: {seen[name]} and {wheel.name}: delete one (pip install --no-deps stops on both)")
        if name in {canonical(n) for n in DEVICE_HAS}:
            raise ValueError(f"{wheel.name} is a package the device's image has: carrying it would replace the image's build")
        seen[name] = wheel.name


def used_token_ids(tokenizer: Any, texts: Iterable[str]) -> set[int]:
    """Token ids of these texts, special tokens included (the check reads nothing else)."""
    ids = {tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS if t in tokenizer.get_vocab()}
    for encoded in tokenizer(list(texts), add_special_tokens=True)["input_ids"]:
        ids.update(encoded)
    return ids


def squad_texts(squad: dict[str, Any]) -> list[str]:
    """Every paragraph and question of a SQuAD file."""
    texts = []
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            texts.append(paragraph["context"])
            texts.extend(qa["question"] for qa in paragraph["qas"])
    return texts


def pack_fixture(source: Path, target: Path, keep_ids: set[int]) -> dict[str, Any]:
    """The fixture in fp16 with word-embedding rows outside keep_ids zeroed, xz-compressed, and its tokenizer files."""
    import torch
    from safetensors.torch import load_file, save

    target.mkdir(parents=True, exist_ok=True)
    tensors = {name: tensor.to(torch.float16) for name, tensor in load_file(str(source / "model.safetensors")).items()}
    embedding = next(name for name in tensors if name.endswith("word_embeddings.weight"))
    keep = torch.zeros(tensors[embedding].shape[0], dtype=torch.bool)
    keep[sorted(keep_ids)] = True
    tensors[embedding] = tensors[embedding] * keep.unsqueeze(1).to(torch.float16)
    (target / "model.fp16.safetensors.xz").write_bytes(lzma.compress(save(tensors), preset=1))
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        if (source / name).exists():
            (target / name).write_bytes((source / name).read_bytes())
    (target / "kept_ids.json").write_text(json.dumps(sorted(keep_ids)))
    return {"embedding": embedding, "kept_rows": len(keep_ids), "rows": int(keep.numel())}


def unpack_fixture(packed: Path, target: Path) -> Path:
    """An ordinary fp32 checkpoint folder from pack_fixture's output (the fp16 values, widened exactly)."""
    import torch
    from safetensors.torch import load, save_file

    target.mkdir(parents=True, exist_ok=True)
    tensors = load(lzma.decompress((packed / "model.fp16.safetensors.xz").read_bytes()))
    save_file({name: tensor.to(torch.float32).contiguous() for name, tensor in tensors.items()}, str(target / "model.safetensors"))
    for path in packed.iterdir():
        if path.name not in ("model.fp16.safetensors.xz", "kept_ids.json"):
            (target / path.name).write_bytes(path.read_bytes())
    return target


def write_standin(out: Path, vocab: Path, tiny: bool = False, seed: int = 0) -> Path:
    """The stand-in of ../shared/tools/make_standin_model.py (cased): DistilBERT-base's
    architecture and configuration with seeded random weights, and the cased WordPiece
    tokenizer of `vocab`. --tiny: 2 layers of width 64."""
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import DistilBertConfig, DistilBertForQuestionAnswering

    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.txt").write_bytes(vocab.read_bytes())
    BertWordPieceTokenizer(str(vocab), lowercase=False, strip_accents=False).save(str(out / "tokenizer.json"))
    special = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}
    (out / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    (out / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "DistilBertTokenizer", "do_lower_case": False,
        "model_max_length": 512, "model_input_names": ["input_ids", "attention_mask"], **special}, indent=2))  # fmt: skip
    size = dict(dim=64, hidden_dim=256, n_layers=2, n_heads=4) if tiny else {}
    vocab_size = sum(1 for line in vocab.read_text(encoding="utf-8").splitlines() if line)
    config = DistilBertConfig(vocab_size=vocab_size, architectures=["DistilBertForQuestionAnswering"], **size)
    torch.manual_seed(seed)
    DistilBertForQuestionAnswering(config).eval().save_pretrained(str(out))
    return out


def tree_files(repo: Path) -> list[Path]:
    """Files of the working tree that travel without `carry`: tracked, and untracked but not ignored."""
    listed = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            check=True, capture_output=True).stdout  # fmt: skip
    return [repo / name for name in dict.fromkeys(listed.decode().split("\0")) if name and (repo / name).is_file()]


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def size_report(repo: Path, carry: Sequence[str] = (CARRY,)) -> dict[str, Any]:
    """Bytes that travel: the working tree, each carried path (and its first-level parts), total against 64 MiB."""
    tree = sum(p.stat().st_size for p in tree_files(repo))
    carried: dict[str, int] = {}
    for name in carry:
        root = repo / name
        if root.is_dir():
            for part in sorted(root.iterdir()):
                carried[f"{name}/{part.name}"] = folder_bytes(part) if part.is_dir() else part.stat().st_size
        elif root.exists():
            carried[name] = root.stat().st_size
    total = tree + sum(carried.values())
    return {"working_tree": tree, "carried": carried, "total": total, "limit": LIMIT_BYTES, "fits": total <= LIMIT_BYTES}


def format_size_report(report: dict[str, Any]) -> str:
    mib = 1024 * 1024
    lines = [f"working tree (tracked + untracked, not ignored): {report['working_tree'] / mib:.1f} MiB"]
    lines += [f"{name}: {size / mib:.1f} MiB" for name, size in report["carried"].items()]
    verdict = "fits" if report["fits"] else "DOES NOT FIT"
    lines.append(f"total {report['total'] / mib:.1f} MiB of {report['limit'] / mib:.0f} MiB: {verdict}")
    return "\n".join(lines)


def install_wheels(wheels: Path, site: Path = SITE) -> Path | None:
    """Install the carried wheels (--no-deps, no index) into `site` and put it first on the
    path, here and for subprocesses. None when there are no wheels (their packages are there)."""
    files = sorted(wheels.glob("*.whl")) if wheels.is_dir() else []
    if not files:
        return None
    if not (site / ".installed").exists():
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-compile", "--no-cache-dir",
                   "--upgrade", "--target", str(site), *map(str, files)]  # fmt: skip
        subprocess.run(command, check=True)
        (site / ".installed").write_text("\n".join(p.name for p in files))
    sys.path.insert(0, str(site))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    return site


def manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """Every file of the carry folder: bytes and sha256 (the run checks the folder arrived whole)."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json"):
        out[str(path.relative_to(folder))] = {"bytes": path.stat().st_size, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    return out


def check_manifest(folder: Path) -> None:
    """The carry folder is as prepare wrote it (a missing or changed file names itself)."""
    recorded = json.loads((folder / "manifest.json").read_text())
    now = manifest(folder)
    for name, entry in recorded.items():
        if name not in now:
            raise FileNotFoundError(f"{folder / name} is missing: run `python bench/gpu.py prepare` again and carry {CARRY}")
        if now[name]["sha256"] != entry["sha256"]:
            raise ValueError(f"{folder / name} differs from what prepare wrote: run `python bench/gpu.py prepare` again")
