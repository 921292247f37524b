"""Answer step: question -> hybrid retrieval -> the few sentences that answer it, or a refusal."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np
from langchain_core.documents import Document

from berita.answer.conversation import Threads, Turn, leans_on_thread
from berita.answer.llm import AnswerWriter
from berita.answer.sentences import (
    LIST_QUESTION,
    LISTING,
    PICK_WEIGHTS,
    KindAsked,
    Sentence,
    answers_kind,
    compose_quote,
    expected_type,
    full_names,
    key_terms,
    points_back,
    share,
)
from berita.reader.refusal import Refusal, log_odds
from berita.text import detect_language, normalize, without_lone_surrogates
from berita.vectorstore.crosslingual import question_terms
from berita.vectorstore.fusion import reader_order
from berita.vectorstore.lexical import tokenize
from berita.vectorstore.passages import (
    article_length,
    article_sentences,
    passage_body,
    passage_sentences,
    passage_text,
    quotable_spans,
    span_text,
)
from berita.vectorstore.retrieve import HybridRetriever, RetrievedPassage, wants_latest

if TYPE_CHECKING:
    from berita.vectorstore.store import PassageStore

T = TypeVar("T")
NOT_FOUND = {
    "id": "Maaf, artikel yang saya punya tidak memuat jawaban untuk pertanyaan itu.",
    "en": "Sorry, the articles I have do not answer that question.",
}
NO_ARTICLES = {
    "id": "Belum ada artikel yang tersimpan.",
    "en": "No articles have been stored yet.",
}
SOURCES_HEADING = {"id": "Sumber", "en": "Sources"}


# Log-odds that the top passages answer the question, per question language: bias, share of
# the question's words found in the top passage (an English word also by the Indonesian words
# it translates to; weighted by idf + 2, which keeps small collections sane), share of its
# names/numbers found there, best sentence-span cosine. Fitted by logistic regression with
# e5-small-q4: Indonesian on FacQA and IDK-MRC dev, English on FacQA-en dev's questions with
# and without their article (2026-11-28, READER=off).
SUPPORT_WEIGHTS = {
    "id": (-18.55, 3.85, 0.65, 17.58),
    "en": (-25.60, 3.57, 0.94, 28.04),
}
IDF_SMOOTHING = 2.0


@dataclass(frozen=True)
class AnswerTuning:
    """Weights of the span score and the abstention threshold (measured defaults)."""

    span_dense: float = 1.0
    span_overlap: float = 0.6
    span_passage: float = 0.6
    answer_type_bonus: float = 0.15
    span_passages: int = 3
    extra_spans: int = 3
    abstain_threshold: float = -1.25


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
    evidence: dict[str, float] = field(default_factory=dict)
    follows: Turn | None = None  # the turn of its thread a follow-up was read with
    asked_as: str = ""  # the standalone question the LLM rewrote a follow-up into
    query_vector: np.ndarray | None = field(default=None, repr=False)

    def turn(self) -> Turn:
        """This question and answer as its thread remembers them."""
        vector = None if self.query_vector is None else self.query_vector.astype(np.float16)
        if self.abstained or not self.citations:
            return Turn(self.question, vector=vector)
        return Turn(self.question, self.answer, self.citations[0], vector)

    @property
    def sources_heading(self) -> str:
        """The heading above the cited articles, in the answer's language."""
        return SOURCES_HEADING.get(self.language, SOURCES_HEADING["en"])

    def cited(self) -> list[dict]:
        """The metadata of each article the answer cites, in citation order."""
        by_doc = {p.document.metadata["doc_id"]: p.document.metadata for p in self.passages}
        return [by_doc[doc_id] for doc_id in self.citations if doc_id in by_doc]


@dataclass(frozen=True)
class _Span:
    """Sentences first..last of a passage, with the span's score and cosine to the question."""

    passage: RetrievedPassage
    sentences: list[str]
    first: int
    last: int
    score: float
    similarity: float

    @property
    def text(self) -> str:
        return span_text(self.sentences, self.first, self.last)

    @property
    def quoted(self) -> list[str]:
        """The span's sentences."""
        return self.sentences[self.first : self.last + 1]

    def touches(self, other: _Span) -> bool:
        """Same passage, and the sentence ranges overlap or meet."""
        return (
            self.passage.document.id == other.passage.document.id
            and self.first <= other.last + 1
            and other.first <= self.last + 1
        )

    def joined(self, other: _Span) -> _Span:
        """The contiguous span covering both."""
        return replace(self, first=min(self.first, other.first), last=max(self.last, other.last))


