"""Chunk step: sentence-aware passages, each carrying its article's title as context."""

from __future__ import annotations

import hashlib

from langchain_core.documents import Document

from berita.ingest.article import Article
from berita.text import normalize, split_sentences
from berita.vectorstore.passages import passage_text

LAYOUT_VERSION = 2  # bump when chunking changes how the same text is cut (2: character cap)


def chunk_article(article: Article, max_words: int, max_chars: int) -> list[Document]:
    """Split a cleaned article into passages of at most `max_words` words and `max_chars`
    characters (a sentence longer than either is cut into pieces).

    Passages break between sentences; consecutive passages share one sentence so a sentence
    that leans on the one before it keeps its context. Each passage's text starts with the
    title line (when there is one); its metadata names the article.
    """
    sentences = [
        piece
        for sentence in split_sentences(article.text)
        for piece in _split_long(sentence, max_words, max_chars)
    ]
    groups: list[list[str]] = []
    current: list[str] = []
    for sentence in sentences:
        if current and not _fits([*current, sentence], max_words, max_chars):
            groups.append(current)
            current = [current[-1]] if _fits([current[-1], sentence], max_words, max_chars) else []
        current.append(sentence)
    if current:
        groups.append(current)

    # The passages depend on the article and on how it is cut: a new CHUNK_MAX_WORDS or
    # passage layout must count as a change when the same article is ingested again.
    content_hash = hashlib.sha256(
        f"{article.content_hash()}\x1f{max_words}\x1f{max_chars}\x1f{LAYOUT_VERSION}".encode()
    ).hexdigest()[:32]
    text_hash = hashlib.sha256(normalize(article.text).encode()).hexdigest()[:32]
    return [
        Document(
            page_content=passage_text(article.title, " ".join(group)),
            metadata={
                "doc_id": article.doc_id,
                "chunk": index,
                "title": article.title,
                "url": article.url,
                "published": article.published,
                "source": article.source,
                "content_hash": content_hash,
                "text_hash": text_hash,
            },
        )
        for index, group in enumerate(groups)
    ]


def _fits(sentences: list[str], max_words: int, max_chars: int) -> bool:
    words = sum(len(sentence.split()) for sentence in sentences)
    return words <= max_words and len(" ".join(sentences)) <= max_chars


def _split_long(sentence: str, max_words: int, max_chars: int) -> list[str]:
    """The sentence, or pieces of it of at most `max_words` words and `max_chars` characters
    (cut between words where there are any)."""
    pieces: list[str] = []
    current, count = "", 0
    for word in sentence.split():
        while len(word) > max_chars:  # a script written without spaces
            pieces += [current] if current else []
            pieces.append(word[:max_chars])
            current, count, word = "", 0, word[max_chars:]
        if current and (len(current) + 1 + len(word) > max_chars or count + 1 > max_words):
            pieces.append(current)
            current, count = "", 0
        current, count = f"{current} {word}" if current else word, count + 1
    return [*pieces, current] if current else pieces
