"""How a passage is stored: a title line, then the body; and the sentences answers use."""

from __future__ import annotations

from langchain_core.documents import Document

from berita.text import split_sentences


def passage_text(title: str, body: str) -> str:
    """The stored passage: the title line, then the body."""
    return f"{title}\n{body}" if title else body


def passage_body(document: Document) -> str:
    """The passage without its title line."""
    title = document.metadata.get("title") or ""
    text = document.page_content
    return text[len(title) + 1 :] if title and text.startswith(title + "\n") else text


def passage_sentences(document: Document) -> list[str]:
    """The sentences of a passage's body."""
    return split_sentences(passage_body(document))


def article_sentences(passages: list[Document]) -> list[str]:
    """An article's sentences in order, from its passages (consecutive passages share a
    sentence: it is kept once)."""
    sentences: list[str] = []
    for passage in passages:
        body = passage_sentences(passage)
        if sentences and body and body[0] == sentences[-1]:
            body = body[1:]
        sentences += body
    return sentences


def article_length(sentences: list[str]) -> int:
    """An article's length in characters, from its sentences (`article_sentences`): what
    READER_LONG_ARTICLE is measured against."""
    return len(" ".join(sentences))


MAX_SPANS = 40  # a passage of many tiny sentences costs no more than this to embed and read


def answer_spans(sentence_count: int) -> list[tuple[int, int]]:
    """The spans an answer may quote, as (first, last) sentence indexes: each sentence, and each
    sentence with the one before it (news sentences often lean on the one before: "... left
    the group"); at most MAX_SPANS, single sentences first."""
    singles = [(i, i) for i in range(sentence_count)]
    return (singles + [(i - 1, i) for i in range(1, sentence_count)])[:MAX_SPANS]


def span_text(sentences: list[str], first: int, last: int) -> str:
    """The text of sentences first..last."""
    return " ".join(sentences[first : last + 1])


def quotable_spans(document: Document) -> tuple[list[str], list[tuple[int, int, str]]]:
    """A passage's sentences and its answer spans as (first, last, text): the one definition
    both the ingest-time cache warm-up and the answer step use, so their texts match."""
    sentences = passage_sentences(document)
    spans = [
        (first, last, span_text(sentences, first, last))
        for first, last in answer_spans(len(sentences))
    ]
    return sentences, spans
