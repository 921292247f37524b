"""Teach a trained reader to point at the sentence that answers, inside the right paragraph.

A reader trained on paragraph pairs (its negatives: other articles' paragraphs) learns "on topic"
more than "answers this question". This goes on from such a reader with pairs cut from the same
paragraph: each answerable training question with the sentence holding its answer (positive) and
`--negatives` other sentences of its paragraph, those sharing most of the question's words first
(negatives); each unanswerable question with that many sentences of its on-topic paragraph
(negatives: the fact is missing). `--paragraphs` of the questions also keep their paragraph pair,
so the reader still reads paragraphs.

    python -m training.sentences --train ../shared/train --init reader/weights/v3 \\
        --out build/reader-sentences --deadline-s 3000 [--epochs 1]

On a GPU (found by itself), `training/gpu_train.sh` runs it with SENTENCES_INIT set.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

from berita.text import split_sentences
from training.bundle import TRAIN_FILES, read_jsonl
from training.card import LICENCES, card_files_and_facts, card_heading, weights_licence
from training.schedule import Plan
from training.train import save_reader

TITLE_WORDS = 12  # a `titled` pair's stand-in for a title: its paragraph's first words


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the paragraph's sentences, as berita splits them."""
    spans, position = [], 0
    for sentence in split_sentences(text):
        start = text.find(sentence, position)
        if start < 0:  # the splitter tidied it: give up on offsets for the rest
            break
        spans.append((start, start + len(sentence)))
        position = start + len(sentence)
    return spans


def sentence_pairs(
    records: list[dict],
    negatives: int,
    paragraphs: float,
    rng: random.Random,
    *,
    nearby: int = 0,
    titled: float = 0.0,
    threaded: float = 0.0,
) -> list[tuple[str, str, float]]:
    """(question, text, label) pairs from training records (the `../shared/train` format).

    Beside the sentences of its own paragraph, a question gets `nearby` sentences of the
    paragraphs next to its own (the same article's, on the same subject, rarely holding its
    answer: the look-alike that answers another question), those sharing most of its words; a
    `titled` share of the questions read their sentences under their paragraph's opening words,
    as berita reads an article's sentence under its title; a `threaded` share are asked as a
    follow-up is read: the question, then another question of its paragraph and the sentence
    answering that one."""
    from berita.vectorstore.lexical import tokenize

    order = list(dict.fromkeys(record["context_id"] for record in records))
    position = {context_id: n for n, context_id in enumerate(order)}
    contexts = {record["context_id"]: record["context"] for record in records}
    spans = {context_id: sentence_spans(context) for context_id, context in contexts.items()}
    split = {cid: split_sentences(text) for cid, text in contexts.items()} if nearby else {}
    answered: dict[str, list[tuple[str, str]]] = {}  # a paragraph's questions, answer sentence
    if threaded:
        for record in records:
            sentence = _answer_sentence(record, spans[record["context_id"]])
            if sentence:
                answered.setdefault(record["context_id"], []).append((record["question"], sentence))
    pairs: list[tuple[str, str, float]] = []
    for record in records:
        context, question = record["context"], record["question"]
        own = spans[record["context_id"]]
        if len(own) < 2:
            continue
        texts = [context[a:b] for a, b in own]
        starts = [answer["start"] for answer in record["answers"]]
        holding = {i for i, (a, b) in enumerate(own) for s in starts if a <= s < b}
        if record["answerable"] and not holding:
            continue
        asked = set(tokenize(question))
        others = [i for i in range(len(texts)) if i not in holding]
        others.sort(key=lambda i: (-len(asked & set(tokenize(texts[i]))), rng.random()))
        chosen = [(texts[i], 1.0) for i in sorted(holding)[:1]]
        chosen += [(texts[i], 0.0) for i in others[:negatives]]
        if nearby:
            answers = [answer["text"].casefold() for answer in record["answers"]]
            at = position[record["context_id"]]
            near = [
                sentence
                for neighbour in order[max(at - 1, 0) : at] + order[at + 1 : at + 2]
                for sentence in split[neighbour]
                if not any(answer in sentence.casefold() for answer in answers)
            ]
            near.sort(key=lambda text: (-len(asked & set(tokenize(text))), rng.random()))
            chosen += [(text, 0.0) for text in near[:nearby]]
        if titled and rng.random() < titled:
            lead = " ".join(texts[0].split()[:TITLE_WORDS])
            chosen = [(f"{lead}\n{text}", label) for text, label in chosen]
        asked_as = question
        earlier = [q for q in answered.get(record["context_id"], []) if q[0] != question]
        if earlier and rng.random() < threaded:
            asked_as = " ".join([question, *rng.choice(earlier)])
        pairs += [(asked_as, text, label) for text, label in chosen]
        if rng.random() < paragraphs:
            pairs.append((question, context, 1.0 if record["answerable"] else 0.0))
    return pairs


