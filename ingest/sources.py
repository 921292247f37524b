"""Source step: turn command-line SOURCE arguments into articles (files, folders, URLs, feeds)."""

from __future__ import annotations

import codecs
import gzip
import io
import re
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from berita.ingest.article import Article, IngestFailure, canonical_url, derive_doc_id
from berita.ingest.config import IngestConfig
from berita.ingest.extract import ExtractionError, extract_html
from berita.ingest.fetch import Fetched, Fetcher, SourceError
from berita.jsonl import json_objects
from berita.text import normalize_id

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES
STDIN = "-"  # a SOURCE that reads JSON Lines from standard input
Item = Article | IngestFailure


def iter_articles(
    sources: list[str],
    config: IngestConfig,
    encoding: str = "utf-8",
    stop: threading.Event | None = None,
) -> Iterator[Item]:
    """Yield an Article or an IngestFailure for every item the sources hold, in order.

    Files and standard input that don't say their encoding (by a byte-order mark, or an HTML
    <meta> charset) are read in `encoding`; a web server's response says its own. Once `stop`
    is set, a download under way ends with StopRequestedError."""
    with Fetcher(config, stop) as fetcher:
        for source in sources:
            if source.startswith(("http://", "https://")):
                yield from _from_url(source, fetcher)
            elif source == STDIN:
                yield from _from_stdin(config.max_source_bytes, encoding)
            else:
                yield from _from_path(Path(source), config.max_source_bytes, encoding)


# -- files ------------------------------------------------------------------------------------


def _from_path(path: Path, max_bytes: int, encoding: str) -> Iterator[Item]:
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and _suffix(p) in SUPPORTED_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            yield IngestFailure(str(path), "folder holds no .jsonl, .txt, .md or .html files")
        for file in files:
            yield from _from_file(file, max_bytes, encoding)
    elif path.is_file():
        yield from _from_file(path, max_bytes, encoding)
    else:
        yield IngestFailure(str(path), "no such file, folder or URL")


def _suffix(path: Path) -> str:
    """The file's type as its name ends: `.jsonl.gz` for a gzipped dump, else the last suffix."""
    last = path.suffix.lower()
    return "".join(path.suffixes[-2:]).lower() if last == ".gz" else last


def _from_file(path: Path, max_bytes: int, encoding: str) -> Iterator[Item]:
    suffix = _suffix(path)
    if suffix not in SUPPORTED_SUFFIXES:
        yield IngestFailure(str(path), f"unsupported file type {suffix or '(none)'}")
        return
    try:
        data = _read_bytes(path, max_bytes)
        if suffix in JSONL_SUFFIXES:
            yield from _from_jsonl(_jsonl_bytes(data, encoding), str(path))
            return
        charset = _html_charset(data) if suffix in HTML_SUFFIXES else ""
        text = _decode(data, charset, encoding)
    except SourceError as error:
        yield IngestFailure(str(path), str(error))
        return
    file_key = path.resolve().as_uri()
    try:
        if suffix in HTML_SUFFIXES:
            yield _article_from_html(text, url="", origin=str(path), fallback_key=file_key)
        else:
            title, body = _title_and_body(text, path.stem)
            yield Article(doc_id=derive_doc_id(file_key), text=body, title=title, origin=str(path))
    except ExtractionError as error:
        yield IngestFailure(str(path), str(error))


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes (unpacked, for a .gz file), at most `max_bytes` of them."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SourceError(f"file too large ({size:,} bytes; MAX_SOURCE_BYTES is {max_bytes:,})")
        data = path.read_bytes()
    except OSError as error:
        raise SourceError(f"cannot read ({error.strerror})") from None
    return _gunzipped(data, max_bytes) if path.suffix.lower() == ".gz" else data


