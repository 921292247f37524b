"""Retrieve step: hybrid search, dense (Chroma) and lexical (BM25) scores fused per passage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.documents import Document

from berita.vectorstore.crosslingual import query_terms
from berita.vectorstore.fusion import fuse
from berita.vectorstore.store import PassageStore

if TYPE_CHECKING:
    from langchain_core.retrievers import BaseRetriever

# A question that asks for the newest news ("apa kabar terbaru ...", "latest on ...").
_WANTS_LATEST = re.compile(
    r"\b(terbaru|terkini|paling baru|baru-baru ini|latest|newest|most recent|recent(ly)?)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class FusionWeights:
    """How much the lexical side counts, by question language (the dense side counts 1), and
    how much a passage's recency counts when the question asks for the latest news."""

    lexical_id: float = 1.0
    lexical_en: float = 0.4
    candidates: int = 50
    recency: float = 0.5

    def lexical(self, lang: str) -> float:
        """The lexical side's weight for a question in `lang` ("en" or Indonesian)."""
        return self.lexical_en if lang == "en" else self.lexical_id


@dataclass(frozen=True)
class RetrievedPassage:
    """A passage with its fused score, the two scores it came from and, once a reader has read
    it, the reader's probability that it answers the question."""

    document: Document
    score: float
    dense: float
    lexical: float
    reader: float | None = None

    @property
    def strength(self) -> float:
        """How strongly the passage is believed to answer: the reader's view, else retrieval's."""
        return self.score if self.reader is None else self.reader


class HybridRetriever:
    """Question -> ranked passages, fusing dense and BM25 scores (`vectorstore.fusion`).
    `as_langchain()` gives it as a LangChain retriever, for any LangChain chain."""

    def __init__(self, store: PassageStore, weights: FusionWeights | None = None) -> None:
        self.store = store
        self.weights = weights or FusionWeights()

    def as_langchain(self, k: int = 5) -> BaseRetriever:
        """This retriever as LangChain's `BaseRetriever`: `invoke(question)` gives the `k`
        best passages as documents, their scores in each one's metadata (LangChain's
        runnables are imported here: ~0.5 s that answering does not need)."""
        from berita.vectorstore.langchain import LangChainRetriever

        return LangChainRetriever(retriever=self, k=k)

    def embed_question(self, question: str) -> np.ndarray:
        """The question's vector (unit length)."""
        return np.asarray(self.store.embeddings.embed_query(question), dtype=np.float32)

    def retrieve(
        self, question: str, k: int, lang: str, query_vector: np.ndarray | None = None
    ) -> list[RetrievedPassage]:
        """The `k` best passages for the question, best first."""
        if query_vector is None:
            query_vector = self.embed_question(question)
        n = self.weights.candidates
        dense_hits = self.store.dense_search(query_vector.tolist(), n)
        documents = {doc.id: doc for doc, _ in dense_hits}
        dense = {doc.id: score for doc, score in dense_hits}

        bm25 = self.store.lexical().search_terms(query_terms(question, lang), n)
        lexical = {pid: score / bm25[0][1] for pid, score in bm25}
        if lexical:
            missing = [pid for pid in lexical if pid not in documents]
            for doc, vector in self.store.get_passages_with_vectors(missing):
                documents[doc.id] = doc
                dense[doc.id] = float(np.dot(vector, query_vector))
        if not documents:
            return []

        weight = self.weights.lexical(lang)
        fused = fuse(dense, lexical, weight)
        recency = _recency(documents) if wants_latest(question) else {}
        ranked = [
            RetrievedPassage(
                document=documents[pid],
                score=fused[pid] + self.weights.recency * recency.get(pid, 0.0),
                dense=dense[pid],
                lexical=lexical.get(pid, 0.0),
            )
            for pid in documents
        ]
        ranked.sort(key=lambda passage: passage.score, reverse=True)
        return ranked[:k]


def wants_latest(question: str) -> bool:
    """Whether the question asks for the newest news (then publication dates count)."""
    return bool(_WANTS_LATEST.search(question))


def _recency(documents: dict[str, Document]) -> dict[str, float]:
    """Each dated passage's publication date scaled to 0 (oldest candidate) .. 1 (newest)."""
    days = {}
    for pid, document in documents.items():
        try:
            days[pid] = date.fromisoformat(str(document.metadata.get("published", ""))[:10])
        except ValueError:
            continue
    if len(set(days.values())) < 2:
        return {}
    oldest, newest = min(days.values()), max(days.values())
    return {pid: (day - oldest).days / (newest - oldest).days for pid, day in days.items()}
