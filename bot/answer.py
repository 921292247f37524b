"""Answer step: question -> hybrid retrieval -> the few sentences that answer it, or a refusal."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np

from berita.text import detect_language
from vectorstore.lexical import tokenize
from vectorstore.passages import answer_units
from vectorstore.retrieve import HybridRetriever, RetrievedPassage

NOT_FOUND = {
    "id": "Maaf, artikel yang saya punya tidak memuat jawaban untuk pertanyaan itu.",
    "en": "Sorry, the articles I have do not answer that question.",
}
NO_ARTICLES = {
    "id": "Belum ada artikel yang tersimpan.",
    "en": "No articles have been stored yet.",
}

_MONTHS = (
    "januari|februari|maret|april|mei|juni|juli|agustus|september|oktober|november|desember|"
    "january|february|march|may|june|july|august|october|december"
)
_NUMBER_WORDS = (
    "satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan|sepuluh|sebelas|belas|puluh|ratus|"
    "ribu|juta|miliar|triliun|seratus|seribu"
)
_ANSWER_TYPES = {
    "date": (
        re.compile(r"\b(kapan|kapankah|tanggal berapa|tahun berapa|when|what year|which year)\b"),
        re.compile(rf"\b(1[0-9]{{3}}|20[0-9]{{2}}|{_MONTHS})\b|\d+/\d+", re.IGNORECASE),
    ),
    "number": (
        re.compile(r"\b(berapa|berapakah|how many|how much|how long|how old)\b"),
        re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.IGNORECASE),
    ),
    "name": (
        re.compile(r"\b(siapa|siapakah|who|whom|whose|mana|manakah|where|which)\b"),
        re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][\w'’-]+"),
    ),
}


@dataclass(frozen=True)
class AnswerTuning:
    """Weights of the sentence score and the abstention rule (measured defaults)."""

    sentence_dense: float = 1.0
    sentence_overlap: float = 0.6
    sentence_passage: float = 0.3
    answer_type_bonus: float = 0.15
    sentence_passages: int = 3
    min_dense: float = 0.82
    min_coverage: float = 0.5


@dataclass
class Answer:
    """What `ask` returns: the reply and everything needed to cite and judge it."""

    question: str
    answer: str
    abstained: bool
    language: str
    passages: list[RetrievedPassage]
    citations: list[str]
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Unit:
    """A quotable span of a passage (one sentence or two) with its score."""

    text: str
    passage: RetrievedPassage
    last: int
    score: float

    def overlaps(self, other: _Unit) -> bool:
        """Whether the two spans share a sentence of the same passage."""
        same = self.passage.document.id == other.passage.document.id
        return same and abs(self.last - other.last) <= 1


class Answerer:
    """Answers questions from the stored articles by extracting their best sentences."""

    def __init__(
        self, retriever: HybridRetriever, max_chars: int = 400, tuning: AnswerTuning | None = None
    ) -> None:
        self.retriever = retriever
        self.max_chars = max_chars
        self.tuning = tuning or AnswerTuning()

    def ask(self, question: str, k: int = 5) -> Answer:
        """Answer one question from the top `k` passages."""
        started = time.perf_counter()
        question = " ".join(question.split())
        language = detect_language(question)
        query_vector = self.retriever.embed_question(question)
        embedded = time.perf_counter()
        passages = self.retriever.retrieve(question, max(k, 1), language, query_vector)
        retrieved = time.perf_counter()
        if not passages:
            text, abstained, cited = NO_ARTICLES[language], True, []
        else:
            units = self._score_units(question, query_vector, passages)
            if self._supported(question, passages, units):
                chosen = self._compose(units)
                text = " ".join(s.text for s in chosen)
                cited = list(dict.fromkeys(s.passage.document.metadata["doc_id"] for s in chosen))
                abstained = False
            else:
                text, abstained, cited = NOT_FOUND[language], True, []
        done = time.perf_counter()
        return Answer(
            question=question,
            answer=text,
            abstained=abstained,
            language=language,
            passages=passages[:k],
            citations=cited,
            timings_ms={
                "embed": round((embedded - started) * 1000, 1),
                "retrieve": round((retrieved - embedded) * 1000, 1),
                "answer": round((done - retrieved) * 1000, 1),
                "total": round((done - started) * 1000, 1),
            },
        )

    def _score_units(
        self, question: str, query_vector: np.ndarray, passages: list[RetrievedPassage]
    ) -> list[_Unit]:
        tuning = self.tuning
        top = passages[: tuning.sentence_passages]
        pieces = [(p, last, text) for p in top for last, text in answer_units(p.document)]
        if not pieces:
            return []
        vectors = np.asarray(
            self.retriever.store.embeddings.embed_documents([text for _, _, text in pieces]),
            dtype=np.float32,
        )
        dense = vectors @ query_vector
        low, span = float(dense.min()), float(dense.max() - dense.min()) or 1.0
        terms = set(tokenize(question))
        expected = _expected_type(question)
        best_passage = top[0].score or 1.0
        scored = []
        for (passage, last, text), similarity in zip(pieces, dense, strict=True):
            overlap = len(terms & set(tokenize(text))) / len(terms) if terms else 0.0
            has_type = bool(expected and expected.search(text))
            score = (
                tuning.sentence_dense * (float(similarity) - low) / span
                + tuning.sentence_overlap * overlap
                + tuning.sentence_passage * passage.score / best_passage
                + tuning.answer_type_bonus * has_type
            )
            scored.append(_Unit(text, passage, last, score))
        scored.sort(key=lambda unit: unit.score, reverse=True)
        return scored

    def _supported(
        self, question: str, passages: list[RetrievedPassage], units: list[_Unit]
    ) -> bool:
        if not units:
            return False
        terms = set(tokenize(question))
        covered = set(tokenize(passages[0].document.page_content))
        coverage = len(terms & covered) / len(terms) if terms else 0.0
        return passages[0].dense >= self.tuning.min_dense or coverage >= self.tuning.min_coverage

    def _compose(self, units: list[_Unit]) -> list[_Unit]:
        """The best span, then the next best that adds a sentence, within the length limit."""
        best = units[0]
        if len(best.text) > self.max_chars:
            return [_Unit(_shorten(best.text, self.max_chars), best.passage, best.last, best.score)]
        chosen = [best]
        for candidate in units[1:6]:
            fits = len(best.text) + 1 + len(candidate.text) <= self.max_chars
            if fits and not candidate.overlaps(best):
                chosen.append(candidate)
                break
        return chosen


def _expected_type(question: str) -> re.Pattern[str] | None:
    lowered = question.casefold()
    for cue, answer_pattern in _ANSWER_TYPES.values():
        if cue.search(lowered):
            return answer_pattern
    return None


def _shorten(text: str, limit: int) -> str:
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"
