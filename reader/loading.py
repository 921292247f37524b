"""Loading the trained reader once per process, and what to do when it is not there."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.answer import Refusal
    from reader.model import Reader

REFUSAL_FILE = "refusal.json"  # the refusal rules `python -m reader.calibrate` fits
RULE_FIELDS = ("reader_weight", "support_weight", "bias", "threshold")


class ReaderError(RuntimeError):
    """The reader cannot be used as configured; the message is one line and says what to do."""


@lru_cache(maxsize=2)
def load_reader(folder: Path, threads: int) -> Reader:
    """The reader whose weights are in `folder` (torch is imported only here, after the thread
    policy the embedder uses: passive OpenMP waits, `threads` threads)."""
    if not any(folder.glob("reader-*.safetensors")):
        raise ReaderError(
            f"READER is on but {folder} holds no reader weights (reader-*.safetensors): train "
            "one (README, 'Retrain it'), set READER_PATH, or set READER=off"
        )
    from vectorstore.embeddings import limit_threads

    limit_threads(threads)
    from reader.model import Reader

    return Reader(folder, threads=threads)


def refusal_rules(
    reader: Reader, folder: Path, thresholds: dict[str, float | None]
) -> dict[str, Refusal]:
    """Refusal rules by question language: those `python -m reader.calibrate` fitted
    (`refusal.json` beside the weights), else the reader's probability alone against the
    thresholds its model card measured (0.90 of answerable dev questions answered). A threshold
    in `thresholds` (the settings') replaces the fitted or measured one."""
    from bot.answer import Refusal

    calibrated = folder / REFUSAL_FILE
    if calibrated.is_file():
        fitted = json.loads(calibrated.read_text(encoding="utf-8"))["rules"]
        rules = {
            lang: Refusal(**{f: rule[f] for f in RULE_FIELDS}) for lang, rule in fitted.items()
        }
    else:
        dev = reader.card.get("dev", {})
        measured = {
            "id": dev.get("idkmrc-dev", {}).get("threshold_at_0.90_answered"),
            "en": dev.get("facqa-dev-en", {}).get("threshold_at_0.90_answered"),
        }
        rules = {
            lang: Refusal.reader_alone(float(value))
            for lang, value in measured.items()
            if value is not None
        }
    for lang, value in thresholds.items():
        if value is not None:
            rules[lang] = replace(rules.get(lang, Refusal.reader_alone(value)), threshold=value)
    missing = [lang for lang in thresholds if lang not in rules]
    if missing:
        names = ", ".join(f"READER_THRESHOLD_{lang.upper()}" for lang in missing)
        raise ReaderError(
            f"no refusal rule for the reader at {folder}: run python -m reader.calibrate or set "
            f"{names}"
        )
    return rules
