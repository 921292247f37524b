"""Scale: berita with 1k, 10k and 100k passages, embedded and against a `chroma run` server.

    .venv/bin/python benchmarks/scale.py --eval ../shared/eval [--sizes 1000,10000,100000]

The collections are real Indonesian text: articles made of the suites' own sentences (FacQA,
IDK-MRC dev and train; 17.6k distinct sentences), cut by berita's chunker. Embedding 100k
passages on 2 CPU cores would take ~1.7 hours (15.9 passages/s, measured in run.py), so the
passage vectors here are the normalised mean of real e5 vectors of their sentences, embedded
once (that cost is reported on its own line); questions are embedded for real. Everything else
is berita's own path: clean, chunk, store (locks, marks, journal), commit (the BM25 index),
retrieve, answer, and a real `berita bot` process answering through the test Bot API server.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bot import memory_mib  # noqa: E402
from benchmarks.run import percentile, table  # noqa: E402
from berita.answer.components import open_answerer  # noqa: E402
from berita.ingest import pipeline  # noqa: E402
from berita.ingest.article import Article  # noqa: E402
from berita.ingest.clean import clean_text  # noqa: E402
from berita.ingest.config import IngestConfig  # noqa: E402
from berita.settings import Settings, load_settings  # noqa: E402
from berita.text import split_sentences  # noqa: E402
from berita.vectorstore.config import StoreConfig  # noqa: E402
from berita.vectorstore.embeddings import load_embeddings  # noqa: E402
from berita.vectorstore.lexical import LexicalIndex  # noqa: E402
from berita.vectorstore.store import PassageStore  # noqa: E402
from tests.telegram_api import BotAPIServer  # noqa: E402

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
    store = PassageStore(StoreConfig.from_settings(settings), embeddings)
    commits: list[float] = []
    commit = store.commit

    def timed_commit() -> None:
        started = time.perf_counter()
        commit()
        commits.append(time.perf_counter() - started)

    store.commit = timed_commit  # type: ignore[method-assign]

    def until_full():
        number = 0
        while store.count() < passages:
            yield from articles(10, pool, rng, number)
            number += 10

    started = time.perf_counter()
    pipeline.store_items(
        until_full(), store, IngestConfig.from_settings(settings)
    )  # commits as `berita ingest` does
    ingest_s = time.perf_counter() - started
    total = store.count()

    started = time.perf_counter()
    pages = list(store.iter_passages(include=("documents",)))
    LexicalIndex.build(
        [pid for page in pages for pid in page["ids"]],
        [text for page in pages for text in page["documents"]],
    )
    build_s = time.perf_counter() - started

    answerer = open_answerer(settings, store)
    latencies = []
    for question in questions:
        started = time.perf_counter()
        answerer.ask(question)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()

    # A running bot, and a new article about a word nothing else has: stored and committed by
    # this process, then asked about (twice a second) until the bot's reply quotes it.
    word = f"zqx{passages}"
    fresh = Article(
        f"fresh-{passages}",
        f"Kode {word} dicatat hari ini oleh petugas gudang. Petugas menyebut {word} sebagai "
        f"kode pengiriman beras. Pengiriman dengan kode {word} tiba pekan depan.",
        published="2026-01-01",
        origin="fresh",
    )
    with running_bot(settings) as (api, bot):
        for question in questions[:20]:
            ask_bot(api, question)
        commits.clear()
        started = time.perf_counter()
        pipeline.store_items([fresh], store, IngestConfig.from_settings(settings))
        answerable_s = None
        while time.perf_counter() - started < 120 and answerable_s is None:
            if word in ask_bot(api, f"Apa itu {word}?"):
                answerable_s = time.perf_counter() - started
            time.sleep(0.5)
        _, bot_peak = memory_mib(bot.pid)
    disk = folder_mib(Path(settings.chroma_path))
    if settings.server_mode:
        disk += folder_mib(settings.lexical_cache_path)
    return [
        f"{total:,}",
        f"{ingest_s:.0f} s ({total / ingest_s:.0f}/s)",
        f"{build_s:.1f}",
        f"{commits[0]:.2f}",
        "not answered in 120 s" if answerable_s is None else f"{answerable_s:.1f}",
        f"{statistics.median(latencies):.0f}",
        f"{percentile(latencies, 0.95):.0f}",
        f"{bot_peak:.0f}",
        f"{disk:.0f}",
    ]


@contextlib.contextmanager
def running_bot(settings: Settings) -> Iterator[tuple[BotAPIServer, subprocess.Popen]]:
    """A real `berita bot` process on the store, through the test Bot API server."""
    api = BotAPIServer()
    base = api.start()
    env = {
        **os.environ,
        "CHROMA_PATH": str(settings.chroma_path),
        "LEXICAL_CACHE_PATH": str(settings.lexical_cache_path),
        "CHROMA_HOST": settings.chroma_host or "",
        "CHROMA_PORT": str(settings.chroma_port),
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": f"{base}/bot",
        "RATE_LIMIT_PER_MINUTE": "1000",
        "BOT_REFRESH_S": "1",
    }
    berita = str(Path(sys.executable).parent / "berita")
    bot = subprocess.Popen(
        [berita, "bot"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        api.wait_for(lambda s: "getUpdates" in s.calls, timeout=120)
        yield api, bot
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(60)
        api.stop()


def ask_bot(api: BotAPIServer, question: str) -> str:
    """The bot's reply to a question ("" when none came in a minute)."""
    before = len(api.replies_to(1))
    api.user_says(question, user_id=1)
    try:
        api.wait_for(lambda s: len(s.replies_to(1)) > before, timeout=60)
    except TimeoutError:
        return ""
    return api.replies_to(1)[-1].text


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
                    print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
                except Exception as error:  # noqa: BLE001 - one size failing keeps the others
                    print(f"failed: {mode} {size}: {error!r}", file=sys.stderr, flush=True)
                finally:
                    if server:
                        server.terminate()
                        server.wait(timeout=30)
                shutil.rmtree(root, ignore_errors=True)
            print(f"done: {mode} {size}", file=sys.stderr, flush=True)

    reader = f"READER on ({base.reader_path.name})" if base.reader else "READER off"
    print(f"\n### Scale ({dt.date.today()}, 2 cores, {reader})\n")
    print(
        table(
            [
                "store",
                "passages",
                "ingest (vectors given)",
                "BM25 full build s",
                "commit of 1 article s",
                "new article answered by the bot in s",
                "p50 ms",
                "p95 ms",
                "bot peak RSS MiB",
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
