"""Clean step: article text is data. Strip links, spam and injected instructions; tidy spacing."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import date, datetime
from email.utils import parsedate_to_datetime

from berita.text import split_sentences
from ingest.article import Article

_TLDS = (
    "com|net|org|info|biz|online|site|xyz|top|club|vip|live|pro|io|co|id|me|tv|cc|ly|gg|app|"
    "link|win|bet|asia|store|shop|web|fun|icu|space|website"
)
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,200}>")
_URL_TAIL = r"[^\s<>\"'”“]*[^\s<>\"'”“.,;:!?)\]]"  # a link's rest, not its closing punctuation
_URL = re.compile(rf"(?:https?://|ftp://|www\.){_URL_TAIL}", re.IGNORECASE)
_BARE_DOMAIN = re.compile(
    rf"(?<![@\w.])(?:[a-z0-9-]+\.)+(?:{_TLDS})(?:/{_URL_TAIL}|/)?(?![\w/])", re.IGNORECASE
)
_SPAM = re.compile(
    r"\b(slot\s*gacor|slot\s*online|situs\s*(?:slot|judi|togel)|togel\s*online|maxwin|"
    r"rtp\s*live|link\s*alternatif|daftar\s*sekarang|deposit\s*pulsa|bandar\s*(?:togel|slot)|"
    r"bonus\s*new\s*member|scatter\s*hitam)\b",
    re.IGNORECASE,
)
_INJECTION = re.compile(
    r"(ignore|disregard|forget)\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier)\s+"
    r"(instructions?|prompts?|messages?|rules?)"
    r"|\b(abaikan|lupakan)\s+(semua\s+)?(instruksi|perintah|arahan)"
    r"|\b(system\s+prompt|you\s+are\s+now\s+(a|an|the)\b|as\s+an\s+ai\s+(language\s+)?model)"
    r"|\bnew\s+instructions?\s*:|\bassistant\s*:|\[/?(inst|system)\]|<\|im_(start|end)\|>",
    re.IGNORECASE,
)
_MONTH_NUMBERS = {
    name: number
    for number, names in enumerate(
        (
            "januari january jan",
            "februari february pebruari feb",
            "maret march mar",
            "april apr",
            "mei may",
            "juni june jun",
            "juli july jul",
            "agustus august agu aug",
            "september sept sep",
            "oktober october okt oct",
            "november nopember nov",
            "desember december des dec",
        ),
        start=1,
    )
    for name in names.split()
}
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_NAMED_MONTH = re.compile(r"(\d{1,2})?\s*([a-z]+)\.?\s+(\d{1,2})?,?\s*(\d{4})")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


def clean_text(text: str) -> str:
    """Return the text without links, spam or prompt-injection sentences, spacing normalised."""
    text = strip_links(unicodedata.normalize("NFC", text).translate(_INVISIBLE))
    paragraphs = []
    for paragraph in re.split(r"\n\s*\n|\n", text):
        kept = [
            tidy(sentence)
            for sentence in split_sentences(paragraph)
            if not _SPAM.search(sentence) and not _INJECTION.search(sentence)
        ]
        paragraph = " ".join(s for s in kept if s)
        if paragraph:
            paragraphs.append(paragraph)
    return "\n".join(paragraphs)


def strip_links(text: str) -> str:
    """The text without links: markdown links keep their words; tags, URLs and bare domains go."""
    text = _MARKDOWN_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub(" ", text)
    text = _URL.sub(" ", text)
    return _BARE_DOMAIN.sub(" ", text)


def tidy(sentence: str) -> str:
    """Spacing normalised: runs of blanks made one, none before punctuation, empty brackets
    (left by a removed link) dropped."""
    sentence = re.sub(r"[ \t\r\f\v]+", " ", sentence)
    sentence = re.sub(r"\s+([,.;:!?])", r"\1", sentence)
    sentence = re.sub(r"\(\s*\)|\[\s*\]", "", sentence)
    return sentence.strip()


def normalize_date(value: str) -> str:
    """A publication date as ISO `YYYY-MM-DD` (from ISO, RSS/RFC 2822, `23/5/2023`, `23 Mei 2023`
    or `May 23, 2023`); a value that is no date we can read is kept as it was, trimmed."""
    value = " ".join(value.split())
    try:
        return datetime.fromisoformat(value).date().isoformat()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    found = _read_date(value.casefold())
    return found.isoformat() if found else value


def _read_date(text: str) -> date | None:
    numeric = _DAY_MONTH_YEAR.search(text)
    named = next(
        (
            match
            for match in _NAMED_MONTH.finditer(text)
            if match.group(2) in _MONTH_NUMBERS and (match.group(1) or match.group(3))
        ),
        None,
    )
    try:
        if numeric:
            day, month, year = (int(part) for part in numeric.groups())
            return date(year, month, day)
        if named:
            day = int(named.group(1) or named.group(3))
            return date(int(named.group(4)), _MONTH_NUMBERS[named.group(2)], day)
    except ValueError:
        return None
    return None


def clean_article(article: Article) -> Article:
    """The same article with its text and title cleaned (its URL stays metadata only) and its
    publication date in ISO form when it can be read."""
    return replace(
        article,
        text=clean_text(article.text),
        title=clean_text(article.title),
        published=normalize_date(article.published),
    )