def _gunzipped(data: bytes, max_bytes: int) -> bytes:
    """A gzip file's content, refused past `max_bytes` as it unpacks (no gzip bomb fills memory)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as unpacking:
            content = unpacking.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error):
        raise SourceError("not a readable gzip file") from None
    if len(content) > max_bytes:
        raise SourceError(f"file too large unpacked (MAX_SOURCE_BYTES is {max_bytes:,})")
    return content


def _from_stdin(max_bytes: int, encoding: str) -> Iterator[Item]:
    """Articles from JSON Lines on standard input (`berita ingest -`), at most `max_bytes`."""
    data = sys.stdin.buffer.read(max_bytes + 1)
    origin = "stdin"
    if len(data) > max_bytes:
        yield IngestFailure(origin, f"input too large (MAX_SOURCE_BYTES is {max_bytes:,})")
        return
    try:
        if not data.strip():
            raise SourceError("no input")
        data = _jsonl_bytes(data, encoding)
        if not data.lstrip(codecs.BOM_UTF8 + b" \t\r\n").startswith(b"{"):
            raise SourceError("expected JSON Lines (one article object a line)")
    except SourceError as error:
        yield IngestFailure(origin, str(error))
        return
    yield from _from_jsonl(data, origin)


def _jsonl_bytes(data: bytes, encoding: str = "utf-8") -> bytes:
    """A JSON Lines body as UTF-8, to be decoded line by line, so one bad line fails alone;
    re-encoded whole from UTF-16 or UTF-32 (as a byte-order mark says) or from an `encoding`
    other than UTF-8; SourceError if empty or binary."""
    bom = _bom_codec(data)
    if bom in ("utf-16", "utf-32") or (not bom and encoding != "utf-8"):
        return _decode(data, default=encoding).encode("utf-8")
    _check_text(data)
    return data


def _check_text(data: bytes, codec: str = "utf-8") -> None:
    """SourceError for an empty or binary body (UTF-16 and UTF-32, whose characters hold zero
    bytes, are told apart by their BOM or by being the `codec` to read)."""
    if not data.strip():
        raise SourceError("empty file")
    wide = _bom_codec(data) or codec.startswith(("utf-16", "utf-32"))
    if b"\x00" in data[:8192] and not wide:
        raise SourceError("binary content, not text")


# A byte-order mark says the encoding whatever a header or <meta> declares (as browsers read it);
# UTF-32's marks go first, as UTF-16 LE's is the start of UTF-32 LE's
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _bom_codec(data: bytes) -> str:
    """The codec a byte-order mark at the start of `data` names (it reads the mark too), or ""."""
    return next((codec for bom, codec in _BOMS if data.startswith(bom)), "")


_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
# What browsers read for these labels (the WHATWG Encoding standard), where Python reads less
_BROWSER_CODECS = {"iso8859-1": "cp1252", "ascii": "cp1252", "iso8859-9": "cp1254"}


def _html_charset(data: bytes) -> str:
    """The charset an HTML document's <meta> declares in its first 4 KB, if any."""
    found = _META_CHARSET.search(data[:4096])
    return found.group(1).decode("ascii") if found else ""


def _decode(data: bytes, charset: str = "", default: str = "utf-8") -> str:
    """The body as text: in the encoding its byte-order mark names, else in `charset` (a
    Content-Type's or a <meta>'s; an unknown one is ignored), else in `default`."""
    try:
        codec = codecs.lookup(charset).name if charset else default
    except LookupError:
        codec, charset = default, ""
    codec = _bom_codec(data) or _BROWSER_CODECS.get(codec, codec)
    _check_text(data, codec)
    try:
        text = data.decode("utf-8-sig" if codec == "utf-8" else codec)
    except UnicodeDecodeError:
        named = {
            "utf-8": "UTF-8 text",
            "utf-8-sig": "UTF-8 text, as its byte-order mark says",
            "utf-16": "UTF-16 text, as its byte-order mark says",
            "utf-32": "UTF-32 text, as its byte-order mark says",
        }.get(codec, f"{charset} text, as declared" if charset else f"{default} text")
        raise SourceError(f"binary content or not {named}") from None
    if "\x00" in text:
        raise SourceError("binary content, not text")
    if not text.strip():
        raise SourceError("empty file")
    return text


def _title_and_body(text: str, fallback_title: str) -> tuple[str, str]:
    """A Markdown heading or a short first line is the title; the rest is the body."""
    first, _, rest = text.strip().partition("\n")
    heading = first.lstrip("#").strip()
    if rest.strip() and (first.startswith("#") or len(first) <= 150):
        return heading, rest.strip()
    return fallback_title.replace("_", " ").replace("-", " "), text.strip()