def _answer_sentence(record: dict, spans: list[tuple[int, int]]) -> str:
    """The sentence (of its paragraph's sentence `spans`) that holds the record's first answer,
    or "" (unanswerable, or past where the spans stop)."""
    if not record["answerable"]:
        return ""
    start = record["answers"][0]["start"]
    return next((record["context"][a:b] for a, b in spans if a <= start < b), "")


def fit_sentences(
    train: Path,
    init: Path,
    out: Path,
    *,
    negatives: int = 2,
    paragraphs: float = 0.3,
    nearby: int = 0,
    titled: float = 0.0,
    threaded: float = 0.0,
    batch_size: int = 32,
    learning_rate: float = 2e-5,
    deadline_s: float = 3000.0,
    epochs: float = 1.0,
    limit: int | None = None,
    seed: int = 17,
) -> dict:
    """Train from the reader in `init` on sentence pairs for `epochs` or until `deadline_s`,
    whichever comes first (through `training.trainer`: sentence-transformers'
    CrossEncoderTrainer, on a GPU when there is one); returns the card."""
    import tempfile

    import torch

    from berita.reader.e5 import E5File
    from berita.reader.inference import pair_ids
    from berita.reader.model import ReaderNet, load_weights
    from training.trainer import load_cross_encoder, reader_state, train_cross_encoder

    started = time.monotonic()
    rng = random.Random(seed)  # noqa: S311 (reproducible sampling, not secrets)
    torch.manual_seed(seed)
    records = [
        record
        for name in TRAIN_FILES
        if (train / f"{name}.jsonl.gz").is_file()
        for record in read_jsonl(train / f"{name}.jsonl.gz")
    ][:limit]
    if not records:
        raise SystemExit(f"no training questions in {train}")
    used = sorted({name for name in TRAIN_FILES if (train / f"{name}.jsonl.gz").is_file()})
    pairs = sentence_pairs(
        records, negatives, paragraphs, rng, nearby=nearby, titled=titled, threaded=threaded
    )
    e5 = E5File()
    tokenizer = e5.tokenizer
    questions = tokenizer.e5_ids([q for q, _, _ in pairs], is_query=True)
    texts = tokenizer.e5_ids([t for _, t, _ in pairs], is_query=False)
    lengths = [
        len(pair_ids(q, t, tokenizer.bos, tokenizer.eos))
        for q, t in zip(questions, texts, strict=True)
    ]
    _, earlier = load_weights(init)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    budget = max(1, int(epochs * len(pairs) / batch_size))
    with tempfile.TemporaryDirectory(prefix="berita-sentences-") as scratch:
        model = load_cross_encoder(init, Path(scratch), device)
        plan = Plan(budget, time.monotonic(), started + deadline_s, 0.0)
        step, losses = train_cross_encoder(
            model, pairs, lengths, batch_size=batch_size, learning_rate=learning_rate,
            plan=plan, seed=seed,
        )  # fmt: skip
        net = ReaderNet(e5, earlier["layers"])
        net.load_state_dict(reader_state(model))
    del e5
    net.eval()
    data = {name: LICENCES[name] for name in used}
    card = {
        **{k: v for k, v in earlier.items() if k not in ("dev", "files")},
        "model": "berita reader (cross-encoder), taught to point at the answering sentence",
        "data": data,
        "licence": weights_licence(list(data.values())),
        "sentence_pairs": len(pairs),
        "sentence_negatives": negatives,
        "paragraph_share": paragraphs,
        "sentence_nearby": nearby,
        "sentence_titled": titled,
        "sentence_threaded": threaded,
        "sentence_steps": step,
        "sentence_batch_size": batch_size,
        "sentence_epochs": round(step * batch_size / len(pairs), 2),
        "sentence_learning_rate": learning_rate,
        "sentence_seed": seed,
        "sentence_seconds": round(time.monotonic() - started),
        "sentence_device": device,
        "sentence_final_loss": round(float(np.mean(losses[-10:])), 4) if losses else None,
        "trained_with": "sentence-transformers CrossEncoderTrainer",
        "initialised_from": str(init),
    }
    save_reader(net, out, card, model_card)
    return card