class ArticlesRead:
    """The stored articles one question reads: each fetched, split and tokenized once."""

    def __init__(self, store: PassageStore) -> None:
        self._store = store
        self._passages: dict[str, list[Document]] = {}
        self._sentences: dict[str, list[str]] = {}
        self._sentence_tokens: dict[str, list[set[str]]] = {}
        self._tokens: dict[str, set[str]] = {}

    def passages(self, doc_id: str) -> list[Document]:
        """Every stored passage of the article, in its order."""
        if doc_id not in self._passages:
            self._passages[doc_id] = self._store.article_passages(doc_id)
        return self._passages[doc_id]

    def sentences(self, doc_id: str) -> list[str]:
        """The article's sentences."""
        if doc_id not in self._sentences:
            self._sentences[doc_id] = article_sentences(self.passages(doc_id))
        return self._sentences[doc_id]

    def sentence_tokens(self, doc_id: str) -> list[set[str]]:
        """The lexical tokens of each of the article's sentences."""
        if doc_id not in self._sentence_tokens:
            sentences = self.sentences(doc_id)
            self._sentence_tokens[doc_id] = [set(tokenize(s)) for s in sentences]
        return self._sentence_tokens[doc_id]

    def tokens(self, doc_id: str) -> set[str]:
        """The lexical tokens of the article's sentences, all together."""
        if doc_id not in self._tokens:
            self._tokens[doc_id] = set().union(*self.sentence_tokens(doc_id))
        return self._tokens[doc_id]


