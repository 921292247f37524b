"""Small text helpers shared by ingest and answering: sentences, normalisation, language."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib.resources import files

# Abbreviations after which a full stop does not end an Indonesian or English sentence.
ABBREVIATIONS = {
    "dr",
    "drs",
    "dra",
    "prof",
    "ir",
    "h",
    "hj",
    "st",
    "jl",
    "jln",
    "no",
    "dll",
    "dsb",
    "dst",
    "kab",
    "kec",
    "kel",
    "prov",
    "tbk",
    "pt",
    "cv",
    "sdr",
    "bpk",
    "tn",
    "ny",
    "mr",
    "mrs",
    "ms",
    "jr",
    "sr",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "u.s",
    "a.n",
    "s.h",
    "s.e",
    "m.si",
    "m.a",
    "ph.d",
}
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’')\]]*\s+(?=[\"“‘'(\[]?[^\W_])")
# "23.312. 794 balita": a number whose thousands were cut apart by a stray space, not two sentences
_SPLIT_NUMBER = re.compile(r"\d\.\s\d{3}(?!\d)")
# A word: letters or digits, hyphenated parts joined ("kata-kata"); a number with its separators.
_WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)*|[^\W_]+(?:-[^\W_]+)*")

_ID_MARKERS = {
    "yang",
    "dan",
    "di",
    "ke",
    "dari",
    "ini",
    "itu",
    "dengan",
    "untuk",
    "pada",
    "adalah",
    "dalam",
    "tidak",
    "akan",
    "apa",
    "apakah",
    "siapa",
    "siapakah",
    "kapan",
    "kapankah",
    "berapa",
    "berapakah",
    "mana",
    "manakah",
    "dimana",
    "bagaimana",
    "mengapa",
    "kenapa",
    "saja",
    "oleh",
    "sebagai",
    "juga",
    "sudah",
    "telah",
    "negara",
    "tahun",
    "nama",
    "bisa",
    "ada",
    *("saya", "aku", "kamu", "anda", "kami", "kita", "mereka", "dia", "semua", "tolong"),
    *("berikan", "tunjukkan", "tampilkan", "jelaskan", "sebutkan", "tuliskan", "atau", "jika"),
}
_EN_MARKERS = {
    "the",
    "is",
    "are",
    "was",
    "were",
    "what",
    "which",
    "who",
    "whom",
    "when",
    "where",
    "why",
    "how",
    "many",
    "much",
    "of",
    "in",
    "on",
    "did",
    "does",
    "do",
    "and",
    "to",
    "a",
    "an",
    "for",
    "with",
    "from",
    "by",
    "that",
    "this",
    "has",
    "have",
    "name",
    "year",
    "country",
    "countries",
    *("you", "your", "me", "my", "we", "our", "it", "its", "they", "their", "all", "any"),
    *("please", "tell", "give", "show", "print", "list", "explain", "describe", "write"),
    *("about", "can", "could", "would", "should", "will", "not", "be", "been", "or", "if"),
}


def split_sentences(text: str) -> list[str]:
    """Split text into sentences (Indonesian/English punctuation, common abbreviations kept)."""
    sentences: list[str] = []
    for block in re.split(r"\n+", text):
        start = 0
        for match in _SENTENCE_END.finditer(block):
            opening = block[match.end() : match.end() + 2].lstrip("\"“‘'([")[:1]
            if not (opening.isupper() or opening.isdigit()):  # a capital of any script, a digit
                continue
            before = block[start : match.start()].rstrip("\"”’')]")
            last_word = before.rsplit(None, 1)[-1].rstrip(".").lower() if before.strip() else ""
            if last_word in ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
                continue
            if _SPLIT_NUMBER.match(block, match.start() - 2):
                continue
            sentences.append(block[start : match.start()].strip() + match.group(0).strip())
            start = match.end()
        tail = block[start:].strip()
        if tail:
            sentences.append(tail)
    return [s for s in (s.strip() for s in sentences) if s]


_LONE_SURROGATES = re.compile("[\ud800-\udfff]")
# Characters a reader never sees but that change what is stored or shown: C0 and C1 controls
# (a NUL prints as ^@; those that are blanks, like a form feed, become a space), zero-width
# characters and soft hyphens, and the bidirectional controls that make a name display reversed
# (U+202A-U+202E, U+2066-U+2069 and the marks LRM, RLM, ALM).
_CONTROLS = [chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if chr(c) not in "\n\t"]
_INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u061c"
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_HIDDEN = {
    **{ord(ch): " " if ch.isspace() else None for ch in _CONTROLS},
    **dict.fromkeys(map(ord, _INVISIBLE + _BIDI)),
}


def drop_hidden(text: str) -> str:
    """The text without control characters (newlines and tabs kept; a line break of another
    system becomes one), zero-width characters or bidirectional controls: what a reader never
    sees is never stored."""
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_HIDDEN)


def normalize_id(raw: str) -> str:
    """An article id as stored: NFC-normalised (`café` is one id however it is typed) and
    trimmed; ValueError for an id holding a control or invisible character (a newline would
    split its `sources` row, half a character cannot be stored)."""
    if any(ord(ch) in _HIDDEN or ch in "\n\t" for ch in raw) or _LONE_SURROGATES.search(raw):
        raise ValueError("id holds a control or invisible character")
    return unicodedata.normalize("NFC", raw).strip()


def without_lone_surrogates(text: str) -> str:
    """The text without lone surrogates: halves of characters that a JSON escape or a command
    line that is not UTF-8 can put in a str, and that no UTF-8 encoder (the models', the
    hashes') accepts."""
    return _LONE_SURROGATES.sub("", text)


def normalize(text: str) -> str:
    """Casefold, turn punctuation into spaces and collapse whitespace (the eval's normalisation)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """The lower-cased words and numbers of a text, as written (no stop word dropped)."""
    return _WORD.findall(text.casefold())


# Words a question opens with, by language: they outweigh the function words of a title or
# a name inside it ("Kapan Fly to the Sky mulai debut?" is Indonesian).
_ID_OPENERS = {
    *("apa", "apakah", "siapa", "siapakah", "kapan", "kapankah", "berapa", "berapakah"),
    *("mana", "manakah", "di", "dimana", "dimanakah", "kemana", "kemanakah", "darimana"),
    *("bagaimana", "mengapa", "kenapa", "sebutkan"),
}
_EN_OPENERS = {
    *("what", "which", "who", "whom", "whose", "when", "where", "why", "how", "in", "name"),
    *("is", "are", "was", "were", "did", "does", "do"),
}
OPENER_WEIGHT = 3


def detect_language(text: str) -> str:
    """Return "id" for Indonesian or "en" for English (Indonesian when unsure): the language
    with more of its marker words, a question word it opens with counting OPENER_WEIGHT more."""
    tokens = words(text)
    english = sum(token in _EN_MARKERS for token in tokens)
    indonesian = sum(token in _ID_MARKERS for token in tokens)
    if tokens:
        english += OPENER_WEIGHT * (tokens[0] in _EN_OPENERS)
        indonesian += OPENER_WEIGHT * (tokens[0] in _ID_OPENERS)
    return "en" if english > indonesian else "id"


# -- links: article text and written answers never carry one -------------------------------

_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,200}>")
_URL_TAIL = r"[^\s<>\"'”“]*[^\s<>\"'”“.,;:!?)\]]"  # a link's rest, not its closing punctuation
_URL = re.compile(rf"(?:https?://|ftp://|www\.){_URL_TAIL}", re.IGNORECASE)
_IP_ADDRESS = re.compile(
    rf"(?<![\w.])(?:\d{{1,3}}\.){{3}}\d{{1,3}}(?::\d{{1,5}})?(?:/{_URL_TAIL}|/)?(?![\w.])"
)


@lru_cache(maxsize=1)
def _bare_domain() -> re.Pattern[str]:
    """Any host name under a real top-level domain (the public suffix list that ships with
    courlan's `tld`), with its path: `judi-online.ru`, `bola88.cn/promo`, `Kompas.com`."""
    names = (files("tld") / "res" / "effective_tld_names_public_only.dat.txt").read_text("utf-8")
    tlds = sorted(
        {
            line.strip().lower()
            for line in names.splitlines()
            if line.strip() and not line.startswith(("//", "*", "!")) and "." not in line
        },
        key=len,
        reverse=True,
    )
    label = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
    return re.compile(
        rf"(?<![\w@.-])((?:{label}\.)+(?:{'|'.join(map(re.escape, tlds))}))"
        rf"(?::\d{{1,5}})?(?:/{_URL_TAIL}|/)?(?![\w-])(?!\.[^\W_])",
        re.IGNORECASE,
    )


def strip_links(text: str) -> str:
    """The text without links: markdown links keep their words; tags, URLs and bare domains
    go (a site's capitalised name in running text keeps its name: `_drop_domain`)."""
    text = _MARKDOWN_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _IP_ADDRESS.sub(" ", text)
    return _bare_domain().sub(_drop_domain, text)


# An academic degree after a name ("M.Sc", "S.Si", "A.Md", "S.Ag"), whose last part is
# also a country's top-level domain (.sc, .si, .md, .ag)
_DEGREE = re.compile(r"[A-Z][a-z]?(?:\.[A-Z][a-zA-Z]{0,3})+")


def _drop_domain(match: re.Match[str]) -> str:
    """Drop a domain-like token, unless it is only abbreviations run together ("Dr.Ir") or a
    degree ("Budi, M.Sc"). A site's capitalised name in running text keeps its name without
    the suffix that makes it a link: "dilansir Merdeka.com" -> "dilansir Merdeka", and
    "CNNIndonesia.com pun berusaha ..." stays a sentence. A lower-case host, or one with a
    path or a port, goes whole."""
    host = match.group(1)
    if all(label in ABBREVIATIONS for label in host.casefold().split(".")):
        return match.group(0)
    if match.group(0) != host:  # with a path or a port: a link
        return " "
    if _DEGREE.fullmatch(host):
        return host
    name = host.split(".")[0]
    return name if len(name) > 1 and name[0].isupper() and name.isalnum() else " "


def tidy(sentence: str) -> str:
    """Spacing normalised: runs of blanks made one, none before punctuation, empty brackets
    (left by a removed link) dropped."""
    sentence = re.sub(r"[ \t\r\f\v]+", " ", sentence)
    sentence = re.sub(r"\s+([,.;:!?])", r"\1", sentence)
    sentence = re.sub(r"\(\s*\)|\[\s*\]", "", sentence)
    return sentence.strip()
