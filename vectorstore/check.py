"""Checking the store and mending it (`berita check [--repair]`).

Chroma can be left with a passage whose text and metadata are stored but whose vector is not
(several engines on one folder, a crash in a flush): any `get` that includes its vector then
fails with "Error finding id", and no query finds it. The check finds such passages, passages
a query with their own vector does not find, and a BM25 index that disagrees with Chroma; the
repair writes the affected articles again from their stored text.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from berita.vectorstore.store import PassageStore

log = logging.getLogger(__name__)
BATCH = 100  # passages fetched or queried in one call
NEAREST = 10  # a passage's own vector must find it among this many


@dataclass(frozen=True)
class StoreCheck:
    """What `check_store` found: how much is stored, and the passages that are damaged."""

    passages: int
    articles: int
    without_vector: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)  # by a query with their own vector
    not_in_lexical: list[str] = field(default_factory=list)  # stored, missing from BM25
    only_in_lexical: list[str] = field(default_factory=list)  # in BM25, not stored
    damaged_articles: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing is damaged."""
        return not (self.damaged_articles or self.only_in_lexical)

    def lines(self) -> list[str]:
        """What was found, one line each."""
        found = [f"{self.passages} passages of {self.articles} articles checked"]
        for count, what in (
            (len(self.without_vector), "passages without their vector"),
            (len(self.not_found), "passages a query with their own vector does not find"),
            (len(self.not_in_lexical), "passages missing from the BM25 index"),
            (len(self.only_in_lexical), "BM25 entries of no stored passage"),
        ):
            if count:
                found.append(f"{count} {what}")
        if self.damaged_articles:
            found.append("damaged articles: " + ", ".join(self.damaged_articles))
        return found


def check_store(store: PassageStore, progress: Callable[[int], None] | None = None) -> StoreCheck:
    """Check every stored passage: its vector can be read, a query with it finds the passage,
    and the BM25 index holds exactly the stored passages (`progress` gets the count so far)."""
    doc_of: dict[str, str] = {}
    for page in store.iter_passages(include=("metadatas",)):
        for passage_id, metadata in zip(page["ids"], page["metadatas"], strict=True):
            doc_of[passage_id] = (metadata or {}).get("doc_id", "")
    ids = list(doc_of)
    without_vector: list[str] = []
    not_found: list[str] = []
    for start in range(0, len(ids), BATCH):
        vectors, missing = store.vectors(ids[start : start + BATCH])
        without_vector += missing
        if vectors:
            found = store.nearest_ids(list(vectors.values()), min(NEAREST, len(ids)))
            not_found += [pid for pid, near in zip(vectors, found, strict=True) if pid not in near]
        if progress:
            progress(min(start + BATCH, len(ids)))
    indexed = set(store.lexical().ids)
    not_in_lexical = [pid for pid in ids if pid not in indexed]
    damaged = {doc_of[pid] for pid in (*without_vector, *not_found, *not_in_lexical)}
    return StoreCheck(
        passages=len(ids),
        articles=len(set(doc_of.values())),
        without_vector=without_vector,
        not_found=not_found,
        not_in_lexical=not_in_lexical,
        only_in_lexical=sorted(indexed - set(ids)),
        damaged_articles=sorted(damaged),
    )


class _StoppedError(Exception):
    """The process is stopping: a check in the background ends."""


def log_check(
    opening: Callable[[], AbstractContextManager[PassageStore]], stop: threading.Event
) -> StoreCheck | None:
    """Check the store as `berita check` does, through a client of its own (`opening` opens and
    lets go of it), and log one line: sound, or what is damaged (answers route around it) and
    how to mend it. For a long-lived process at start, beside its work: ends at its next batch
    once `stop` is set, and only logs a check that cannot run (None then)."""

    def unless_stopping(_checked: int) -> None:
        if stop.is_set():
            raise _StoppedError

    try:
        with opening() as store:
            check = check_store(store, progress=unless_stopping)
    except _StoppedError:
        return None
    except Exception as error:  # noqa: BLE001 - a check that cannot run is only reported
        log.warning("could not check the store: %s: %s", type(error).__name__, error)
        return None
    if check.ok:
        log.info("store checked: %s, sound", check.lines()[0])
    else:
        log.warning(
            "the store is damaged (%s): answers leave those passages out; "
            "`berita check --repair` mends them",
            "; ".join(check.lines()),
        )
    return check


def repair_store(store: PassageStore, check: StoreCheck) -> list[str]:
    """Write each damaged article again from its stored passages (embedded again; the vector
    cache makes that cheap) and rebuild the BM25 index when it disagreed; returns the articles
    rewritten."""
    for doc_id in check.damaged_articles:
        passages = store.article_passages(doc_id)  # their ids come from doc_id and chunk
        store.remove([doc_id])
        if passages:
            store.put_article(passages)
    if check.only_in_lexical or check.not_in_lexical:
        store.rebuild_lexical()
    store.commit()
    return check.damaged_articles
