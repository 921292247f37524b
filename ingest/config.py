"""What ingest needs of berita's settings, and no more: limits on what is fetched, read,
cleaned and stored (`IngestConfig`), and the watcher's schedule (`WatchConfig`). The CLI and the
bot build them with `from_settings`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from berita.settings import Settings


@dataclass(frozen=True)
class IngestConfig:
    """Limits of one ingest (the settings of the same names)."""

    fetch_timeout_s: float
    max_source_bytes: int
    allow_private_urls: bool
    max_article_chars: int
    min_page_words: int
    chunk_max_words: int
    chunk_max_chars: int
    max_article_passages: int

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestConfig:
        """The settings' values."""
        return cls(**{field.name: getattr(settings, field.name) for field in fields(cls)})


@dataclass(frozen=True)
class WatchConfig:
    """What `berita watch` polls, how often, and how long articles are kept."""

    ingest: IngestConfig
    feeds: Callable[[], list[str]]  # FEEDS and FEEDS_FILE, read again at every poll
    feed_interval_min: float
    feed_poll_timeout_s: float
    retention_days: int | None

    @classmethod
    def from_settings(cls, settings: Settings) -> WatchConfig:
        """The settings' values."""
        return cls(
            ingest=IngestConfig.from_settings(settings),
            feeds=settings.configured_feeds,
            feed_interval_min=settings.feed_interval_min,
            feed_poll_timeout_s=settings.feed_poll_timeout_s,
            retention_days=settings.retention_days,
        )
