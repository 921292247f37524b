"""Clean step: article text is data. Strip links, spam and injected instructions; tidy spacing."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

from berita.ingest.article import Article, IngestFailure
from berita.text import split_sentences, strip_links, tidy

_SPAM = re.compile(
    r"\b(slot\s*gacor|slot\s*online|situs\s*(?:slot|judi|togel)|togel\s*online|maxwin|"
    r"rtp\s*live|link\s*alternatif|daftar\s*sekarang|deposit\s*pulsa|bandar\s*(?:togel|slot)|"
    r"bonus\s*new\s*member|scatter\s*hitam)\b",
    re.IGNORECASE,
)
# Sentences that speak to a language model instead of a reader: what a page plants to steer the
# bot (or a model that writes its answers). English, then Indonesian.
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override|bypass|discard|neglect)\b[^.!?\n]{0,40}?"
    r"\b(instructions?|guidelines?|directives?|prompts?|system\s+(message|prompt)|"
    r"(previous|prior|above|earlier|preceding|your|all)\s+(rules|context|messages?|"
    r"programming|constraints|restrictions)|(everything|anything)\s+(above|before))"
    r"|\b(reply|respond|answer|output)\s+(only|exactly|just)\s+(with\b|:)"
    r"|\byour\s+(only\s+)?(reply|response|answer|output)\s+(must|should|will)\s+be\b"
    r"|^\W*(system|assistant|developer)\s*:"
    r"|\[/?(inst|system)\]|#{2,}\s*(instruction|system)"  # chat tokens: see _CHAT_TOKEN
    r"|\byou\s+are\s+(now|no\s+longer)\s+(a|an|the|in|my|going|dan|free\s+of)\b"
    r"|\bfrom\s+now\s+on,?\s+(you|your)\b"
    r"|\bpretend\s+(to\s+be|you\s+are)\b"
    r"|\b(do\s+anything\s+now|developer\s+mode|jailbreak(ed)?|dan\s+mode)\b"
    r"|\bnew\s+(instructions?|rules)\s*:"
    r"|\b(reveal|print|show|repeat|leak)\s+(your|the)\s+(system\s+prompt|instructions|hidden)"
    r"|\bas\s+an\s+ai(\s+language)?\s+model\b"
    r"|\b(note|message)\s+to\s+(the\s+)?(ai|assistant|chatbot|bot|llm|language\s+model)\b"
    r"|\bif\s+you\s+are\s+(an?\s+)?(ai|assistant|language\s+model|llm|chatbot)\b"
    r"|\b(abaikan|lupakan|acuhkan|hiraukan)(lah)?\b[^.!?\n]{0,40}?"
    r"\b(instruksi|prompt|(aturan|perintah|arahan|pedoman|petunjuk|panduan|pesan)(mu|nya)\b|"
    r"(aturan|perintah|arahan|pedoman|petunjuk|panduan|pesan)\s+(sebelumnya|di\s+atas|tadi|"
    r"awal|sistem|anda|kamu)|(sebelumnya|di\s+atas))"
    r"|\b(balas|jawab|tanggapi|tulis)(lah)?\s+(hanya|cuma|saja)\s+dengan\b"
    r"|\b(kamu|anda|engkau)\s+sekarang\s+(adalah|menjadi|berperan)\b"
    r"|\bmulai\s+(sekarang|saat\s+ini),?\s+(kamu|anda|engkau)\b"
    r"|\b(bertindak|berperan|berpura-pura)(lah)?\s+(sebagai|menjadi)\s+"
    r"(ai|asisten|bot|chatbot|model)\b"
    r"|\b(tampilkan|bocorkan|ungkapkan|ulangi|sebutkan)(lah)?\s+(prompt|instruksi)\s+"
    r"(sistem|rahasia|awal)"
    r"|\b(kepada|untuk)\s+(ai|asisten|chatbot|bot|model\s+bahasa)\s*:"
    r"|\binstruksi\s+baru\s*:"
    r"|\bjika\s+(kamu|anda)\s+(adalah\s+)?(sebuah\s+)?(ai|asisten|model\s+bahasa|chatbot)\b",
    re.IGNORECASE,
)
# Chat-template tokens start a new "turn": each begins its own paragraph, marked so that the
# sentence it opens is judged (and dropped) as an injection.
_CHAT_TOKEN = re.compile(r"<\|[a-z_]{2,20}\|>|\[/?(?:inst|sys)\]|<<\s*/?sys\s*>>", re.IGNORECASE)
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_DATE_SETTINGS = {
    "PARSERS": ["timestamp", "custom-formats", "absolute-time"],  # never "kemarin" = yesterday
    "DATE_ORDER": "DMY",
    "REQUIRE_PARTS": ["day", "month", "year"],
}


# A dateline or byline before an article's first sentence: "Jakarta, CNN Indonesia --",
# "Washington (ANTARA News) -", "TEMPO.CO, Jakarta -", "JUARA.NET, PARIS -", "Rimanews -".
_DATELINE = re.compile(
    r"\A\s*(?P<prefix>(?:[^\n.!?]|\.(?=\S)){0,60}?[^\s])?\s*(?:--?|–|—)\s+(?=\S)"
)
_DATELINE_WORD = re.compile(r"\(?[A-Z0-9][\w.&'’/-]*\)?,?|\([\w.&'’ /-]{1,30}\),?")
# One word alone before the dash is a dateline only when it is an outlet or a city that opens
# news that way ("Jakarta - ..."); otherwise "Jokowi - Ma'ruf ..." would lose its first name.
_DATELINE_CITIES = {
    *("jakarta", "bandung", "surabaya", "medan", "semarang", "yogyakarta", "makassar"),
    *("denpasar", "palembang", "malang", "solo", "bogor", "depok", "bekasi", "tangerang"),
    *("batam", "padang", "pekanbaru", "balikpapan", "manado", "pontianak", "banjarmasin"),
    *("jayapura", "ambon", "kupang", "mataram", "jambi", "bengkulu", "serang", "cirebon"),
}


def strip_dateline(text: str) -> str:
    """The text without the dateline or byline it opens with: a place and/or an outlet (at most
    six words: capitalised, an outlet in brackets, a web domain) before a dash. A sentence that
    opens with a name and a dash is kept unless its prefix looks like a dateline (a comma, a
    bracket, a domain or capitals only; one word: a domain, an outlet or a dateline city)."""
    found = _DATELINE.match(text)
    if not found:
        return text
    prefix = (found.group("prefix") or "").strip()
    if prefix:
        words = prefix.split()
        pieces = _DATELINE_WORD.findall(prefix)
        if len(words) > 6 or "".join(pieces) != prefix.replace(" ", ""):
            return text
        if len(words) == 1:
            word = prefix.casefold()
            marked = "." in word or word in _DATELINE_CITIES or word.endswith("news")
        else:
            marked = any(mark in prefix for mark in (",", "(", ".")) or prefix.isupper()
        if not marked:
            return text
    return text[found.end() :]


def clean_text(text: str) -> str:
    """Return the text without links, spam or prompt-injection sentences, spacing normalised."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = strip_links(_CHAT_TOKEN.sub("\n[INST] ", text))
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


