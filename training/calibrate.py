"""Fit a trained reader's refusal rule on dev suites: `python -m training.calibrate`.

berita answers each dev question with the reader (answerable questions; unanswerable ones; and
answerable ones again with their gold article out of the store) and records the evidence of each
answer: the reader's best logit and the support log-odds. Per question language, the rule mixes
the two as refuses the most unanswerable and gold-removed questions while still answering
`--answered` of each suite's answerable ones; a logistic regression turns the mix into a
probability, and the threshold is that of the last answered question. The rules go to
`refusal.json` beside the weights, with what they measured; `reader.refusal.refusal_rules`
reads them. With `--sentences` the reader reads every article sentence by sentence
(READER_SENTENCES, READER_LONG_ARTICLE=0) and the rule, which weighs the best sentence's logit,
goes to `refusal-sentences.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from berita.answer.components import open_answerer
from berita.app.evaluate import (
    asked_without_gold,
    held_out_questions,
    present_suites,
    temporary_store,
)
from berita.reader.loading import ReaderError, load_reader
from berita.reader.refusal import refusal_file, sigmoid
from berita.settings import load_settings

SUITES = ("idkmrc-dev", "facqa-dev", "facqa-dev-en", "news-dev")


def collect(
    eval_dir: Path,
    folder: Path,
    limit: int | None = None,
    sentences: bool = False,
    model: str | None = None,
) -> list[dict]:
    """The evidence of berita's answer to every dev question, with the reader in `folder` (or
    the cross-encoder `model`) quoting spans or (`sentences`) reading every article's
    sentences: suite, detected language, kind (answerable, unanswerable, removed), reader
    logit, support."""
    mode = {"reader_long_article": 0} if sentences else {"reader_sentences": 0}
    settings = load_settings(
        reader=True,
        reader_path=folder,
        reader_model=model,
        reader_threshold_id=0.5,
        reader_threshold_en=0.5,
        **mode,
    )
    # Loaded once here, and a missing one said before any ingest.
    load_reader(folder, settings.embedding_threads, model, settings.reader_int8)
    rows = []
    for name, suite in present_suites(eval_dir, SUITES):
        questions = held_out_questions(suite, limit)
        with temporary_store(suite / "corpus.jsonl", settings) as (local, store):
            answerer = open_answerer(local, store)
            pairs = [(q, answerer.ask(q.question, k=10)) for q in questions]
            asked = [("answerable" if q.doc_id else "unanswerable", a) for q, a in pairs]
            asked += [("removed", a) for _, a in asked_without_gold(local, store, suite, questions)]
        for kind, answer in asked:
            if "reader" in answer.evidence:  # not when nothing was retrieved or quotable
                rows.append(
                    {
                        "suite": name,
                        "lang": answer.language,
                        "kind": kind,
                        "reader": answer.evidence["reader"],
                        "support": answer.evidence["support"],
                    }
                )
        print(f"{name}: {len(questions)} questions, {len(asked)} answers", flush=True)
    return rows


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    """Weights and bias (last) of an L2-regularised logistic regression (Newton's method)."""
    x = np.hstack([features, np.ones((len(features), 1))])
    weights = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x @ weights)))
        gradient = x.T @ (p - labels) / len(labels) + l2 * weights
        hessian = (x.T * (p * (1 - p))) @ x / len(labels) + l2 * np.eye(len(weights))
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return weights


Evidence = dict[tuple[str, str], np.ndarray]  # (suite, kind) -> rows of (reader, support)


