"""Tiny QA models and vocabularies built by the tests themselves (no network, no ../shared)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import BertWordPieceTokenizer
from transformers import DistilBertConfig, DistilBertForQuestionAnswering

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

CORPUS = [
    "The Floresta Amazônica, also called Amazonía, is a moist broadleaf tropical rainforest.",
    "Paris is the capital of France. The river Seine flows through Paris.",
    "亚马逊雨林 covers much of the Amazon basin of South America.",
    "Kestrel was delivered by sea from Glasgow in 1872 and pulled twelve wagons.",
    "Who, what, where, when, why and how are questions about the river, the city and the forest.",
]


# Whole words and word pieces chosen so that the tests' words split into known pieces:
# cased "Amazônica" -> Amaz ##ô ##n ##ica; uncased "amazonica" -> amazon ##ica.
PIECES = {
    False: "The Fl ##orest ##a Amaz ##ô ##n ##ica al ##so cal ##led Amazon ##í covers the basin Paris river Where is it".split(),
    True: "the fl ##orest ##a amazon ##ica ##ia al ##so cal ##led covers basin paris river where is it".split(),
}
CHARACTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:?!'\"()-–íôé亚马逊雨林"


def vocabulary(uncased: bool) -> list[str]:
    """Special tokens, the chosen pieces, and every character alone and as a ##piece (so nothing is [UNK])."""
    words = SPECIAL + PIECES[uncased] + [c for c in CHARACTERS] + ["##" + c for c in CHARACTERS]
    return list(dict.fromkeys(words))


def build_model(folder: Path, *, uncased: bool = False, seed: int = 0) -> Path:
    """Write a 2-layer DistilBERT QA model with a small hand-made WordPiece vocabulary."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {token: i for i, token in enumerate(vocabulary(uncased))}
    tokenizer = BertWordPieceTokenizer(vocab, lowercase=uncased, strip_accents=True if uncased else False)
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    special = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}
    (folder / "special_tokens_map.json").write_text(json.dumps(special))
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "DistilBertTokenizer", "do_lower_case": uncased, "model_max_length": 512, **special})
    )
    config = DistilBertConfig(
        vocab_size=tokenizer.get_vocab_size(), dim=32, hidden_dim=64, n_layers=2, n_heads=2, max_position_embeddings=512
    )
    torch.manual_seed(seed)
    DistilBertForQuestionAnswering(config).eval().save_pretrained(folder)
    return folder
