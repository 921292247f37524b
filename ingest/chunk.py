"""Chunk step: sentence-aware passages, each carrying its article's title as context."""

from __future__ import annotations

import hashlib

from langchain_core.documents import Document

from berita.ingest.article import Article
from berita.text import split_sentences
from berita.vectorstore.passages import passage_text

LAYOUT_VERSION = 1  # bump when chunking changes how the same text is cut


def chunk_article(article: Article, max_words: int) -> list[Document]:
    """Split a cleaned article into passages of at most `max_words` words.

    Passages break between sentences; consecutive passages share one sentence so a sentence
    that leans on the one before it keeps its context. Each passage's text starts with the
    title line (when there is one); its metadata names the article.
    """
    sentences = [
        piece for s in split_sentences(article.text) for piece in _split_long(s, max_words)
    ]
    groups: list[list[str]] = []
    current: list[str] = []
    size = 0
    for sentence in sentences:
        length = len(sentence.split())
        if current and size + length > max_words:
            groups.append(current)
            current = [current[-1]] if len(current[-1].split()) + length <= max_words else []
            size = sum(len(s.split()) for s in current)
        current.append(sentence)
        size += length
    if current:
        groups.append(current)

    # The passages depend on the article and on how it is cut: a new CHUNK_MAX_WORDS or
    # passage layout must count as a change when the same article is ingested again.
    content_hash = hashlib.sha256(
        f"{article.content_hash()}\x1f{max_words}\x1f{LAYOUT_VERSION}".encode()
    ).hexdigest()[:32]
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
            },
        )
        for index, group in enumerate(groups)
    ]


def _split_long(sentence: str, max_words: int) -> list[str]:
    tokens = sentence.split()
    if len(tokens) <= max_words:
        return [sentence]
    return [" ".join(tokens[i : i + max_words]) for i in range(0, len(tokens), max_words)]
