"""Runs transformers' question-answering pipeline (4.57, in its own virtual environment).

Not part of docqa: bench/reader.py runs this file with the interpreter of a separate venv
that has transformers 4.57 (whose pipeline transformers 5 removed) and reads its JSON.

    python reference_pipeline.py MODEL INPUT.json OUTPUT.json

INPUT: {"items": [{"question", "contexts": [...]}], "max_answer_len", "max_seq_len", "doc_stride"}
OUTPUT: {"answers": [[{"answer", "score", "start", "end", "context_index"}] per item], "seconds"}
"""

import json
import sys
import time

import torch
from transformers import pipeline


def main() -> None:
    model, source, target = sys.argv[1:4]
    spec = json.load(open(source))
    torch.set_num_threads(torch.get_num_threads())
    qa = pipeline("question-answering", model=model, tokenizer=model, device=-1)
    params = dict(max_answer_len=spec["max_answer_len"], max_seq_len=spec["max_seq_len"], doc_stride=spec["doc_stride"])
    first = spec["items"][0]
    qa(question=first["question"], context=first["contexts"][0], **params)  # warm-up
    out = []
    start = time.perf_counter()
    for item in spec["items"]:
        best = None
        for index, context in enumerate(item["contexts"]):
            a = qa(question=item["question"], context=context, top_k=1, **params)
            if best is None or a["score"] > best["score"]:
                best = {**a, "context_index": index}
        out.append([best])
    seconds = time.perf_counter() - start
    json.dump({"answers": out, "seconds": seconds, "transformers": __import__("transformers").__version__}, open(target, "w"))


if __name__ == "__main__":
    main()