class PassageReader(Protocol):
    """What reads a question with passages: the probability that each answers it."""

    def probabilities(self, question: str, passages: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class ReaderTuning:
    """How the reader is used: how many candidates it reads (and `more` after them when the
    best of those has a probability below `more_below`), how many `sentences` of the best
    `articles` it reads to quote the one that answers when the best article is at least
    `long_article` characters long (0 sentences: always quote the best spans, as without a
    reader), and the refusal rules by question language ("id" stands in for any language
    without its own): `refusal` for spans, `sentence_refusal` for sentences read (`refusal`
    when empty)."""

    reader: PassageReader
    candidates: int
    refusal: dict[str, Refusal]
    more: int = 0
    more_below: float = 0.0
    sentences: int = 0
    articles: int = 2
    long_article: int = 0
    sentence_refusal: dict[str, Refusal] = field(default_factory=dict)


class Answerer:
    """Answers questions from the stored articles by extracting their best sentences."""

    def __init__(
        self,
        retriever: HybridRetriever,
        max_chars: int = 400,
        tuning: AnswerTuning | None = None,
        writer: AnswerWriter | None = None,
        reading: ReaderTuning | None = None,
    ) -> None:
        self.retriever = retriever
        self.max_chars = max_chars
        self.tuning = tuning or AnswerTuning()
        self.writer = writer
        self.reading = reading

    def ask(
        self,
        question: str,
        k: int = 5,
        context: Turn | None = None,
        history: tuple[Turn, ...] = (),
    ) -> Answer:
        """Answer one question from the top `k` passages (written by the LLM when one is set);
        a follow-up is read with `context`, its thread's `Threads.context` (and rewritten by
        the LLM from the thread's `history`, `context` alone when none is given)."""
        standalone = self.standalone(question, context, history)
        return self.generate(self.extract(question, k, context, standalone))

    def ask_in(self, threads: Threads, key: Hashable, question: str, k: int = 5) -> Answer:
        """Answer the next question of thread `key`: read with its context, then remembered."""
        answer = self.ask(question, k, threads.context(key), threads.history(key))
        threads.add(key, answer.turn())
        return answer

    def standalone(
        self, question: str, context: Turn | None, history: tuple[Turn, ...] = ()
    ) -> str:
        """With an LLM, a question that leans on `context` rewritten into one that stands
        alone ("Kapan itu terjadi?" -> "Kapan banjir bandang di Garut terjadi?"), from the
        thread's turns (`history`, or `context` alone); "" for a question that stands alone,
        without an LLM, or when the LLM failed."""
        if self.writer is None or context is None or not leans_on_thread(question):
            return ""
        turns = [(turn.question, turn.answer) for turn in history or (context,)]
        return self.writer.standalone_question(question, turns) or ""

    def extract(
        self, question: str, k: int = 5, context: Turn | None = None, standalone: str = ""
    ) -> Answer:
        """The extractive answer: the passages' best sentences, or a refusal. A question that
        leans on `context` ("Kapan itu terjadi?") is answered as `standalone` when the LLM
        rewrote it so; otherwise it is retrieved with that turn's question and answer before
        it (and its vector blended in) and read with them after it, the thread's article
        first (`_thread_article`). The reply's language is the question's."""
        started = time.perf_counter()
        question = " ".join(without_lone_surrogates(question).split())
        language = detect_language(question)
        follows = context if context and leans_on_thread(question) else None
        asked = question
        if follows and standalone:
            asked = " ".join(without_lone_surrogates(standalone).split())
        query, read_as = asked, asked
        in_thread = follows if follows and not standalone else None
        articles = ArticlesRead(self.retriever.store)
        moves = in_thread is not None and self._moves_on(question, in_thread, articles)
        if in_thread and moves:  # "Kalau di Sumedang?": the earlier answer is another place's
            query = f"{in_thread.question} {question}"
            read_as = f"{question} {in_thread.question}"
        elif in_thread:
            query = f"{in_thread.question} {in_thread.answer} {question}"
            read_as = f"{question} {in_thread.question} {in_thread.answer}"
        query_vector = self._query_vector(query, question, in_thread)
        embedded = time.perf_counter()
        depth = max(k, self.tuning.span_passages, 2)
        if self.reading:
            depth = max(depth, self.reading.candidates + self.reading.more)
        passages = distinct_passages(self.retriever.retrieve(query, depth, language, query_vector))
        retrieved = time.perf_counter()
        evidence: dict[str, float] = {}
        if not passages:
            text, abstained, cited = NO_ARTICLES[language], True, []
        elif not self._knows_a_word(asked, language):  # "(?i)", "???", "12 34"
            text, abstained, cited = NOT_FOUND[language], True, []
        else:
            reader_logit = None
            thread_article = self._thread_article(None if moves else in_thread, articles)
            top = passages[0].document.metadata["doc_id"]
            if thread_article:
                passages = self._article_first(thread_article, passages, articles)
            # a paragraph's passages are re-ranked by the reader first; a long article's
            # sentences are read straight from retrieval's order (re-ranking gains nothing there)
            elif self.reading and not self._reads_sentences(top, articles):
                passages, reader_logit = read(self.reading, read_as, passages)
            reads_sentences = self._reads_sentences(
                passages[0].document.metadata["doc_id"], articles
            )
            if reads_sentences:
                thread = in_thread if thread_article else None
                quotes = self._read_sentences(
                    asked, language, passages[:k], articles, read_as, thread
                )
                similarity = self._similarity(query_vector, [q.text for q in quotes[:3]])
                if thread and quotes:  # the sentence it would quote, not another article's
                    reader_logit = quotes[0].logit
                else:
                    reader_logit = max((q.logit for q in quotes), default=reader_logit)
                chosen_text, cited = compose_quote(asked, quotes, self.max_chars)
                # the kind asked is looked for in the sentences the reader ranks first, not
                # in a later one quoted for holding it ("... Pashinyan Maret." is no answer
                # to when Peskov replied)
                checked_text, _ = compose_quote(
                    asked, quotes, self.max_chars, runner_up_of_kind=False
                )
                if quotes:
                    passages = self._article_first(
                        doc_id_of(quotes[0]), passages, articles, quotes[0].text
                    )
            else:
                spans = self._score_spans(asked, query_vector, passages)
                similarity = max((span.similarity for span in spans), default=None)
                chosen = self._compose(spans) if spans else []
                chosen_text = checked_text = " ".join(quoted_sentences(chosen))
                cited = list(dict.fromkeys(s.passage.document.metadata["doc_id"] for s in chosen))
            # "Kapan ...?" answered by a quote without a date, or a question about someone a
            # long article quoted never names (`_says_no_name`; a paragraph may be an excerpt
            # whose article names them elsewhere): the fact is missing
            of_kind = answers_kind(asked, checked_text, language)
            names_said = not (
                reads_sentences and self._says_no_name(asked, language, cited, articles)
            )
            if similarity is not None:
                evidence = self._evidence(
                    asked, language, passages, similarity, reader_logit, reads_sentences
                )
                evidence |= {"of_kind": float(of_kind), "names_said": float(names_said)}
            confident = bool(evidence) and evidence["confidence"] >= evidence["threshold"]
            if confident and of_kind and names_said:
                text = _shorten(chosen_text, self.max_chars)
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
            evidence=evidence,
            follows=follows,
            asked_as=asked if asked != question else "",
            query_vector=query_vector,
        )

    def generate(self, answer: Answer) -> Answer:
        """The answer the LLM writes from the same passages; the extractive answer as it was
        when there is no LLM or no passage, the refusal rule refused (the model is not asked),
        or the LLM failed or cited nothing it was given."""
        if self.writer is None or not answer.passages or answer.abstained:
            return answer
        started = time.perf_counter()
        written = self.writer.write(
            answer.asked_as or answer.question,
            answer.language,
            evidence_first(answer),
            self.max_chars,
        )
        took = round((time.perf_counter() - started) * 1000, 1)
        timings = answer.timings_ms | {
            "generate": took,
            "total": round(answer.timings_ms["total"] + took, 1),
        }
        if written is None:
            return replace(answer, timings_ms=timings)
        if written.abstained:
            text = NOT_FOUND[answer.language]
        else:
            text = _shorten(written.text, self.max_chars)
        return replace(
            answer,
            answer=text,
            abstained=written.abstained,
            citations=written.cited,
            timings_ms=timings,
        )

    def _score_spans(
        self, question: str, query_vector: np.ndarray, passages: list[RetrievedPassage]
    ) -> list[_Span]:
        tuning = self.tuning
        spans = []
        for passage in passages[: tuning.span_passages]:
            sentences, quotable = quotable_spans(passage.document)
            spans += [(passage, sentences, first, last, text) for first, last, text in quotable]
        if not spans:
            return []
        texts = [text for *_, text in spans]
        vectors = np.asarray(self.retriever.store.embeddings.embed_documents(texts), np.float32)
        dense = vectors @ query_vector
        low, width = float(dense.min()), float(dense.max() - dense.min()) or 1.0
        terms = set(tokenize(question))
        expected = expected_type(question)
        best_passage = max(p.strength for p in passages[: tuning.span_passages]) or 1.0
        scored = []
        for (passage, sentences, first, last, text), similarity in zip(spans, dense, strict=True):
            overlap = len(terms & set(tokenize(text))) / len(terms) if terms else 0.0
            has_type = bool(expected and expected.search(text))
            score = (
                tuning.span_dense * (float(similarity) - low) / width
                + tuning.span_overlap * overlap
                + tuning.span_passage * passage.strength / best_passage
                + tuning.answer_type_bonus * has_type
            )
            scored.append(_Span(passage, sentences, first, last, score, float(similarity)))
        scored.sort(key=lambda span: span.score, reverse=True)
        return scored

    def _evidence(
        self,
        question: str,
        language: str,
        passages: list[RetrievedPassage],
        similarity: float,
        reader_logit: float | None,
        sentences: bool = False,
    ) -> dict[str, float]:
        """Whether the passages answer: the support log-odds, the reader's best logit when read,
        and the refusal rule's confidence beside the threshold it must reach (the rule fitted
        for the `sentences` read or the spans quoted; without a reader the rule is the support
        alone, against `AnswerTuning.abstain_threshold`)."""
        support = self.support(question, language, passages, similarity)
        evidence = {"support": support}
        if self.reading is None or reader_logit is None:  # the support alone
            rule = Refusal.support_alone(self.tuning.abstain_threshold)
            reader_logit = 0.0
        else:
            rules = (sentences and self.reading.sentence_refusal) or self.reading.refusal
            rule = rules.get(language, rules["id"])
            evidence["reader"] = reader_logit
        confidence = rule.confidence(reader_logit, support)
        return evidence | {"confidence": confidence, "threshold": rule.threshold}

    def support(
        self, question: str, language: str, passages: list[RetrievedPassage], similarity: float
    ) -> float:
        """Log-odds that the passages hold the answer (SUPPORT_WEIGHTS over three signals of
        the top passage and the best quotable text's cosine to the question, `similarity`)."""
        found = set(tokenize(passages[0].document.page_content))
        coverage = share(self._weighted_terms(question, language), found)
        keys = key_terms(question)
        key_coverage = len(keys & found) / len(keys) if keys else 1.0
        signals = (1.0, coverage, key_coverage, similarity)
        weights = SUPPORT_WEIGHTS.get(language, SUPPORT_WEIGHTS["id"])
        return sum(w * x for w, x in zip(weights, signals, strict=True))

    def _knows_a_word(self, question: str, language: str) -> bool:
        """Whether a word of the question (or, asked in English, a word it translates to) is
        in a stored passage: a question of no word, or of words no article uses, is refused."""
        index = self.retriever.store.lexical()
        terms = question_terms(question, language)
        return any(index.says(token) for word in terms for token in word)

    def _weighted_terms(self, question: str, language: str) -> list[tuple[frozenset[str], float]]:
        """The question's words (`question_terms`), each weighted by its rarest token's idf
        plus IDF_SMOOTHING, which keeps small collections sane."""
        index = self.retriever.store.lexical()
        return [
            (word, max(index.idf(token) for token in word) + IDF_SMOOTHING)
            for word in question_terms(question, language)
        ]

    def _query_vector(self, query: str, question: str, thread: Turn | None) -> np.ndarray:
        """The vector to retrieve with: the query's, or for a follow-up read in its thread,
        the follow-up's own blended with the vector its thread's turn was retrieved with
        (embedding the short follow-up costs what a question alone does)."""
        if thread is None or thread.vector is None:
            return self.retriever.embed_question(query)
        blended = self.retriever.embed_question(question) + thread.vector
        return blended / np.linalg.norm(blended)

    def _moves_on(self, question: str, thread: Turn, articles: ArticlesRead) -> bool:
        """Whether a follow-up names something (a name, a number) that other articles say and
        its thread's article never does: "Kalau di Sumedang?" after an answer about Garut."""
        names = self._known_names(question)
        if not names or not thread.doc_id:
            return False
        return not names <= articles.tokens(thread.doc_id)

    def _says_no_name(
        self, question: str, language: str, doc_ids: list[str], articles: ArticlesRead
    ) -> bool:
        """Whether the question names someone or something in two words or more (`full_names`)
        that stored articles say, and the quoted articles (`doc_ids`) say none of these names
        by any of its words (an English word also by its translations): "Siti Fadilah Supari"
        asked of an article on another trial. A question naming two articles' subjects is
        answered from the one that says its name."""
        names = full_names(question)
        if not names or not doc_ids:  # most questions: no article is tokenized
            return False
        index = self.retriever.store.lexical()
        said = set().union(*(articles.tokens(doc_id) for doc_id in doc_ids))
        known = False
        for name in names:
            words = [w for w in question_terms(name, language) if any(map(index.says, w))]
            if any(word & said for word in words):
                return False
            known = known or bool(words)
        return known

    def _known_names(self, question: str) -> set[str]:
        """The question's names and numbers that some stored article says (an English word
        the Indonesian articles never use tells nothing about which article is meant)."""
        index = self.retriever.store.lexical()
        return set(filter(index.says, key_terms(question)))

    def _thread_article(self, thread: Turn | None, articles: ArticlesRead) -> str:
        """The article a follow-up is read in first: its thread's, when that one is read
        sentence by sentence ("" otherwise). The thread says which article the question is
        about, so the reader reads its sentences and the best other article's at once,
        instead of re-ranking passages first."""
        if thread is None or not self._reads_sentences(thread.doc_id, articles):
            return ""
        return thread.doc_id

    @staticmethod
    def _article_first(
        doc_id: str, passages: list[RetrievedPassage], articles: ArticlesRead, sentence: str = ""
    ) -> list[RetrievedPassage]:
        """The passages with the article's best one first (the best that holds `sentence`,
        when given: the one quoted), taken from its stored ones when retrieval missed it."""

        def wanted(passage: RetrievedPassage) -> bool:
            document = passage.document
            return document.metadata["doc_id"] == doc_id and (
                not sentence or sentence in passage_sentences(document)
            )

        best = next(filter(wanted, passages), None)
        if best is None:
            stored = [
                RetrievedPassage(document, 0.0, 0.0, 0.0) for document in articles.passages(doc_id)
            ]
            best = next(filter(wanted, stored), None)
            if best is None:  # removed since
                return passages
        return [best, *(p for p in passages if p is not best)]

    def _reads_sentences(self, doc_id: str, articles: ArticlesRead) -> bool:
        """Whether the reader reads sentences to quote when this article is the best: it reads
        them and the article is long (`reading.long_article`). A short one, a paragraph, is
        quoted as spans: there the passage is the answer, and its best spans quote more of it."""
        if not (self.reading and self.reading.sentences):
            return False
        return article_length(articles.sentences(doc_id)) >= self.reading.long_article

    def _read_sentences(
        self,
        question: str,
        language: str,
        passages: list[RetrievedPassage],
        articles: ArticlesRead,
        read_as: str,
        thread: Turn | None = None,
    ) -> list[Sentence]:
        """The sentences of the best `reading.articles` articles (the best one only for the
        latest news) that the reader read (the `reading.sentences` that hold most of the
        question) with `read_as` (the question, and a follow-up's context), best first; for
        a follow-up read in its `thread`, each weighed by how much its article is about the
        thread's subject."""
        assert self.reading is not None
        terms = self._weighted_terms(question, language)
        keys = key_terms(question)
        expected = expected_type(question)
        kind_asked = KindAsked.of(question, language)
        wants_list = bool(LIST_QUESTION.search(question))
        best_passages: dict[str, RetrievedPassage] = {}
        for passage in passages:
            best_passages.setdefault(passage.document.metadata["doc_id"], passage)
        pool: list[tuple[float, Sentence]] = []
        # the latest news is the newest article's: retrieval's order weighed the dates
        read_articles = 1 if wants_latest(question) else self.reading.articles
        for rank, (doc_id, passage) in enumerate(best_passages.items()):
            if rank == read_articles:
                break
            sentences = articles.sentences(doc_id)
            sentence_tokens = articles.sentence_tokens(doc_id)
            for number, sentence in enumerate(sentences):
                tokens = sentence_tokens[number]
                if number > 0 and points_back(sentence):  # "... kelompok itu": its context too
                    tokens = tokens | sentence_tokens[number - 1]
                words = share(terms, tokens)
                typed = bool(expected and expected.search(sentence))
                new = bool(expected) and kind_asked.answered_by(sentence)
                listing = wants_list and bool(LISTING.search(sentence))
                pick = (
                    words
                    + PICK_WEIGHTS["keys"] * (len(keys & tokens) / len(keys) if keys else 0.0)
                    + PICK_WEIGHTS["type"] * typed
                    + PICK_WEIGHTS["best_article"] * (rank == 0)
                    + PICK_WEIGHTS["listing"] * listing
                )
                read = Sentence(passage, sentences, number, words, typed, new, listing)
                pool.append((pick, read))
        pool.sort(key=lambda item: -item[0])
        chosen = [sentence for _, sentence in pool[: self.reading.sentences]]
        if not chosen:
            return []
        probability = _probabilities(self.reading.reader, read_as, [s.read_text for s in chosen])
        logits = log_odds(probability)
        doc_ids = set(map(doc_id_of, chosen))
        on_thread = self._on_thread(question, thread, doc_ids, articles) if thread else {}
        read_ones = [
            replace(s, logit=float(x), on_thread=on_thread.get(doc_id_of(s), 0.0))
            for s, x in zip(chosen, logits, strict=True)
        ]
        return sorted(read_ones, key=lambda s: -s.score)

    def _on_thread(
        self, question: str, thread: Turn, doc_ids: set[str], articles: ArticlesRead
    ) -> dict[str, float]:
        """How much each article is about the thread's subject: the (idf-weighted) share of
        the thread's question's words it holds (1 for the thread's own article), times the
        share of the follow-up's names and numbers it holds: "Kalau di Sumedang?" moves away
        from an article that never says Sumedang."""
        terms = self._weighted_terms(thread.question, detect_language(thread.question))
        names = self._known_names(question)
        on_thread = {}
        for doc_id in doc_ids:
            tokens = articles.tokens(doc_id)
            subject = 1.0 if doc_id == thread.doc_id else share(terms, tokens)
            on_thread[doc_id] = subject * (len(names & tokens) / len(names) if names else 1.0)
        return on_thread

    def _similarity(self, query_vector: np.ndarray, texts: list[str]) -> float | None:
        """The best cosine of the texts to the question (None for no text)."""
        if not texts:
            return None
        vectors = np.asarray(self.retriever.store.embeddings.embed_documents(texts), np.float32)
        return float((vectors @ query_vector).max())

    def _compose(self, spans: list[_Span]) -> list[_Span]:
        """The best span, grown by the next best ones that fit: joined when they touch it,
        left out when it quotes nothing new (a sentence two passages or two copies share)."""
        chosen = [spans[0]]
        for candidate in spans[1 : 1 + self.tuning.extra_spans]:
            grown = list(chosen)
            for position, span in enumerate(grown):
                if span.touches(candidate):
                    grown[position] = span.joined(candidate)
                    break
            else:
                if not set(map(normalize, candidate.quoted)) - set(
                    map(normalize, quoted_sentences(chosen))
                ):
                    continue
                grown.append(candidate)
            if len(" ".join(quoted_sentences(grown))) <= self.max_chars:
                chosen = grown
        return chosen


