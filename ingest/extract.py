"""Extract step: the main text, title and date of an HTML page, via trafilatura."""

from __future__ import annotations

from dataclasses import dataclass


class ExtractionError(Exception):
    """The page holds no article text; the message is one line."""


@dataclass(frozen=True)
class Extracted:
    """What a page says about itself."""

    text: str
    title: str = ""
    published: str = ""
    url: str = ""
    site: str = ""


def extract_html(html: str, url: str = "") -> Extracted:
    """Return the article's main text (without links or boilerplate), title, date and URL."""
    import trafilatura  # heavy: imported only when HTML is ingested

    document = trafilatura.bare_extraction(
        html,
        url=url or None,
        with_metadata=True,
        include_links=False,
        include_comments=False,
        include_tables=True,
        favor_precision=True,
    )
    if document is None:
        raise ExtractionError("no article text found in the page")
    title = (document.title or "").strip()
    text = (document.text or "").strip()
    first, _, rest = text.partition("\n")
    if title and first.strip() == title and rest.strip():
        text = rest.strip()
    if not text:
        raise ExtractionError("no article text found in the page")
    return Extracted(
        text=text,
        title=title,
        published=document.date or "",
        url=document.url or url,
        site=document.hostname or "",
    )