def model_card(card: dict) -> str:
    """The model card of a reader taught sentences, as Markdown: this run, then the run of the
    reader it went on from, the files and every fact."""
    pairs = card["sentence_pairs"]
    return "\n".join(
        [
            *card_heading(card),
            "## This run: pointing at the answering sentence",
            f"From the reader in `{card['initialised_from']}`: {pairs:,} pairs cut from the "
            "training paragraphs (each answerable question with the sentence holding its answer "
            f"and {card['sentence_negatives']} other sentences of its paragraph, those sharing "
            "most of its words first; each unanswerable question with that many sentences of "
            f"its paragraph; {card.get('sentence_nearby', 0)} more from the paragraphs next to "
            f"its own; {card.get('sentence_titled', 0):.0%} of the questions read under their "
            "paragraph's opening words and "
            f"{card.get('sentence_threaded', 0):.0%} asked after another question of their "
            "paragraph and its answer, as a follow-up is read; "
            f"{card['paragraph_share']:.0%} of the questions also with their "
            f"paragraph), {card['sentence_steps']:,} steps "
            f"({card['sentence_epochs']} epochs) of {card.get('sentence_batch_size', 32)}, "
            f"learning rate {card['sentence_learning_rate']}, seed {card['sentence_seed']}, on "
            f"{card['sentence_device']} ({card['sentence_seconds']} s); final loss "
            f"{card['sentence_final_loss']}.",
            "",
            "## The run it went on from",
            f"{card['pairs']:,} paragraph pairs (mined hard negatives a question: "
            f"{', '.join(f'{name} {n}' for name, n in card['negatives'].items())}), "
            f"{card['steps']:,} steps ({card['epochs']} epochs), batch {card['batch_size']}, "
            f"learning rate {card['learning_rate']}, seed {card['seed']}, on {card['device']}.",
            "",
            "## Retrain it",
            "`python -m training.train prepare/fit` (docs/reader.md) trains the paragraph reader; "
            "`python -m training.sentences --train ../shared/train --init DIR --out DIR "
            "--deadline-s 3000` goes on from it; `python -m training.calibrate` fits "
            "`refusal.json`.",
            "",
            *card_files_and_facts(card),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m training.sentences", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--train", type=Path, required=True, help="../shared/train")
    parser.add_argument("--init", type=Path, required=True, help="the reader to go on from")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--negatives", type=int, default=2)
    parser.add_argument("--paragraphs", type=float, default=0.3)
    parser.add_argument("--nearby", type=int, default=0, help="negatives from nearby paragraphs")
    parser.add_argument("--titled", type=float, default=0.0, help="share read under a title")
    parser.add_argument("--threaded", type=float, default=0.0, help="share asked as follow-ups")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--deadline-s", type=float, default=3000.0)
    parser.add_argument("--epochs", type=float, default=1.0, help="unless the deadline is first")
    parser.add_argument("--limit", type=int, default=None, help="the first N questions only")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args(argv)
    card = fit_sentences(
        args.train,
        args.init,
        args.out,
        negatives=args.negatives,
        paragraphs=args.paragraphs,
        nearby=args.nearby,
        titled=args.titled,
        threaded=args.threaded,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        deadline_s=args.deadline_s,
        epochs=args.epochs,
        limit=args.limit,
        seed=args.seed,
    )
    print(f"{card['sentence_steps']} steps of {args.batch_size} -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
