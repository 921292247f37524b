"""Conversations: a follow-up ("Kapan itu terjadi?", "Who said that?", "Kalau di Sumedang?") is
answered in the light of its thread's latest answered turn (its latest turn when none was
answered); a question that stands alone starts afresh. Threads live in memory, a bounded
number of them, each for a bounded time."""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import numpy as np

# Words that point back at something said before: pronouns and demonstratives, Indonesian's
# possessive "-nya" ("tewasnya", "mengangkutnya"), and openings that carry on ("Kalau …?").
_POINTS_BACK = re.compile(
    r"\b(itu|tersebut|dia|ia|mereka|beliau|keduanya|sana|situ|"
    r"it|its|they|them|their|he|him|his|she|her|those|these|there)\b"
    r"|\b\w{3,}nya\b"
    # "that country", "who said that?"; not "the rumour that Harvey …", "said that the …"
    r"|\b(that|this)\b(?=\s*(\W*$|(?!(the|a|an|he|she|it|they|we|i|you|is|was|are|were)\b)"
    r"(?-i:[a-z])))",
    re.IGNORECASE,
)
_CARRIES_ON = re.compile(
    r"^\W*(kalau|kalo|lalu|terus|lantas|dan|bagaimana dengan|sebelum|sesudah|selain|"
    r"and|but|what about|how about|then|before|after|besides)\b",
    re.IGNORECASE,
)
# "-nya" words that point at nothing before ("sebenarnya", "biasanya")
_STANDALONE_NYA = frozenset(
    "sebenarnya sebetulnya biasanya akhirnya rupanya agaknya tampaknya nampaknya misalnya "
    "bahwasanya selanjutnya seharusnya sesungguhnya sebelumnya sesudahnya".split()
)
SHORT_QUESTION_WORDS = 4  # a question this short rarely names its subject


def leans_on_thread(question: str) -> bool:
    """Whether a question leans on what was said before: it points back ("itu", "they",
    "tewasnya"), carries on ("Kalau …?", "And …?") or is too short to name its subject."""
    words = re.findall(r"\w+", question)
    if len(words) <= SHORT_QUESTION_WORDS or _CARRIES_ON.search(question):
        return True
    return any(
        match.group(0).lower() not in _STANDALONE_NYA for match in _POINTS_BACK.finditer(question)
    )


@dataclass(frozen=True)
class Turn:
    """One question of a thread and what its answer quoted ("" when it was refused), with the
    vector its passages were retrieved with (float16: a follow-up blends it in, not
    embedding the earlier question again)."""

    question: str
    answer: str = ""
    doc_id: str = ""  # the article the answer cited first
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def answered(self) -> bool:
        """Whether the answer quoted an article."""
        return bool(self.doc_id)


class Threads:
    """The latest turns of each thread, by a key the caller picks (a chat, a reply chain, a
    conversation id): at most `max_threads` threads (the least recently used go first) and
    none older than `timeout_s` since its last turn. Thread-safe."""

    TURNS = 3

    def __init__(
        self,
        timeout_s: float,
        max_threads: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_threads = max_threads
        self._clock = clock
        self._threads: OrderedDict[Hashable, tuple[float, tuple[Turn, ...]]] = OrderedDict()
        self._aliases: OrderedDict[Hashable, Hashable] = OrderedDict()
        self._lock = threading.Lock()

    def context(self, key: Hashable) -> Turn | None:
        """The turn a follow-up in this thread leans on: its latest answered one, or its latest
        one when none was answered (a refused question still says what the thread is about;
        None for a new, forgotten or timed-out thread)."""
        turns = self.history(key)
        return next(
            (turn for turn in reversed(turns) if turn.answered), turns[-1] if turns else None
        )

    def history(self, key: Hashable) -> tuple[Turn, ...]:
        """The thread's remembered turns, oldest first (none for a new, forgotten or timed-out
        thread): what an LLM reads to rewrite a follow-up."""
        with self._lock:
            entry = self._threads.get(self._resolve(key))
            if entry is None or self._clock() - entry[0] > self.timeout_s:
                return ()
            return entry[1]

    def add(self, key: Hashable, turn: Turn) -> None:
        """Record a turn (a timed-out thread starts again with it)."""
        with self._lock:
            key = self._resolve(key)
            now = self._clock()
            at, turns = self._threads.pop(key, (now, ()))
            if now - at > self.timeout_s:
                turns = ()
            self._threads[key] = (now, (*turns, turn)[-self.TURNS :])
            # oldest first: drop the idle ones, then any over the bound
            while self._threads and (
                len(self._threads) > self.max_threads
                or now - next(iter(self._threads.values()))[0] > self.timeout_s
            ):
                self._threads.popitem(last=False)

    def link(self, alias: Hashable, key: Hashable) -> None:
        """Make `alias` (say, the bot's reply) continue the thread `key`."""
        with self._lock:
            self._aliases[alias] = self._resolve(key)
            self._aliases.move_to_end(alias)
            while len(self._aliases) > self.max_threads * self.TURNS:
                self._aliases.popitem(last=False)

    def thread_of(self, alias: Hashable) -> Hashable | None:
        """The thread `alias` continues, if it was linked and is still remembered."""
        with self._lock:
            key = self._aliases.get(alias)
            return key if key in self._threads else None

    def forget(self, key: Hashable) -> None:
        """Forget a thread now (/new)."""
        with self._lock:
            self._threads.pop(self._resolve(key), None)

    def __len__(self) -> int:
        return len(self._threads)

    def _resolve(self, key: Hashable) -> Hashable:
        return self._aliases.get(key, key)
