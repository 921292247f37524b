"""Source step: turn command-line SOURCE arguments into articles (files, folders, URLs, feeds)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from berita import __version__
from ingest.article import Article, IngestFailure, canonical_url, derive_doc_id
from ingest.extract import ExtractionError, extract_html

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES
USER_AGENT = f"berita/{__version__} (+news question answering)"

Item = Article | IngestFailure


class SourceError(Exception):
    """A source could not be read; the message is one line."""


@dataclass(frozen=True)
class Fetched:
    """A fetched HTTP response body."""

    url: str
    content_type: str
    body: bytes


def iter_articles(sources: list[str], *, timeout_s: float, max_bytes: int) -> Iterator[Item]:
    """Yield an Article or an IngestFailure for every item the sources hold, in order."""
    with httpx.Client(
        timeout=timeout_s, follow_redirects=True, headers={"User-Agent": USER_AGENT}
    ) as client:
        for source in sources:
            if source.startswith(("http://", "https://")):
                yield from _from_url(source, client, max_bytes)
            else:
                yield from _from_path(Path(source), max_bytes)


# -- files ------------------------------------------------------------------------------------


def _from_path(path: Path, max_bytes: int) -> Iterator[Item]:
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix.lower() in SUPPORTED_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            yield IngestFailure(str(path), "folder holds no .jsonl, .txt, .md or .html files")
        for file in files:
            yield from _from_file(file, max_bytes)
    elif path.is_file():
        yield from _from_file(path, max_bytes)
    else:
        yield IngestFailure(str(path), "no such file, folder or URL")


def _from_file(path: Path, max_bytes: int) -> Iterator[Item]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield IngestFailure(str(path), f"unsupported file type {suffix or '(none)'}")
        return
    try:
        text = _read_text(path, max_bytes)
    except SourceError as error:
        yield IngestFailure(str(path), str(error))
        return
    if suffix in JSONL_SUFFIXES:
        yield from _from_jsonl(text, str(path))
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


def _read_text(path: Path, max_bytes: int) -> str:
    size = path.stat().st_size
    if size == 0:
        raise SourceError("empty file")
    if size > max_bytes:
        raise SourceError(f"file too large ({size:,} bytes; MAX_SOURCE_BYTES is {max_bytes:,})")
    return _decode(path.read_bytes())


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise SourceError("binary content, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError("binary content or not UTF-8 text") from None
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


def _from_jsonl(text: str, origin: str) -> Iterator[Item]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{origin}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield IngestFailure(where, f"malformed JSON ({error.msg})")
            continue
        if not isinstance(record, dict):
            yield IngestFailure(where, "expected a JSON object")
            continue
        body = record.get("text")
        if not isinstance(body, str) or not body.strip():
            yield IngestFailure(where, 'missing or empty "text"')
            continue
        fields = {key: record.get(key) or "" for key in ("title", "url", "published", "source")}
        if not all(isinstance(value, str) for value in fields.values()):
            yield IngestFailure(where, "title, url, published and source must be strings")
            continue
        doc_id = str(record.get("id") or "").strip()
        if not doc_id:
            key = canonical_url(fields["url"]) if fields["url"] else body
            doc_id = derive_doc_id(key)
        yield Article(doc_id=doc_id, text=body, origin=where, **fields)


# -- URLs and feeds ----------------------------------------------------------------------------


def _from_url(url: str, client: httpx.Client, max_bytes: int) -> Iterator[Item]:
    try:
        fetched = _fetch(url, client, max_bytes)
    except SourceError as error:
        yield IngestFailure(url, str(error))
        return
    if _is_feed(fetched):
        yield from _from_feed(fetched, client, max_bytes)
    else:
        yield _article_from_response(fetched, origin=url)


def _fetch(url: str, client: httpx.Client, max_bytes: int) -> Fetched:
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise SourceError(f"HTTP {response.status_code} {response.reason_phrase}")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise SourceError(f"response larger than MAX_SOURCE_BYTES ({max_bytes:,})")
                chunks.append(chunk)
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            return Fetched(str(response.url), content_type, b"".join(chunks))
    except httpx.TimeoutException:
        raise SourceError("timed out") from None
    except httpx.HTTPError as error:
        raise SourceError(f"cannot fetch ({type(error).__name__}: {error})") from None


def _is_feed(fetched: Fetched) -> bool:
    if any(kind in fetched.content_type for kind in ("rss", "atom")):
        return True
    if "xml" in fetched.content_type or not fetched.content_type:
        head = fetched.body[:1024].lstrip().lower()
        return b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head
    return False


def _from_feed(fetched: Fetched, client: httpx.Client, max_bytes: int) -> Iterator[Item]:
    import feedparser

    feed = feedparser.parse(fetched.body)
    links = [entry.get("link") for entry in feed.entries if entry.get("link")]
    if not links:
        yield IngestFailure(fetched.url, "feed has no entries with links")
        return
    for link in links:
        try:
            page = _fetch(link, client, max_bytes)
        except SourceError as error:
            yield IngestFailure(link, str(error))
            continue
        yield _article_from_response(page, origin=link)


def _article_from_response(fetched: Fetched, origin: str) -> Item:
    try:
        text = _decode(fetched.body)
        if fetched.content_type == "text/plain":
            title, body = _title_and_body(text, "")
            key = canonical_url(fetched.url)
            return Article(derive_doc_id(key), body, title, key, origin=origin)
        if fetched.content_type not in ("text/html", "application/xhtml+xml", ""):
            return IngestFailure(origin, f"not an HTML page ({fetched.content_type})")
        return _article_from_html(text, url=fetched.url, origin=origin)
    except (SourceError, ExtractionError) as error:
        return IngestFailure(origin, str(error))


def _article_from_html(html: str, url: str, origin: str, fallback_key: str = "") -> Article:
    extracted = extract_html(html, url=url)
    page_url = canonical_url(extracted.url) if extracted.url else ""
    key = page_url or fallback_key or extracted.text
    return Article(
        doc_id=derive_doc_id(key),
        text=extracted.text,
        title=extracted.title,
        url=page_url,
        published=extracted.published,
        source=extracted.site,
        origin=origin,
    )