def normalize_date(value: str) -> str:
    """A publication date as ISO `YYYY-MM-DD` (dateparser: ISO, RSS/RFC 2822, `23/5/2023`,
    `Selasa, 23 Mei 2023`, `May 23, 2023`); a value that is no full date is kept, trimmed."""
    value = " ".join(value.split())
    if not value:
        return ""
    import dateparser  # ingest only

    found = dateparser.parse(value, languages=["id", "en"], settings=_DATE_SETTINGS)
    return found.date().isoformat() if found else value


def clean_article(article: Article) -> Article:
    """The same article with its text and title cleaned (its URL stays metadata only) and its
    publication date in ISO form when it can be read."""
    return replace(
        article,
        text=clean_text(strip_dateline(article.text)),
        title=clean_text(article.title),
        published=normalize_date(article.published),
    )


def check_article(article: Article, min_page_words: int) -> IngestFailure | None:
    """Why a cleaned article is not worth storing (nothing left; a web page with too little
    text: a login wall, a paywall stub, an error page), or None when it is."""
    if not article.text.strip():
        return IngestFailure(article.origin, "no article text left after cleaning")
    words = len(article.text.split())
    if article.web_page and words < min_page_words:
        return IngestFailure(
            article.origin,
            f"too little article text ({words} words; MIN_PAGE_WORDS is {min_page_words}): "
            "a login wall, paywall or stub?",
        )
    return None
