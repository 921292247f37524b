"""What flows through ingest: an article, and a failure that names the item it came from."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|ref|amp)$", re.IGNORECASE)


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
    """Lower-case scheme and host, drop fragments, tracking parameters and a trailing slash."""
    parts = urlsplit(url.strip())
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not _TRACKING_PARAMS.match(k)])
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


def derive_doc_id(key: str, prefix: str = "doc") -> str:
    """A stable, store-safe id for an article identified by a URL, path or its content."""
    return f"{prefix}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]}"
