"""Scale: berita with 1k, 10k and 100k passages, embedded and against a `chroma run` server.

    .venv/bin/python benchmarks/scale.py --eval ../shared/eval [--sizes 1000,10000,100000]

The collections are real Indonesian text: articles made of the suites' own sentences (FacQA,
IDK-MRC dev and train; 17.6k distinct sentences), cut by berita's chunker. Embedding 100k
passages on 2 CPU cores would take ~1.7 hours (15.9 passages/s, measured in run.py), so the
passage vectors here are the normalised mean of real e5 vectors of their sentences, embedded
once (that cost is reported on its own line); questions are embedded for real. Everything else
is berita's own path: clean, chunk, store (locks, marks), commit (the BM25 index), retrieve,
answer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.run import table  # noqa: E402
from berita.components import open_answerer  # noqa: E402
from berita.settings import Settings, load_settings  # noqa: E402
from berita.text import split_sentences  # noqa: E402
from ingest import pipeline  # noqa: E402
from ingest.article import Article  # noqa: E402
from ingest.clean import clean_text  # noqa: E402
from vectorstore.embeddings import load_embeddings  # noqa: E402
from vectorstore.store import PassageStore  # noqa: E402

SUITES = ("facqa-dev", "idkmrc-dev", "idkmrc-train")
_STABLE = re.compile(r"^[A-Z0-9][^\n]*[a-z0-9)][.!?]$")


class PooledEmbeddings(Embeddings):
    """Texts made of known sentences get the normalised mean of those sentences' vectors;
    anything else (questions) is embedded by the real model."""

    def __init__(self, vectors: dict[str, np.ndarray], model: Embeddings) -> None:
        self.vectors = vectors
        self.model = model
        self.misses = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:
            parts = [self.vectors.get(s) for s in split_sentences(text)]
            if parts and all(p is not None for p in parts):
                mean = np.mean(parts, axis=0)
                out.append((mean / np.linalg.norm(mean)).tolist())
            else:
                self.misses += 1
                out.extend(self.model.embed_documents([text]))
        return out

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed_query(text)


def sentence_pool(eval_dir: Path) -> list[str]:
    seen: dict[str, None] = {}
    for suite in SUITES:
        for line in (eval_dir / suite / "corpus.jsonl").read_text("utf-8").splitlines():
            for sentence in split_sentences(clean_text(json.loads(line)["text"])):
                # Sentences that split the same way wherever they are put: 5 to 60 words,
                # starting with a capital or a digit and ending with a full stop.
                if 5 <= len(sentence.split()) <= 60 and _STABLE.match(sentence):
                    seen[sentence] = None
    return list(seen)


def articles(count: int, pool: list[str], rng: random.Random, start: int = 0) -> list[Article]:
    """Articles of 8-40 pool sentences, dated over a year."""
    made = []
    for number in range(start, start + count):
        text = " ".join(rng.sample(pool, rng.randint(8, 40)))
        day = dt.date(2025, 1, 1) + dt.timedelta(days=number % 365)
        made.append(
            Article(f"scale-{number}", text, published=day.isoformat(), origin=f"scale-{number}")
        )
    return made


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def folder_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def measure(
    settings: Settings,
    embeddings: PooledEmbeddings,
    pool: list[str],
    passages: int,
    questions: list[str],
) -> list[str]:
    rng = random.Random(passages)
    store = PassageStore(settings, embeddings)
    pipeline.COMMIT_EVERY = 10**9  # one commit at the end (today each costs a full rebuild)

    def until_full():
        number = 0
        while store.count() < passages:
            yield from articles(10, pool, rng, number)
            number += 10

    started = time.perf_counter()
    pipeline.store_items(until_full(), store, settings)
    stored_s = time.perf_counter() - started
    total = store.count()
    commit_started = time.perf_counter()
    store.commit()  # the same full rebuild the run ended with, timed on its own
    commit_s = time.perf_counter() - commit_started
    ingest_s = stored_s - commit_s

    # A new article with a word nothing else has: stored, committed, and answered.
    fresh = articles(1, pool, rng, 10**7)[0]
    fresh = Article(fresh.doc_id, f"Kode zqx{passages} dicatat hari ini. {fresh.text}")
    started = time.perf_counter()
    pipeline.store_items([fresh], store, settings)
    answerer = open_answerer(settings, store)
    found = answerer.ask(f"Apa itu zqx{passages}?").passages[0].document.metadata["doc_id"]
    answerable_s = time.perf_counter() - started

    latencies = []
    for question in questions:
        started = time.perf_counter()
        answerer.ask(question)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    disk = (
        folder_mib(settings.chroma_path)
        if not settings.server_mode
        else folder_mib(Path(settings.chroma_path)) + folder_mib(settings.lexical_cache_path)
    )
    return [
        f"{total:,}",
        f"{ingest_s:.0f} s ({total / ingest_s:.0f}/s)",
        f"{commit_s:.1f}",
        f"{answerable_s:.1f}" + ("" if found == fresh.doc_id else " (not top 1)"),
        f"{statistics.median(latencies):.0f}",
        f"{latencies[int(0.95 * (len(latencies) - 1))]:.0f}",
        f"{rss_mib():.0f}",
        f"{disk:.0f}",
    ]


def chroma_server(path: Path, port: int) -> subprocess.Popen:
    import httpx

    chroma = str(Path(sys.executable).parent / "chroma")
    process = subprocess.Popen(
        [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).is_success:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("chroma run did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval", type=Path, default=REPO.parent / "shared" / "eval")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--modes", default="embedded,server")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--cache", type=Path, default=REPO / "data" / "embedding-cache")
    args = parser.parse_args()
    if not all((args.eval / suite / "corpus.jsonl").is_file() for suite in SUITES):
        print(f"skipped: the suites {', '.join(SUITES)} are not all in {args.eval}")
        return
    base = load_settings()
    model = load_embeddings(base.embedding_model, base.embedding_threads, args.cache)
    pool = sentence_pool(args.eval)
    started = time.perf_counter()
    vectors = dict(zip(pool, np.asarray(model.embed_documents(pool), np.float32), strict=True))
    embed_s = time.perf_counter() - started
    embeddings = PooledEmbeddings(vectors, model)
    questions = [
        json.loads(line)["question"]
        for line in (args.eval / "facqa-dev" / "questions.jsonl").read_text("utf-8").splitlines()
    ][: args.questions]

    rows = []
    for mode in args.modes.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            with tempfile.TemporaryDirectory() as folder:
                root = Path(folder)
                settings = base.model_copy(
                    update={
                        "chroma_path": root / "chroma",
                        "lexical_cache_path": root / "lexical",
                        "embedding_cache_path": None,
                        "chroma_host": None,
                    }
                )
                server = None
                if mode == "server":
                    port = 18000 + size % 1000
                    server = chroma_server(root / "chroma", port)
                    settings = settings.model_copy(
                        update={"chroma_host": "127.0.0.1", "chroma_port": port}
                    )
                try:
                    rows.append([mode, *measure(settings, embeddings, pool, size, questions)])
                finally:
                    if server:
                        server.terminate()
                        server.wait(timeout=30)
                shutil.rmtree(root, ignore_errors=True)
            print(f"done: {mode} {size}", file=sys.stderr, flush=True)

    print(f"\n### Scale ({dt.date.today()}, 2 cores)\n")
    print(
        table(
            [
                "store",
                "passages",
                "ingest (vectors given)",
                "commit s (BM25 rebuild)",
                "new article answerable s",
                "p50 ms",
                "p95 ms",
                "process peak RSS MiB",
                "disk MiB",
            ],
            rows,
        )
    )
    print(
        f"\nSentence vectors: {len(pool):,} sentences embedded in {embed_s:.0f} s "
        f"(cached in {args.cache}); texts the pool did not cover: {embeddings.misses}."
    )


if __name__ == "__main__":
    main()
