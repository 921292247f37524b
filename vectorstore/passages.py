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


def answer_units(document: Document) -> list[tuple[int, str]]:
    """The spans an answer may quote: each sentence, and each sentence with the one before it.

    Returned as (index of the last sentence, text); news sentences often lean on the sentence
    before them ("... left the group"), so the pair is scored beside the sentence alone.
    """
    sentences = split_sentences(passage_body(document))
    units = [(i, sentence) for i, sentence in enumerate(sentences)]
    units += [(i, f"{sentences[i - 1]} {sentences[i]}") for i in range(1, len(sentences))]
    return units
