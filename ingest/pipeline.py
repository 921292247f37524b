"""The ingest pipeline: source -> extract -> clean -> chunk -> embed -> store, item by item."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from berita.ingest.article import IngestFailure
from berita.ingest.chunk import chunk_article
from berita.ingest.clean import check_article, clean_article
from berita.ingest.config import IngestConfig
from berita.ingest.fetch import StopRequestedError
from berita.ingest.sources import Item, iter_articles
from berita.vectorstore.store import ArticleConflictError, DuplicateArticleError, PassageStore

log = logging.getLogger(__name__)
COMMIT_EVERY = 25  # stored articles between two commits of the lexical index, at least
COMMIT_PAUSE_FACTOR = 10  # and at least 10x the last commit's duration (one after a killed
# writer rebuilds the BM25 index from the whole store; the others apply the journal: hundredths)


@dataclass
class IngestSummary:
    """What an ingest run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0  # articles whose text another stored article already has
    cut: int = 0  # articles stored in part: longer than MAX_ARTICLE_CHARS or _PASSAGES
    passages: int = 0
    failures: list[IngestFailure] = field(default_factory=list)
    interrupted: bool = False
    out_of_time: bool = False  # stopped at its deadline; what is left comes next time

    @property
    def failed(self) -> int:
        """How many items could not be ingested."""
        return len(self.failures)

    def line(self) -> str:
        """One summary line."""
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.failed} failed"
            + (f", {self.duplicates} duplicates skipped" if self.duplicates else "")
            + (f", {self.cut} cut to size" if self.cut else "")
            + f" ({self.passages} passages written)"
            + ("; interrupted" if self.interrupted else "")
            + ("; stopped at the deadline" if self.out_of_time else "")
        )


def ingest(
    sources: list[str],
    store: PassageStore,
    config: IngestConfig,
    on_item: Callable[[str, str], None] | None = None,
    stop: threading.Event | None = None,
    encoding: str = "utf-8",
) -> IngestSummary:
    """Ingest every article the sources hold; a bad item is recorded and the rest go on.

    `on_item(origin, outcome)` is told about each item ("added", "failed: reason", ...); once
    `stop` is set, the run ends after the item in hand, as an interrupted one. Files and stdin
    that don't name their encoding are read in `encoding`.
    """
    articles = iter_articles(sources, config, encoding, stop)
    return store_items(articles, store, config, on_item, stop=stop)


def store_items(
    items: Iterable[Item],
    store: PassageStore,
    config: IngestConfig,
    on_item: Callable[[str, str], None] | None = None,
    deadline: float | None = None,
    stop: threading.Event | None = None,
) -> IngestSummary:
    """Clean, chunk and store items (articles, or failures to record) until they run out, the
    `time.monotonic()` deadline passes (the rest are left for another run) or `stop` is set
    (an interrupted run).

    Writes are published (committed) every COMMIT_EVERY stored articles (spaced by at least
    COMMIT_PAUSE_FACTOR times the last commit's duration, so a commit that must rebuild the
    index of a large store takes at most a tenth of the run) and once more at the end, also
    when the run is interrupted (Ctrl-C: the summary says so); a store left half-written by a
    killed run is repaired by the next one.
    """
    summary = IngestSummary()
    report = on_item or (lambda origin, outcome: None)
    pending = 1 if store.dirty() else 0  # stored articles not yet committed
    last_commit_took, last_commit_done = 0.0, time.monotonic()
    try:
        for item in items:
            outcome = _store_item(item, store, config, summary)
            log.info("%s: %s", item.origin, outcome)
            report(item.origin, outcome)
            if outcome.startswith(("added", "updated")):
                pending += 1
                since = time.monotonic() - last_commit_done
                if pending >= COMMIT_EVERY and since >= COMMIT_PAUSE_FACTOR * last_commit_took:
                    started = time.monotonic()
                    store.commit()
                    last_commit_done = time.monotonic()
                    last_commit_took = last_commit_done - started
                    pending = 0
            if store.hand_over_if_asked():  # the bot or a watcher starts: it serves the store
                pending, last_commit_done = 0, time.monotonic()
            if deadline is not None and time.monotonic() > deadline:
                summary.out_of_time = True
                break
            if stop is not None and stop.is_set():
                summary.interrupted = True
                break
    except (KeyboardInterrupt, StopRequestedError):  # Ctrl-C, SIGTERM, or `stop` mid-download
        summary.interrupted = True
    finally:
        if pending:
            store.commit()
    return summary


def _store_item(
    item: Item, store: PassageStore, config: IngestConfig, summary: IngestSummary
) -> str:
    """Clean, chunk and store one item; returns its outcome and counts it in the summary."""
    if isinstance(item, IngestFailure):
        return _failed(summary, item)
    article = clean_article(item, config.max_article_chars)
    failure = check_article(article, config.min_page_words)
    if failure is not None:
        return _failed(summary, failure)
    passages = chunk_article(article, config.chunk_max_words, config.chunk_max_chars)
    cut = [article.cut] if article.cut else []
    if len(passages) > config.max_article_passages:
        passages = passages[: config.max_article_passages]
        cut.append(f"only its first {len(passages)} passages stored")
    try:
        status = store.put_article(passages)
    except DuplicateArticleError as duplicate:
        summary.duplicates += 1
        return f"skipped: {duplicate}"
    except ArticleConflictError as error:
        return _failed(summary, IngestFailure(item.origin, str(error)))
    except Exception as error:  # noqa: BLE001 - one article must not stop the batch
        reason = f"cannot store ({type(error).__name__}: {error})"
        return _failed(summary, IngestFailure(item.origin, reason))
    setattr(summary, status, getattr(summary, status) + 1)
    if status == "unchanged":
        return status
    summary.passages += len(passages)
    summary.cut += bool(cut)
    return f"{status} ({'; '.join(cut)})" if cut else status


def _failed(summary: IngestSummary, failure: IngestFailure) -> str:
    """Record a failure; returns its outcome."""
    summary.failures.append(failure)
    return f"failed: {failure.reason}"
