"""`berita eval`: ingest a suite's corpus into a temporary store, ask its questions (and its
conversations, turn by turn), score them."""

from __future__ import annotations

import json
import math
import statistics
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from berita.answer.answerer import Answer, Answerer
from berita.answer.conversation import Threads
from berita.settings import Settings
from berita.text import normalize, split_sentences
from berita.vectorstore.store import PassageStore


@dataclass(frozen=True)
class Question:
    """One question of a suite."""

    id: str
    question: str
    answers: list[str]
    doc_id: str | None
    lang: str
    all_of: list[str]


TRAINED_SPLITS = ("facqa-train",)  # suites' questions the reader was trained on (id prefixes)


def held_out(question_id: str) -> bool:
    """Whether a suite question was kept out of the reader's training data."""
    return not question_id.startswith(TRAINED_SPLITS)


def present_suites(eval_dir: Path, names: Iterable[str]) -> Iterator[tuple[str, Path]]:
    """(name, folder) of each named suite under `eval_dir`; one line printed for each missing."""
    for name in names:
        suite = eval_dir / name
        if (suite / "questions.jsonl").is_file():
            yield name, suite
        else:
            print(f"skipped {name}: no suite at {suite} (pass --eval DIR)")


def held_out_questions(suite: Path, limit: int | None = None) -> list[Question]:
    """The first `limit` of a suite's questions the reader never trained on (FacQA's valid
    split, not its train split)."""
    return [q for q in load_questions(suite / "questions.jsonl") if held_out(q.id)][:limit]


def load_questions(path: Path) -> list[Question]:
    """Read a suite's questions.jsonl."""
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            questions.append(_question(str(record["id"]), record))
    return questions


def _question(question_id: str, record: dict[str, Any]) -> Question:
    return Question(
        id=question_id,
        question=record["question"],
        answers=record.get("answers") or [],
        doc_id=record.get("doc_id"),
        lang=record.get("lang", ""),
        all_of=record.get("all_of") or [],
    )


@dataclass(frozen=True)
class Conversation:
    """Questions asked in order in one chat: the first stands alone, the rest follow it up."""

    id: str
    turns: list[Question]


def load_conversations(path: Path) -> list[Conversation]:
    """Read a suite's conversations.jsonl (`{"id", "turns": [question, ...]}` a line)."""
    conversations = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            turns = [
                _question(f"{record['id']}/{number}", turn)
                for number, turn in enumerate(record["turns"], start=1)
            ]
            conversations.append(Conversation(str(record["id"]), turns))
    return conversations


def ask_conversations(
    answerer: Answerer, conversations: list[Conversation], k: int = 10
) -> list[list[Answer]]:
    """Each conversation's answers, its turns asked in order as one thread."""
    threads = Threads(timeout_s=math.inf)
    asked = []
    for conversation in conversations:
        asked.append(
            [
                answerer.ask_in(threads, conversation.id, turn.question, k)
                for turn in conversation.turns
            ]
        )
    return asked


def conversation_metrics(
    conversations: list[Conversation], asked: list[list[Answer]]
) -> dict[str, float]:
    """Answer hit of first turns and of follow-ups apart; of the follow-ups that move to
    another article, the share citing it first; of those no article answers, the share
    refused."""
    first, follow_ups, moved, unanswerable = [], [], [], []
    for conversation, answers in zip(conversations, asked, strict=True):
        previous = None
        for number, (turn, answer) in enumerate(zip(conversation.turns, answers, strict=True)):
            if turn.doc_id is None:
                unanswerable.append(answer.abstained)
            elif number == 0:
                first.append(answer_hit(turn, answer))
            else:
                follow_ups.append(answer_hit(turn, answer))
                if previous and turn.doc_id != previous:
                    moved.append(answer.citations[:1] == [turn.doc_id])
            previous = turn.doc_id or previous
    shares = {
        "conversation_first_hit": first,
        "follow_up_hit": follow_ups,
        "follow_up_moved_cited": moved,
        "follow_up_refused": unanswerable,
    }
    return {name: sum(values) / len(values) for name, values in shares.items() if values}


def ranked_doc_ids(answer: Answer) -> list[str]:
    """Distinct doc_ids of the ranked passages, in rank order."""
    return list(dict.fromkeys(p.document.metadata["doc_id"] for p in answer.passages))


def answer_hit(question: Question, answer: Answer, window: int = 400) -> bool:
    """Whether the first `window` characters of the answer hold an acceptable answer."""
    if answer.abstained:
        return False
    head = normalize(answer.answer[:window])
    any_ok = any(normalize(a) and normalize(a) in head for a in question.answers)
    all_ok = all(normalize(a) in head for a in question.all_of)
    return any_ok and all_ok


