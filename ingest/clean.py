"""Clean step: article text is data. Strip links, spam and injected instructions; tidy spacing."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

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
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


def clean_text(text: str) -> str:
    """Return the text without links, spam or prompt-injection sentences, spacing normalised."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = _MARKDOWN_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _BARE_DOMAIN.sub(" ", text)
    paragraphs = []
    for paragraph in re.split(r"\n\s*\n|\n", text):
        kept = [
            _tidy(sentence)
            for sentence in split_sentences(paragraph)
            if not _SPAM.search(sentence) and not _INJECTION.search(sentence)
        ]
        paragraph = " ".join(s for s in kept if s)
        if paragraph:
            paragraphs.append(paragraph)
    return "\n".join(paragraphs)


def _tidy(sentence: str) -> str:
    sentence = re.sub(r"[ \t\r\f\v]+", " ", sentence)
    sentence = re.sub(r"\s+([,.;:!?])", r"\1", sentence)
    sentence = re.sub(r"\(\s*\)|\[\s*\]", "", sentence)
    return sentence.strip()


def clean_article(article: Article) -> Article:
    """The same article with its text and title cleaned (its URL stays metadata only)."""
    return replace(article, text=clean_text(article.text), title=clean_text(article.title))
