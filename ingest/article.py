"""What flows through ingest: an article, and a failure that names the item it came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urldefrag


@dataclass(frozen=True)
class Article:
    """One article as read from a source, before it is cleaned and chunked."""

    doc_id: str
    text: str
    title: str = ""
    url: str = ""
    published: str = ""
    source: str = ""
    origin: str = ""  # where it came from (file:line, URL), for messages
    web_page: bool = False  # extracted from a page (held to MIN_PAGE_WORDS)
    cut: str = ""  # what cleaning left out to keep the article within bounds, said to the user

    def content_hash(self) -> str:
        """A digest of everything that would change the stored passages."""
        material = "\x1f".join((self.title, self.text, self.url, self.published, self.source))
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class IngestFailure:
    """An item that could not be ingested, with a one-line reason."""

    origin: str
    reason: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.reason}"


def canonical_url(url: str) -> str:
    """The URL as courlan normalises it (lower-case host, tracking parameters dropped, query
    sorted), without its fragment or trailing slash."""
    from courlan import normalize_url  # ingest only

    try:
        return normalize_url(urldefrag(url.strip()).url, trailing_slash=False)
    except ValueError:  # not a URL we can parse: kept as written
        return url.strip()


def derive_doc_id(key: str, prefix: str = "doc") -> str:
    """A stable, store-safe id for an article identified by a URL, path or its content."""
    return f"{prefix}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]}"
