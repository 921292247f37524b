"""What the passage store needs of berita's settings, and no more (`StoreConfig`): where the
passages live, how to reach them, and which model embedded them. `answer.components` builds it
with `from_settings`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from berita.settings import Settings


@dataclass(frozen=True)
class StoreConfig:
    """The store's settings (those of the same names), and from which article length answers
    read sentences (None: never), so that ingest warms no span vectors they would not use."""

    chroma_collection: str
    embedding_model: str
    chroma_path: Path
    lexical_cache_path: Path
    embedding_cache_path: Path | None = None
    chroma_host: str | None = None
    chroma_port: int = 8000
    chroma_writer_stale_s: float = 30.0
    sentences_from_chars: int | None = None

    @property
    def server_mode(self) -> bool:
        """True when a Chroma server is configured instead of the embedded store."""
        return bool(self.chroma_host)

    @classmethod
    def from_settings(cls, settings: Settings) -> StoreConfig:
        """The settings' values."""
        reads_sentences = settings.reader and settings.reader_sentences > 0
        return cls(
            chroma_collection=settings.chroma_collection,
            embedding_model=settings.embedding_model,
            chroma_path=settings.chroma_path,
            lexical_cache_path=settings.lexical_cache_path,
            embedding_cache_path=settings.embedding_cache_path,
            chroma_host=settings.chroma_host,
            chroma_port=settings.chroma_port,
            chroma_writer_stale_s=settings.chroma_writer_stale_s,
            sentences_from_chars=settings.reader_long_article if reads_sentences else None,
        )