def fit_rules(rows: list[dict], answered: float, least: int = 20) -> dict[str, dict]:
    """Per language, the rule: the mix of reader logit and support that refuses the most
    (the mean over its suites' unanswerable and gold-removed groups) while answering `answered`
    of each suite's answerable questions, scaled into a probability by a logistic regression;
    and the shares it answers and refuses. Groups of fewer than `least` questions in a language
    (those whose language is detected otherwise than their suite's) are left out."""
    rules = {}
    for lang in sorted({row["lang"] for row in rows}):
        groups: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
        for row in rows:
            if row["lang"] == lang:
                groups[row["suite"], row["kind"]].append((row["reader"], row["support"]))
        evidence = {key: np.array(v) for key, v in groups.items() if len(v) >= least}
        if len({kind == "answerable" for _, kind in evidence}) < 2:
            continue  # it takes questions to answer and questions to refuse
        mix = max(
            np.linspace(0.0, 1.0, 41),
            key=lambda mix: _refused(_measure(evidence, mix, answered)[1]),
        )
        limit, shares = _measure(evidence, mix, answered)
        labels = np.concatenate(
            [np.full(len(x), kind == "answerable", float) for (_, kind), x in evidence.items()]
        )
        mixed = np.concatenate([_mixed(x, mix) for x in evidence.values()])
        scale, bias = fit_logistic(mixed[:, None], labels)
        rules[lang] = {
            "reader_weight": round(float(scale * mix), 4),
            "support_weight": round(float(scale * (1 - mix)), 4),
            "bias": round(float(bias), 4),
            "threshold": math.floor(1e4 * sigmoid(scale * limit + bias)) / 1e4,
            "questions": int(labels.size),
            "measured": shares,
        }
    return rules


def _mixed(x: np.ndarray, mix: float) -> np.ndarray:
    return mix * x[:, 0] + (1 - mix) * x[:, 1]


def _measure(evidence: Evidence, mix: float, answered: float) -> tuple[float, dict[str, float]]:
    """The highest mixed score that still answers `answered` of each suite's answerable
    questions, and each group's share answered or refused."""
    limit = min(
        np.sort(_mixed(x, mix))[math.floor((1 - answered) * len(x))]
        for (_, kind), x in evidence.items()
        if kind == "answerable"
    )
    shares = {}
    for (suite, kind), x in sorted(evidence.items()):
        kept = float(np.mean(_mixed(x, mix) >= limit))
        if kind == "answerable":
            shares[f"{suite} answered"] = round(kept, 3)
        else:
            shares[f"{suite} {kind} refused"] = round(1 - kept, 3)
    return float(limit), shares


def _refused(shares: dict[str, float]) -> float:
    return float(np.mean([v for name, v in shares.items() if name.endswith("refused")]))


def main(argv: list[str] | None = None) -> None:
    """Collect the evidence, fit the rules, write refusal.json beside the weights."""
    parser = argparse.ArgumentParser(
        prog="python -m training.calibrate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--eval", type=Path, required=True, help="the evaluation suites' folder")
    parser.add_argument(
        "--reader",
        type=Path,
        required=True,
        help="the reader's folder: its weights, and where the rules go",
    )
    parser.add_argument(
        "--reader-model",
        help="a sentence-transformers cross-encoder to fit the rules of (READER_MODEL); "
        "--reader is then the folder of its rules (READER_PATH)",
    )
    parser.add_argument("--answered", type=float, default=0.90)
    parser.add_argument(
        "--sentences",
        action="store_true",
        help="fit the rule for sentence reading (refusal-sentences.json)",
    )
    parser.add_argument("--limit", type=int, help="at most this many questions a suite")
    parser.add_argument(
        "--least",
        type=int,
        default=20,
        help="answerable questions a suite needs to set a threshold",
    )
    args = parser.parse_args(argv)
    try:
        rows = collect(args.eval, args.reader, args.limit, args.sentences, args.reader_model)
    except ReaderError as error:  # one line, as berita says it
        raise SystemExit(f"--reader{'-model' if args.reader_model else ''}: {error}") from None
    rules = fit_rules(rows, args.answered, args.least)
    settings = load_settings()
    written = {
        "fitted": dt.date.today().isoformat(),
        "suites": sorted({row["suite"] for row in rows}),
        "answered": args.answered,
        "reader_sentences": settings.reader_sentences if args.sentences else 0,
        "reader_int8": settings.reader_int8,
        "rules": rules,
    }
    args.reader.mkdir(parents=True, exist_ok=True)
    rules_file = args.reader / refusal_file(args.sentences)
    rules_file.write_text(json.dumps(written, indent=1) + "\n", "utf-8")
    print(json.dumps(rules, indent=1))


if __name__ == "__main__":
    main()
