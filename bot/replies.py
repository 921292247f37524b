"""What a reply shows besides the answer: the sources it cites."""

from __future__ import annotations

from bot.answer import Answer


def cited_sources(answer: Answer) -> list[list[str]]:
    """Title, date and URL (those known) of each article the answer cites, in citation order."""
    rows = []
    for doc_id in answer.citations:
        metadata = next(
            p.document.metadata for p in answer.passages if p.document.metadata["doc_id"] == doc_id
        )
        parts = [
            metadata.get("title") or doc_id,
            metadata.get("published", ""),
            metadata.get("url", ""),
        ]
        rows.append([part for part in parts if part])
    return rows
