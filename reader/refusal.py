"""The refusal rule: when the reader's and the support score's evidence is too weak to answer.

Torch-free, so the answer step imports it with READER=off too; `python -m training.calibrate`
fits the rules into `refusal.json` (`refusal-sentences.json` with sentence reading) beside the
weights and `refusal_rules` reads them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from berita.reader.loading import ReaderError

REFUSAL_FILE = "refusal.json"  # the refusal rules `python -m training.calibrate` fits
SENTENCE_REFUSAL_FILE = "refusal-sentences.json"  # ... fitted with sentence reading


def refusal_file(sentences: bool) -> str:
    """The file of the rules fitted for quoting spans, or for reading sentences (whose rule
    weighs the best sentence's logit, not the best passage's)."""
    return SENTENCE_REFUSAL_FILE if sentences else REFUSAL_FILE


RULE_FIELDS = ("reader_weight", "support_weight", "bias", "threshold")


def sigmoid(log_odds: float) -> float:
    """The probability for these log-odds (clipped, so it never overflows)."""
    return 1 / (1 + math.exp(-min(max(log_odds, -50.0), 50.0)))


def log_odds(probabilities: np.ndarray) -> np.ndarray:
    """The log-odds of each probability (`sigmoid`'s inverse): the reader's logits."""
    return np.log(probabilities / (1 - probabilities))


@dataclass(frozen=True)
class Refusal:
    """When a read question is refused: the probability that the passages answer it,
    sigmoid(reader_weight x the best reader logit + support_weight x the support log-odds +
    bias), below `threshold` (`python -m training.calibrate` fits them)."""

    reader_weight: float
    support_weight: float
    bias: float
    threshold: float

    @classmethod
    def reader_alone(cls, threshold: float) -> Refusal:
        """The rule without calibration: the reader's probability against `threshold`."""
        return cls(1.0, 0.0, 0.0, threshold)

    @classmethod
    def support_alone(cls, log_odds_threshold: float) -> Refusal:
        """The rule without a reader: the support log-odds against `log_odds_threshold`."""
        return cls(0.0, 1.0, 0.0, sigmoid(log_odds_threshold))

    def confidence(self, reader_logit: float, support: float) -> float:
        """The probability that the passages answer the question."""
        return sigmoid(
            self.reader_weight * reader_logit + self.support_weight * support + self.bias
        )


def refusal_rules(
    card: dict, folder: Path, thresholds: dict[str, float | None], sentences: bool = False
) -> dict[str, Refusal]:
    """Refusal rules by question language for the reader in `folder`: those
    `python -m training.calibrate` fitted (`refusal.json` beside the weights, or with
    `sentences` read, `refusal-sentences.json` when there is one), else the reader's
    probability alone against the thresholds its model `card` measured (0.90 of answerable dev
    questions answered). A threshold in `thresholds` (the settings') replaces the fitted or
    measured one."""
    calibrated = folder / refusal_file(sentences)
    if not calibrated.is_file():
        calibrated = folder / REFUSAL_FILE
    if calibrated.is_file():
        fitted = json.loads(calibrated.read_text(encoding="utf-8"))["rules"]
        rules = {
            lang: Refusal(**{f: rule[f] for f in RULE_FIELDS}) for lang, rule in fitted.items()
        }
    else:
        dev = card.get("dev", {})
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
            f"no refusal rule for the reader at {folder}: run python -m training.calibrate or set "
            f"{names}"
        )
    return rules