def _from_jsonl(data: bytes, origin: str) -> Iterator[Item]:
    """One article a line; a bad line (not UTF-8, not JSON, a repeated id) fails alone."""
    first_line: dict[str, str] = {}  # doc_id -> the line number it was first on
    for where, record in json_objects(data.splitlines(), origin):
        if isinstance(record, str):
            yield IngestFailure(where, record)
            continue
        body = record.get("text")
        if not isinstance(body, str) or not body.strip():
            yield IngestFailure(where, 'missing or empty "text"')
            continue
        fields = {key: record.get(key) or "" for key in ("title", "url", "published", "source")}
        if not all(isinstance(value, str) for value in fields.values()):
            yield IngestFailure(where, "title, url, published and source must be strings")
            continue
        try:
            doc_id = normalize_id(str(record.get("id") or ""))
        except ValueError as error:
            yield IngestFailure(where, str(error))
            continue
        if not doc_id:
            key = canonical_url(fields["url"]) if fields["url"] else body
            doc_id = derive_doc_id(key)
        if doc_id in first_line:
            yield IngestFailure(
                where, f"duplicate id {doc_id!r} (first on line {first_line[doc_id]}); skipped"
            )
            continue
        first_line[doc_id] = where.rpartition(":")[2]
        yield Article(doc_id=doc_id, text=body, origin=where, **fields)


# -- URLs and feeds ----------------------------------------------------------------------------


def _from_url(url: str, fetcher: Fetcher) -> Iterator[Item]:
    try:
        fetched = fetcher.get(url)
    except SourceError as error:
        yield IngestFailure(url, str(error))
        return
    if is_feed(fetched):
        yield from _from_feed(fetched, fetcher)
    else:
        yield _article_from_response(fetched, origin=url)


def is_feed(fetched: Fetched) -> bool:
    """Whether a response is an RSS/Atom feed (by its type, else by its first bytes)."""
    if any(kind in fetched.content_type for kind in ("rss", "atom")):
        return True
    if "xml" in fetched.content_type or not fetched.content_type:
        head = fetched.body[:1024].lstrip().lower()
        return b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head
    return False


@dataclass(frozen=True)
class FeedEntry:
    """A feed item: the page it links to and the date the feed gives it."""

    link: str
    published: str


def feed_entries(fetched: Fetched) -> list[FeedEntry]:
    """The entries of a fetched RSS/Atom feed that link somewhere, in feed order."""
    import feedparser

    feed = feedparser.parse(fetched.body)
    return [
        FeedEntry(urljoin(fetched.url, entry["link"]), _feed_date(entry))
        for entry in feed.entries
        if entry.get("link")
    ]


def iter_feed_pages(entries: list[FeedEntry], fetcher: Fetcher) -> Iterator[Item]:
    """Fetch each entry's page, lazily; a page without a date takes the feed's."""
    for entry in entries:
        try:
            page = fetcher.get(entry.link)
        except SourceError as error:
            yield IngestFailure(entry.link, str(error))
            continue
        item = _article_from_response(page, origin=entry.link)
        if isinstance(item, Article) and not item.published:
            item = replace(item, published=entry.published)
        yield item


def _from_feed(fetched: Fetched, fetcher: Fetcher) -> Iterator[Item]:
    entries = feed_entries(fetched)
    if not entries:
        yield IngestFailure(fetched.url, "feed has no entries with links")
        return
    yield from iter_feed_pages(entries, fetcher)


def _feed_date(entry: Any) -> str:
    """The entry's publication date as feedparser parsed it, ISO `YYYY-MM-DD`."""
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return time.strftime("%Y-%m-%d", parsed) if parsed else ""


def _article_from_response(fetched: Fetched, origin: str) -> Item:
    try:
        html = fetched.content_type != "text/plain"
        text = _decode(
            fetched.body, fetched.charset or (_html_charset(fetched.body) if html else "")
        )
        if not html:
            title, body = _title_and_body(text, "")
            key = canonical_url(fetched.url)
            return Article(derive_doc_id(key), body, title, key, origin=origin, web_page=True)
        if fetched.content_type not in ("text/html", "application/xhtml+xml", ""):
            return IngestFailure(origin, f"not an HTML page ({fetched.content_type})")
        return _article_from_html(text, url=fetched.url, origin=origin)
    except (SourceError, ExtractionError) as error:
        return IngestFailure(origin, str(error))


def _article_from_html(html: str, url: str, origin: str, fallback_key: str = "") -> Article:
    """An article from a page. A fetched page is identified by its own URL, or by the canonical
    URL it declares only when that is on the same host: a page never decides to be another
    site's article."""
    extracted = extract_html(html, url=url)
    page_url = canonical_url(url) if url else ""
    declared = canonical_url(extracted.url) if extracted.url else ""
    if declared and (not url or urlsplit(declared).hostname == urlsplit(page_url).hostname):
        page_url = declared
    key = page_url or fallback_key or extracted.text
    return Article(
        doc_id=derive_doc_id(key),
        text=extracted.text,
        title=extracted.title,
        url=page_url,
        published=extracted.published,
        source=extracted.site,
        origin=origin,
        web_page=True,
    )
