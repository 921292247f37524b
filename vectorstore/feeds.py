"""Feed state: which feeds are watched and how each fared, kept in Chroma beside the passages.

Every process that needs it (`berita watch`, the bot's /feeds, `berita feeds`) reads the same
records from the same store, embedded or server, so a second machine needs nothing else.
Each feed is one record, written whole: two processes never leave half a state.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class FeedState:
    """One feed: where it came from, its HTTP validators, and how its polls went (times in
    seconds since the epoch; 0 = never)."""

    url: str
    added_by: str = "settings"  # FEEDS / FEEDS_FILE, or an admin's /feeds add
    etag: str = ""
    last_modified: str = ""
    last_poll: float = 0.0
    last_success: float = 0.0
    failures: int = 0  # consecutive
    next_try: float = 0.0
    last_error: str = ""
    stored: int = 0  # articles stored from it, all polls together
    links: str = ""  # JSON list: the entry links of its last poll that are stored

    def stored_links(self) -> set[str]:
        """The entry links of the last poll whose articles are stored (a link that redirects
        is stored under the page's own URL: this is how the next poll knows it)."""
        try:
            links = json.loads(self.links) if self.links else []
        except ValueError:
            return set()
        return {link for link in links if isinstance(link, str)}

    def polled(self, now: float, **changes: Any) -> FeedState:
        """The state after a poll at `now`."""
        return replace(self, last_poll=now, **changes)

    def describe(self, now: float | None = None) -> str:
        """One line on the feed, for `berita feeds` and the bot's /feeds."""
        now = time.time() if now is None else now
        success = f"{_span(now - self.last_success)} ago" if self.last_success else "never"
        parts = [
            self.url,
            f"last success {success}",
            f"{self.stored} stored",
            f"added by {self.added_by}",
        ]
        if self.failures:
            parts.append(f"{self.failures} failures in a row ({self.last_error})")
            if self.next_try > now:
                parts.append(f"next try in {_span(self.next_try - now)}")
        return " — ".join(parts)


class FeedStates:
    """The feed records of one store (collection `<CHROMA_COLLECTION>-feeds`)."""

    def __init__(self, client: Any, collection: str) -> None:
        self._collection = client.get_or_create_collection(
            f"{collection}-feeds", embedding_function=None, metadata={"kind": "feed-state"}
        )

    def all(self) -> list[FeedState]:
        """Every recorded feed, by URL."""
        found = self._collection.get(include=["metadatas"])
        return sorted((_state(m) for m in found["metadatas"]), key=lambda state: state.url)

    def get(self, url: str) -> FeedState | None:
        """The feed's record, or None."""
        found = self._collection.get(ids=[_key(url)], include=["metadatas"])
        return _state(found["metadatas"][0]) if found["ids"] else None

    def put(self, state: FeedState) -> None:
        """Record the feed's state (replacing the earlier one)."""
        self._collection.upsert(
            ids=[_key(state.url)],
            documents=[state.url],
            embeddings=[[0.0]],  # Chroma wants a vector; a feed has no meaning to embed
            metadatas=[asdict(state)],
        )

    def update(self, state: FeedState) -> None:
        """Record a polled feed's state only while the feed is recorded: one that an admin
        removed during the poll stays removed (Chroma's `update` skips an id it does not hold,
        in one call, so no read-then-write race)."""
        self._collection.update(
            ids=[_key(state.url)],
            documents=[state.url],
            embeddings=[[0.0]],
            metadatas=[asdict(state)],
        )

    def remove(self, url: str) -> bool:
        """Forget a feed; False when it was not recorded."""
        if self.get(url) is None:
            return False
        self._collection.delete(ids=[_key(url)])
        return True


def _key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:24]


def _state(metadata: dict[str, Any]) -> FeedState:
    known = {f.name for f in fields(FeedState)}
    return FeedState(**{k: v for k, v in metadata.items() if k in known})


def _span(seconds: float) -> str:
    minutes = seconds / 60
    if minutes < 1:
        return f"{seconds:.0f} s"
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"