def read(
    reading: ReaderTuning, question: str, passages: list[RetrievedPassage]
) -> tuple[list[RetrievedPassage], float]:
    """The candidates (with the reader's probabilities) re-ranked by the reader's and retrieval's
    scores (each standardised, then summed), and the reader's best logit. When none of the first
    candidates reaches `reading.more_below`, the next `reading.more` are read too and ranked with
    them: the answer may be further down. A question asking for the latest news keeps
    retrieval's order and scores, which weighed the publication dates."""
    candidates = passages[: reading.candidates]
    probability = _probabilities(reading.reader, question, _texts(candidates))
    more = passages[len(candidates) : len(candidates) + reading.more]
    if more and probability.max() < reading.more_below:
        more_probability = _probabilities(reading.reader, question, _texts(more))
        probability = np.concatenate([probability, more_probability])
        candidates = candidates + more
    logit = log_odds(probability)
    if wants_latest(question):  # the reader cannot see dates: retrieval's scores weighed them
        return passages, float(logit.max())
    order = reader_order(logit, np.array([passage.score for passage in candidates]))
    ranked = [replace(candidates[i], reader=float(probability[i])) for i in order]
    return ranked + passages[len(candidates) :], float(logit.max())


def evidence_first(answer: Answer) -> list[RetrievedPassage]:
    """What the LLM writes from: the sentences the extractive answer quoted, under their
    article's title, then the retrieved passages."""
    cited = [p for p in answer.passages if p.document.metadata["doc_id"] in answer.citations[:1]]
    if not cited:
        return answer.passages
    best = cited[0]
    title = best.document.metadata.get("title") or ""
    quoted = Document(
        page_content=passage_text(title, answer.answer),
        metadata=best.document.metadata,
        id=best.document.id,
    )
    return [replace(best, document=quoted), *answer.passages]


def doc_id_of(sentence: Sentence) -> str:
    """The article a sentence is from."""
    return sentence.passage.document.metadata["doc_id"]


def _texts(passages: list[RetrievedPassage]) -> list[str]:
    return [passage.document.page_content for passage in passages]


def _probabilities(reader: PassageReader, question: str, texts: list[str]) -> np.ndarray:
    return np.clip(reader.probabilities(question, texts), 1e-6, 1 - 1e-6)


def quoted_sentences(spans: list[_Span]) -> list[str]:
    """The spans' sentences in order, each quoted once (the same sentence in two passages or
    in two copies of an article is one sentence)."""
    return _first_of_each([sentence for span in spans for sentence in span.quoted], normalize)


def distinct_passages(passages: list[RetrievedPassage]) -> list[RetrievedPassage]:
    """The passages without those whose text an earlier one has (copies of an article)."""
    return _first_of_each(passages, lambda passage: normalize(passage_body(passage.document)))


def _first_of_each(items: list[T], key: Callable[[T], str]) -> list[T]:
    """The items in order, without those whose key an earlier item has."""
    seen: set[str] = set()
    kept = []
    for item in items:
        if (found := key(item)) not in seen:
            seen.add(found)
            kept.append(item)
    return kept


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"
