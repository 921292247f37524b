"""How retrieval fuses its two scores: dense similarity min-max-normalised over the candidates,
plus the BM25 score (already divided by the best one) times the lexical weight."""

from __future__ import annotations


def fuse(dense: dict[str, float], lexical: dict[str, float], weight: float) -> dict[str, float]:
    """The fused score of each candidate (every candidate has a dense score)."""
    if not dense:
        return {}
    low = min(dense.values())
    span = (max(dense.values()) - low) or 1.0
    return {
        pid: (score - low) / span + weight * lexical.get(pid, 0.0) for pid, score in dense.items()
    }
