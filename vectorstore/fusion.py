"""How retrieval fuses its two scores: dense similarity min-max-normalised over the candidates,
plus the BM25 score (already divided by the best one) times the lexical weight; and how a
reader's scores join the fused ones."""

from __future__ import annotations

import numpy as np


def fuse(dense: dict[str, float], lexical: dict[str, float], weight: float) -> dict[str, float]:
    """The fused score of each candidate (every candidate has a dense score)."""
    if not dense:
        return {}
    low = min(dense.values())
    span = (max(dense.values()) - low) or 1.0
    return {
        pid: (score - low) / span + weight * lexical.get(pid, 0.0) for pid, score in dense.items()
    }


def reader_order(reader_logits: np.ndarray, fused: np.ndarray) -> np.ndarray:
    """Candidates' positions, best first, by the reader's logit plus the fused score, each
    standardised over the candidates (ties keep retrieval's order)."""
    return np.argsort(-(_standardised(reader_logits) + _standardised(fused)), kind="stable")


def _standardised(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() or 1.0)
