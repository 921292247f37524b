"""Clean step: article text is data. Strip links, spam and injected instructions; tidy spacing."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import replace

from berita.ingest.article import Article, IngestFailure
from berita.text import drop_hidden, split_sentences, strip_links, tidy

_SPAM = re.compile(
    r"\b(slot\s*gacor|slot\s*online|situs\s*(?:slot|judi|togel)|togel\s*online|maxwin|"
    r"rtp\s*live|link\s*alternatif|daftar\s*sekarang|deposit\s*pulsa|bandar\s*(?:togel|slot)|"
    r"bonus\s*new\s*member|scatter\s*hitam)\b",
    re.IGNORECASE,
)
# Sentences that speak to a language model instead of a reader: what a page plants to steer the
# bot (or a model that writes its answers). English; then Indonesian and Malay, Javanese and
# Sundanese, where a word that dismisses ("abaikan", "lalekna", "poho keun") must come before
# "instructions" said so that it cannot mean a rule in the news ("perintah sebelumnya",
# "prentah sadurunge", "parentah saméméhna"). Matched as written and as the skeleton of the
# sentence (`_skeleton`: leetspeak and look-alike letters read as the letters they stand for).
_DISMISS = (
    r"abaikan|lupakan|acuhkan|hiraukan|tinggalkan|kesampingkan|buang"
    r"|jangan\s+(?:di)?(?:hiraukan|pedulikan|dengarkan)"  # Indonesian, Malay
    r"|lal[eè]k(?:na|no|ake|aké|ke|aken)|(?:aja|ojo|ora\s+usah)\s+(?:di)?(?:gatekake|gatekno|"
    r"rungokake|rungokno)|buwangen|tinggalen|tilaren|supenaken|kesampingna"  # Javanese
    r"|poho(?:\s*keun)?|hilapkeun|tinggalkeun|abaikeun|miceun|(?:ulah|entong|teu\s+kudu)\s+"
    r"(?:di)?(?:palir[eé]|regepkeun|dengekeun)"  # Sundanese
)
_ORDERS = (
    r"perintah|arahan|aturan|pedoman|petunjuk|panduan|pesan|prentah|printah|pituduh|pitunjuk|"
    r"dhawuh|dawuh|pranatan|par[eé]ntah|papagon"
)
_EARLIER = (
    r"sebelumnya|sebelum\s+ini|terdahulu|di\s+atas|tadi|awal|sistem|anda|kamu|awak|engkau"
    r"|sadurunge|sakdurunge|saderengipun|sing\s+wis|sing\s+uwis|ndhuwur|nduwur|dhisik"
    r"|sam[eé]m[eé]hna|sateuacanna|sateuacan|di\s+luhur|anjeun"
)
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override|bypass|discard|neglect|skip)\b[^.!?\n]{0,40}?"
    r"\b(instructions?|guidelines?|directives?|prompts?|system\s+(message|prompt)|"
    r"(previous|prior|above|earlier|preceding|your|all)\s+(rules|context|messages?|"
    r"programming|constraints|restrictions|guidance|orders|commands|directions)|"
    r"(everything|anything)\s+(above|before))"
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
    rf"|\b({_DISMISS})(lah|en|keun)?\b[^.!?\n]{{0,40}}?\b(instruksi|prompt|"
    rf"({_ORDERS})(mu|nya|ipun)\b|({_ORDERS})(-\w+)?(\s+\w+)?\s+({_EARLIER})\b|"
    r"(sebelumnya|di\s+atas|sadurunge|sam[eé]m[eé]hna|di\s+luhur)\b)"
    r"|\b(balas|jawab|tanggapi|tulis|wangsulana|jawaben|walesen|waler)(lah|an|keun)?\s+"
    r"(hanya|cuma|saja|mung|namung|ngan|wungkul)\s+(dengan|nganggo|ku|make)\b"
    r"|\b(kamu|anda|engkau|awak|kowe|sampeyan|panjenengan|anjeun|man[eé]h)\s+(sekarang|kini|"
    r"saiki|ayeuna)\s+(adalah|ialah|menjadi|berperan|dadi|minangka|jadi|janten|mangrupa)\b"
    r"|\bmulai\s+(sekarang|saat\s+ini|kini|saiki|ayeuna),?\s+(kamu|anda|engkau|awak|kowe|anjeun)\b"
    r"|\b(bertindak|berperan|berpura-pura)(lah)?\s+(sebagai|menjadi)\s+"
    r"(ai|asisten|bot|chatbot|model)\b"
    r"|\b(tampilkan|bocorkan|ungkapkan|ulangi|sebutkan)(lah)?\s+(prompt|instruksi)\s+"
    r"(sistem|rahasia|awal)"
    r"|\b(kepada|untuk)\s+(ai|asisten|chatbot|bot|model\s+bahasa)\s*:"
    r"|\binstruksi\s+baru\s*:"
    r"|\bjika\s+(kamu|anda)\s+(adalah\s+)?(sebuah\s+)?(ai|asisten|model\s+bahasa|chatbot)\b",
    re.IGNORECASE,
)
# Look-alike letters of other scripts (Cyrillic, Greek) and the digits and signs leetspeak
# writes for letters; the signs only inside a word that has letters too, so numbers stay.
_LOOK_ALIKES = str.maketrans("аеорсухіјѕԁɡкмтвнαεικνορτυχ", "aeopcyxijsdgkmtbhaeikvoptux")
_LEET = str.maketrans("0134579@$|", "oieastgasi")
_LEET_WORD = re.compile(r"\S*[a-z]\S*")


def _skeleton(sentence: str) -> str:
    """The sentence as the letters it looks like: compatibility forms and accents undone,
    look-alike letters of other scripts and leetspeak ("1gn0r3 4ll pr3v10u5") read as Latin."""
    text = unicodedata.normalize("NFKD", sentence.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).translate(_LOOK_ALIKES)
    return _LEET_WORD.sub(lambda word: word.group(0).translate(_LEET), text)


def is_injection(sentence: str) -> bool:
    """Whether a sentence speaks to a language model (as written, or as its skeleton)."""
    return bool(_INJECTION.search(sentence) or _INJECTION.search(_skeleton(sentence)))


# Chat-template tokens start a new "turn": each begins its own paragraph, marked so that the
# sentence it opens is judged (and dropped) as an injection.
_CHAT_TOKEN = re.compile(r"<\|[a-z_]{2,20}\|>|\[/?(?:inst|sys)\]|<<\s*/?sys\s*>>", re.IGNORECASE)
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


# Elements whose content is code, not text: gone with what they hold, also once an escaped
# one ("&lt;script&gt;...") is decoded.
_CODE_ELEMENT = re.compile(
    r"<(script|style|noscript|iframe|object|template)\b[^>]*>.*?(</\1\s*>|\Z)",
    re.IGNORECASE | re.DOTALL,
)
# No word of a written language is this long: a hash, an encoded blob or padding, which only
# costs time to embed. Scripts written without spaces (Thai, Lao, Khmer, Myanmar, Chinese,
# Japanese, Korean) are not words, and stay.
MAX_WORD_CHARS = 64
_NO_SPACE_SCRIPTS = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u9fff\uac00-\ud7af"
_JUNK_WORD = re.compile(rf"[^\s{_NO_SPACE_SCRIPTS}]{{{MAX_WORD_CHARS + 1},}}")


def strip_markup(text: str) -> str:
    """The text without markup: code elements with their content, entities decoded once
    ("&lt;i&gt;" is a tag, "&amp;lt;" stays "&lt;"; "&#8238;" is a hidden character, dropped),
    then tags, links and bare domains out."""
    text = drop_hidden(html.unescape(_CODE_ELEMENT.sub(" ", text)))
    return strip_links(_CODE_ELEMENT.sub(" ", text))


def clean_text(text: str) -> str:
    """Return the text without markup, links, spam, prompt-injection sentences, control or
    invisible characters and over-long words; spacing normalised."""
    text = drop_hidden(unicodedata.normalize("NFC", text))
    text = strip_markup(_CHAT_TOKEN.sub("\n[INST] ", text))
    text = _JUNK_WORD.sub(" ", text)
    paragraphs = []
    for paragraph in re.split(r"\n\s*\n|\n", text):
        kept = [
            tidy(sentence)
            for sentence in split_sentences(paragraph)
            if not _SPAM.search(sentence) and not is_injection(sentence)
        ]
        paragraph = " ".join(s for s in kept if s)
        if paragraph:
            paragraphs.append(paragraph)
    return "\n".join(paragraphs)


def clean_field(value: str) -> str:
    """A one-line field (a URL, a date, a site name) without control or invisible characters,
    its blanks made one."""
    return " ".join(drop_hidden(value).split())


def normalize_date(value: str) -> str:
    """A publication date as ISO `YYYY-MM-DD` (dateparser: ISO, RSS/RFC 2822, `23/5/2023`,
    `Selasa, 23 Mei 2023`, `May 23, 2023`); a value that is no full date is kept, trimmed."""
    value = " ".join(value.split())
    if not value:
        return ""
    import dateparser  # ingest only

    found = dateparser.parse(value, languages=["id", "en"], settings=_DATE_SETTINGS)
    return found.date().isoformat() if found else value


def clean_article(article: Article, max_chars: int | None = None) -> Article:
    """The same article with its text and title cleaned (its URL stays metadata only), every
    field free of control characters, and its publication date in ISO form when it can be
    read. With `max_chars`, only the text's first `max_chars` characters are read (cut at the
    last paragraph or sentence that fits), and the article's `cut` says so."""
    text, cut = article.text, ""
    if max_chars is not None and len(text) > max_chars:
        text, cut = _first_chars(text, max_chars), f"text cut to its first {max_chars:,} characters"
    return replace(
        article,
        text=clean_text(strip_dateline(text)),
        title=clean_text(article.title).replace("\n", " "),
        url=clean_field(article.url),
        published=normalize_date(drop_hidden(article.published)),
        source=clean_field(article.source),
        cut=cut,
    )


def _first_chars(text: str, limit: int) -> str:
    """The text's beginning, at most `limit` characters, ending where a paragraph or a
    sentence ends when one does in its second half."""
    head = text[:limit]
    for end in ("\n", ". ", " "):
        position = head.rfind(end)
        if position > limit // 2:
            return head[: position + 1]
    return head


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
