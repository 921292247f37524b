"""Loading the trained reader once per process, and what to do when it is not there."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reader.model import Reader


class ReaderError(RuntimeError):
    """The reader cannot be used as configured; the message is one line and says what to do."""


@lru_cache(maxsize=2)
def load_reader(folder: Path, threads: int) -> Reader:
    """The reader whose weights are in `folder` (torch is imported only here, after the thread
    policy the embedder uses: passive OpenMP waits, `threads` threads)."""
    if not any(folder.glob("reader-*.safetensors")):
        raise ReaderError(
            f"READER is on but {folder} holds no reader weights (reader-*.safetensors): train "
            "one (README, 'Train the reader'), set READER_PATH, or set READER=off"
        )
    from vectorstore.embeddings import limit_threads

    limit_threads(threads)
    from reader.model import Reader

    return Reader(folder, threads=threads)


def thresholds(reader: Reader, by_language: dict[str, float | None]) -> dict[str, float]:
    """Refusal thresholds by question language: the settings', else those the model card
    measured (0.90 of answerable dev questions answered)."""
    measured = {
        "id": reader.card.get("dev", {}).get("idkmrc-dev", {}).get("threshold_at_0.90_answered"),
        "en": reader.card.get("dev", {}).get("facqa-dev-en", {}).get("threshold_at_0.90_answered"),
    }
    chosen = {
        lang: measured[lang] if by_language.get(lang) is None else by_language[lang]
        for lang in measured
    }
    missing = [lang for lang, value in chosen.items() if value is None]
    if missing:
        names = ", ".join(f"READER_THRESHOLD_{lang.upper()}" for lang in missing)
        raise ReaderError(f"the reader's card measured no threshold: set {names}")
    return {lang: float(value) for lang, value in chosen.items() if value is not None}
