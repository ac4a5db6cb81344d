"""Tiny QA models and vocabularies built by the tests themselves (no network, no ../shared).

Three architectures, as the hub has them: DistilBERT (WordPiece, no segment ids), BERT
(WordPiece, segment ids: the tokenizer makes them and the model reads them) and RoBERTa
(byte-level BPE with leading-space tokens, no segment ids).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import BertWordPieceTokenizer, ByteLevelBPETokenizer, processors
from transformers import (
    BertConfig,
    BertForQuestionAnswering,
    DistilBertConfig,
    DistilBertForQuestionAnswering,
    RobertaConfig,
    RobertaForQuestionAnswering,
)

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


def build_model(folder: Path | str, *, uncased: bool = False, seed: int = 0, architecture: str = "distilbert") -> Path:
    """Write a 2-layer DistilBERT (or BERT) QA model with a small hand-made WordPiece vocabulary."""
    folder = Path(folder)  # (a str from the README's one-line command)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {token: i for i, token in enumerate(vocabulary(uncased))}
    tokenizer = BertWordPieceTokenizer(vocab, lowercase=uncased, strip_accents=True if uncased else False)
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    special = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}
    (folder / "special_tokens_map.json").write_text(json.dumps(special))
    # The tokenizer class decides the model's inputs: BertTokenizer makes token_type_ids,
    # DistilBertTokenizer does not.
    tokenizer_class = {"distilbert": "DistilBertTokenizer", "bert": "BertTokenizer"}[architecture]
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": tokenizer_class, "do_lower_case": uncased, "model_max_length": 512, **special})
    )
    torch.manual_seed(seed)
    if architecture == "bert":
        bert = BertConfig(
            vocab_size=tokenizer.get_vocab_size(), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=2, max_position_embeddings=512, type_vocab_size=2, initializer_range=0.5,
        )  # large initial weights, so that the segment embeddings change the logits visibly
        BertForQuestionAnswering(bert).eval().save_pretrained(folder)
    else:
        config = DistilBertConfig(
            vocab_size=tokenizer.get_vocab_size(), dim=32, hidden_dim=64, n_layers=2, n_heads=2, max_position_embeddings=512
        )
        DistilBertForQuestionAnswering(config).eval().save_pretrained(folder)
    return folder


ROBERTA_SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def build_roberta_model(folder: Path, *, trim_offsets: bool = True, seed: int = 0) -> Path:
    """Write a 2-layer RoBERTa QA model with a byte-level BPE tokenizer trained on CORPUS.

    As roberta-base's: leading-space tokens (`Ġriver`), whitespace and multi-byte characters
    as tokens of their own, `<s> question </s></s> passage </s>`, no segment ids, pad id 1.
    With `trim_offsets=False` (as some hub tokenizers have it) a token's offsets include the
    space before it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = ByteLevelBPETokenizer()
    tokenizer.train_from_iterator(CORPUS, vocab_size=400, min_frequency=1, special_tokens=ROBERTA_SPECIAL, show_progress=False)
    sep, cls = tokenizer.token_to_id("</s>"), tokenizer.token_to_id("<s>")
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", sep), ("<s>", cls), trim_offsets=trim_offsets)
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "RobertaTokenizer", "model_max_length": 512, "trim_offsets": trim_offsets})
    )
    config = RobertaConfig(
        vocab_size=tokenizer.get_vocab_size(), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=514, type_vocab_size=1, pad_token_id=tokenizer.token_to_id("<pad>"),
        bos_token_id=cls, eos_token_id=sep,
    )
    torch.manual_seed(seed)
    RobertaForQuestionAnswering(config).eval().save_pretrained(folder)
    return folder
