"""The BM25 index that follows a store's live Chroma collection: a saved index per committed
revision, plus a journal of the writes since, applied once each by every reader.

`PassageStore` writes (it marks the collection and appends the journal records); this module
reads them back into an index, saves one at each commit and clears what older commits left.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from berita.vectorstore.config import StoreConfig
from berita.vectorstore.lexical import Change, Journal, LexicalIndex

DIRTY_REBUILD_MIN_S = 2.0
DIRTY_REBUILD_FACTOR = 10
PAGE = 1000


def collection_pages(collection: Any, include: tuple[str, ...]) -> Iterator[dict]:
    """Every passage of a Chroma collection, page by page: dicts with `ids` and the included
    fields."""
    offset = 0
    while True:
        page = collection.get(limit=PAGE, offset=offset, include=list(include))
        if not page["ids"]:
            return
        yield page
        offset += len(page["ids"])


def collection_stem(config: StoreConfig, collection: str) -> str:
    """The start of the names of a collection's files here (its lexical index, its write
    lock): the collection's name, prefixed with the server's address in server mode."""
    if config.server_mode:
        return f"{config.chroma_host}_{config.chroma_port}_{collection}"
    return collection


@dataclass(frozen=True)
class _State:
    """A BM25 index in memory and the state of the store it answers for."""

    revision: str  # the store's revision() it is exact for ("": look again next time)
    committed: str  # the committed revision it grew from
    applied: int  # journal records applied to that revision's saved index (-1: rebuilt)
    mark: str  # the writing mark of the last record applied ("" when none)
    index: LexicalIndex


class LexicalSync:
    """The lexical index of one store, kept in step with its live collection (each call is
    given it: its name and metadata say the committed `revision` and the `writing` mark).
    `write_lock` is the store's: while another writer holds it, a journal that does not reach
    the writing mark yet is still being written."""

    def __init__(self, config: StoreConfig, write_lock: FileLock) -> None:
        self.config = config
        self._write_lock = write_lock
        self._state: _State | None = None
        self._dirty_until = 0.0  # keep an index built while a writer works until then
        self._busy = threading.Lock()  # questions answered at once follow the journal once

    def index(self, collection: Any, revision: str, dirty: bool) -> LexicalIndex:
        """The BM25 index of the passages at the store's `revision`: the committed revision's
        saved index plus the journal's records since (each applied once), or rebuilt.

        While a writer is at work readers keep the index of its last finished write. A mark
        with no record (a killed writer, or one on another machine) means a rebuild, kept for
        DIRTY_REBUILD_FACTOR times what it took (at least DIRTY_REBUILD_MIN_S), so a reader
        of a large store is not rebuilding all the time.
        """
        with self._busy:
            return self._index(collection, revision, dirty)

    def _index(self, collection: Any, revision: str, dirty: bool) -> LexicalIndex:
        if self._state and self._state.revision == revision:
            return self._state.index
        state = self._follow(collection, revision)
        if state is None and dirty:
            if self._state and time.monotonic() < self._dirty_until:
                return self._state.index
            started = time.monotonic()
            index = self.build(collection)
            took = time.monotonic() - started
            self._dirty_until = time.monotonic() + max(
                DIRTY_REBUILD_MIN_S, DIRTY_REBUILD_FACTOR * took
            )
            state = _State(revision, self._committed(collection), -1, "", index)
        elif state is None:
            index = self.build(collection)
            index.save(
                self._path(collection, self._committed(collection)), self._segments(collection)
            )
            state = _State(revision, self._committed(collection), 0, "", index)
        self._state = state
        return state.index

    def save(self, collection: Any, revision: str) -> LexicalIndex:
        """Save the index as it is now (followed, or rebuilt after a killed write) as the new
        committed `revision`'s; the store then makes that revision the committed one."""
        state = self._follow(collection, "")
        index = state.index if state else self.build(collection)
        index.save(self._path(collection, revision), self._segments(collection))
        return index

    def committed(self, collection: Any, index: LexicalIndex, store_revision: str) -> None:
        """After a commit: `index` answers for the store's new revision; the files of older
        revisions, and segments no saved index uses, are deleted."""
        committed = self._committed(collection)
        self._state = _State(store_revision, committed, 0, "", index)
        folder = self._folder()
        patterns = (self._file(collection, "*.bm25").name, self._file(collection, "*.journal").name)
        for old in [path for pattern in patterns for path in folder.glob(pattern)]:
            if old.name.split(".")[-2] != committed:
                shutil.rmtree(old, ignore_errors=True)
        keep = index.segment_keys()
        for segment in self._segments(collection).glob("*"):
            if segment.name not in keep and not segment.name.startswith("."):
                shutil.rmtree(segment, ignore_errors=True)

    def record(self, collection: Any, after: str, mark: str, changes: list[Change]) -> None:
        """Append a write's journal record: the passages it changed, between marks."""
        Journal(self._file(collection, f"{self._committed(collection)}.journal")).append(
            after, mark, changes
        )

    def build(self, collection: Any) -> LexicalIndex:
        """The index built from every stored passage."""
        ids: list[str] = []
        texts: list[str] = []
        for page in collection_pages(collection, ("documents",)):
            ids.extend(page["ids"])
            texts.extend(page["documents"])
        return LexicalIndex.build(ids, texts)

    def _follow(self, collection: Any, revision: str) -> _State | None:
        """The index at the live collection's marks from the saved index of its committed
        revision and the journal, or None when the records do not lead there."""
        metadata = collection.metadata or {}
        committed, mark = self._committed(collection), str(metadata.get("writing", ""))
        known = self._state
        if not (known and known.committed == committed and known.applied >= 0):
            saved = LexicalIndex.load(
                self._path(collection, committed),
                self._segments(collection),
                known=known.index if known else None,
            )
            if saved is None:
                return None
            known = _State("", committed, 0, "", saved)
        if not mark:
            return known if known.applied == 0 else None
        changes: list[Change] = []
        applied, last = known.applied, known.mark
        journal = Journal(self._file(collection, f"{committed}.journal"))
        try:
            for after, record_mark, record_changes in journal.records(applied):
                if after != last:
                    return None  # a write with no record came between (a killed writer)
                changes.extend(record_changes)
                applied, last = applied + 1, record_mark
                if record_mark == mark:
                    break
        except (OSError, ValueError):  # a commit removed the journal meanwhile
            return None
        if last != mark and not self._writer_active():
            return None
        index = known.index.updated(changes) if changes else known.index
        return _State(revision if last == mark else "", committed, applied, last, index)

    def _writer_active(self) -> bool:
        """Whether another writer on this machine holds the write lock now."""
        try:
            self._write_lock.acquire(timeout=0)
        except Timeout:
            return True
        self._write_lock.release()
        return False

    def _committed(self, collection: Any) -> str:
        return str((collection.metadata or {}).get("revision", ""))

    def _segments(self, collection: Any) -> Path:
        return self._file(collection, "segments")

    def _folder(self) -> Path:
        if self.config.server_mode:
            return self.config.lexical_cache_path
        return self.config.chroma_path / "lexical"

    def _path(self, collection: Any, revision: str) -> Path:
        return self._file(collection, f"{revision}.bm25")

    def _file(self, collection: Any, name: str) -> Path:
        """A file of the live collection's lexical index: `<folder>/<stem>.<name>`."""
        stem = collection_stem(self.config, collection.name)
        return self._folder() / f"{stem}.{name}"
