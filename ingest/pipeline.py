"""The ingest pipeline: source -> extract -> clean -> chunk -> embed -> store, item by item."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from berita.settings import Settings
from ingest.article import IngestFailure
from ingest.chunk import chunk_article
from ingest.clean import clean_article
from ingest.sources import iter_articles
from vectorstore.store import PassageStore


@dataclass
class IngestSummary:
    """What an ingest run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    passages: int = 0
    failures: list[IngestFailure] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """How many items could not be ingested."""
        return len(self.failures)

    def line(self) -> str:
        """One summary line."""
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.failed} failed ({self.passages} passages written)"
        )


def ingest(
    sources: list[str],
    store: PassageStore,
    settings: Settings,
    on_item: Callable[[str, str], None] | None = None,
) -> IngestSummary:
    """Ingest every article the sources hold; a bad item is recorded and the rest go on.

    `on_item(origin, outcome)` is told about each item ("added", "failed: reason", ...).
    """
    summary = IngestSummary()
    report = on_item or (lambda origin, outcome: None)
    for item in iter_articles(
        sources, timeout_s=settings.fetch_timeout_s, max_bytes=settings.max_source_bytes
    ):
        if isinstance(item, IngestFailure):
            summary.failures.append(item)
            report(item.origin, f"failed: {item.reason}")
            continue
        article = clean_article(item)
        if not article.text.strip():
            failure = IngestFailure(item.origin, "no article text left after cleaning")
            summary.failures.append(failure)
            report(item.origin, f"failed: {failure.reason}")
            continue
        passages = chunk_article(article, settings.chunk_max_words)
        try:
            status = store.put_article(passages)
        except Exception as error:  # noqa: BLE001 - one article's failure must not stop the batch
            failure = IngestFailure(item.origin, f"cannot store ({type(error).__name__}: {error})")
            summary.failures.append(failure)
            report(item.origin, f"failed: {failure.reason}")
            continue
        setattr(summary, status, getattr(summary, status) + 1)
        if status != "unchanged":
            summary.passages += len(passages)
        report(item.origin, status)
    if summary.added or summary.updated:
        store.commit()
    return summary
