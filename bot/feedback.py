"""What people think of the answers: 👍/👎 votes and the questions refused, in a small SQLite
file beside the store (never a user's name or id), for admins' /feedback: what the articles
are missing and which answers were wrong."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (
    at REAL NOT NULL, up INTEGER NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL,
    cited TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refused (
    question TEXT PRIMARY KEY, asked INTEGER NOT NULL, last_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class FeedbackReport:
    """The latest 👎 (question, answer) and the most-asked refused questions (question, times)."""

    down: list[tuple[str, str]]
    refused: list[tuple[str, int]]


class Feedback:
    """Votes and refusals in `path` (SQLite, WAL: the bot writes while an admin reads)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def vote(self, up: bool, question: str, answer: str, cited: list[str]) -> None:
        """Record a 👍 (`up`) or 👎 on an answer and the articles it cited."""
        with self._lock:
            self._db.execute(
                "INSERT INTO votes VALUES (?, ?, ?, ?, ?)",
                (time.time(), int(up), question, answer, ",".join(cited)),
            )

    def refused(self, question: str) -> None:
        """Count a question the articles did not answer."""
        key = " ".join(question.split()).casefold()
        with self._lock:
            self._db.execute(
                "INSERT INTO refused VALUES (?, 1, ?) ON CONFLICT(question) "
                "DO UPDATE SET asked = asked + 1, last_at = excluded.last_at",
                (key, time.time()),
            )

    def report(self, limit: int = 5) -> FeedbackReport:
        """The latest `limit` 👎 and the `limit` most-asked refused questions."""
        with self._lock:
            down = self._db.execute(
                "SELECT question, answer FROM votes WHERE up = 0 ORDER BY at DESC LIMIT ?",
                (limit,),
            ).fetchall()
            refused = self._db.execute(
                "SELECT question, asked FROM refused ORDER BY asked DESC, last_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return FeedbackReport(down, refused)

    def close(self) -> None:
        """Close the file."""
        self._db.close()