def retrieval_metrics(rankings: list[tuple[str, list[str]]]) -> dict[str, float]:
    """Recall@1/5/10 and MRR@10 of (gold doc_id, distinct ranked doc_ids) pairs."""
    ranks = [docs.index(gold) + 1 if gold in docs else None for gold, docs in rankings]
    metrics = {
        f"recall@{k}": sum(r is not None and r <= k for r in ranks) / len(ranks) for k in (1, 5, 10)
    }
    metrics["mrr@10"] = sum(1 / r for r in ranks if r is not None and r <= 10) / len(ranks)
    return metrics


def score(pairs: Iterable[tuple[Question, Answer]]) -> dict[str, Any]:
    """The suite's metrics, computed as `shared/eval/README.md` defines them."""
    pairs = list(pairs)
    answerable = [(q, a) for q, a in pairs if q.doc_id]
    unanswerable = [(q, a) for q, a in pairs if not q.doc_id]
    metrics: dict[str, Any] = {"questions": len(pairs), "answerable": len(answerable)}
    if answerable:
        metrics.update(retrieval_metrics([(q.doc_id, ranked_doc_ids(a)) for q, a in answerable]))
        metrics["answer_hit"] = sum(answer_hit(q, a) for q, a in answerable) / len(answerable)
        first_sentence = sum(
            answer_hit(q, replace(a, answer=(split_sentences(a.answer) or [""])[0]))
            for q, a in answerable
        )
        metrics["first_sentence_hit"] = first_sentence / len(answerable)
        metrics["answered"] = sum(not a.abstained for _, a in answerable) / len(answerable)
    if unanswerable:
        metrics["unanswerable"] = len(unanswerable)
        metrics["abstained"] = sum(a.abstained for _, a in unanswerable) / len(unanswerable)
    replies = [len(a.answer) for _, a in pairs if not a.abstained]
    if replies:
        metrics["median_chars"] = statistics.median(replies)
    latencies = sorted(a.timings_ms["total"] for _, a in pairs)
    if latencies:
        metrics["latency_p50_ms"] = statistics.median(latencies)
        metrics["latency_p95_ms"] = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    return metrics


@contextmanager
def temporary_store(corpus: Path, settings: Settings) -> Iterator[tuple[Settings, PassageStore]]:
    """A fresh embedded store in a temporary folder holding `corpus` (a .jsonl file)."""
    from berita.answer.components import open_store
    from berita.ingest.config import IngestConfig
    from berita.ingest.pipeline import ingest

    with tempfile.TemporaryDirectory(prefix="berita-eval-") as folder:
        local = settings.model_copy(
            update={"chroma_path": Path(folder), "chroma_host": None, "chroma_collection": "eval"}
        )
        store = open_store(local, bulk=True)
        summary = ingest([str(corpus)], store, IngestConfig.from_settings(local))
        if summary.failures:
            raise RuntimeError(f"{summary.failed} corpus items failed: {summary.failures[0]}")
        yield local, store


def asked_without_gold(
    settings: Settings,
    store: PassageStore,
    suite: Path,
    questions: list[Question],
    batch: int = 150,
    k: int = 10,
) -> Iterator[tuple[Question, Answer]]:
    """Each answerable question asked while its gold article is out of the store (removed
    `batch` articles at a time, then ingested again from `suite/corpus.jsonl`)."""
    from berita.answer.components import open_answerer
    from berita.ingest.config import IngestConfig
    from berita.ingest.pipeline import ingest

    corpus = {
        json.loads(line)["id"]: line
        for line in (suite / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    by_doc: dict[str, list[Question]] = defaultdict(list)
    for question in questions:
        if question.doc_id:
            by_doc[question.doc_id].append(question)
    docs = sorted(by_doc)
    for start in range(0, len(docs), batch):
        group = docs[start : start + batch]
        store.remove(group)
        store.commit()
        answerer = open_answerer(settings, store)
        for doc in group:
            for question in by_doc[doc]:
                yield question, answerer.ask(question.question, k=k)
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as handle:
            handle.write("\n".join(corpus[doc] for doc in group) + "\n")
        ingest([handle.name], store, IngestConfig.from_settings(settings))
        Path(handle.name).unlink()


def evaluate(
    suite: Path,
    settings: Settings,
    k: int = 10,
    limit: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Any], list[tuple[Question, Answer]]]:
    """Ingest `suite/corpus.jsonl` into a fresh temporary store and ask every question."""
    from berita.answer.components import open_answerer

    questions = load_questions(suite / "questions.jsonl")[:limit]
    conversations_file = suite / "conversations.jsonl"
    conversations = load_conversations(conversations_file) if conversations_file.is_file() else []
    progress = on_progress or (lambda done, total: None)
    with temporary_store(suite / "corpus.jsonl", settings) as (local, store):
        answerer = open_answerer(local, store)
        pairs = []
        for number, question in enumerate(questions, start=1):
            pairs.append((question, answerer.ask(question.question, k=k)))
            progress(number, len(questions))
        asked = ask_conversations(answerer, conversations, k)
    metrics = score(pairs)
    if conversations:
        metrics["conversations"] = len(conversations)
        metrics.update(conversation_metrics(conversations, asked))
    metrics["suite"] = suite.name
    return metrics, pairs
