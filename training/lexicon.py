"""Learn the English -> Indonesian word table that English questions' BM25 queries use
(`vectorstore/lexicon_en_id.tsv`): IBM Model 1 over Trans-SQuAD 2.0's parallel questions
(each English SQuAD 2.0 dev question and its Indonesian translation).

    python -m training.lexicon --train ../shared/train
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from berita.vectorstore.crosslingual import LEXICON, english_words
from berita.vectorstore.lexical import tokenize

MIN_PROBABILITY = 0.2  # translations kept: t(Indonesian token | English word) at least this
MAX_TRANSLATIONS = 5
ITERATIONS = 8
NULL = "<null>"  # the empty English word, which Indonesian function words align to
PAIRED_FILES = ("transsquad-en", "transsquad-id")  # `-en` ids end in "-en", the twin's do not
SOURCE = (
    "IBM Model 1 over Trans-SQuAD 2.0's parallel questions: SQuAD 2.0 dev questions (Rajpurkar "
    "et al. 2018) and their Indonesian translations (Muis & Purwarianti 2020, via IDK-MRC), "
    "CC BY-SA 4.0"
)


def learn_lexicon(
    pairs: Iterable[tuple[str, str]], iterations: int = ITERATIONS
) -> dict[str, list[tuple[str, float]]]:
    """IBM Model 1 over (English, Indonesian) sentence pairs: for each English word, the
    Indonesian tokens (`tokenize`'s) it translates to with t >= MIN_PROBABILITY, at most
    MAX_TRANSLATIONS, most likely first."""
    corpus = [([*english_words(en), NULL], tokenize(id_)) for en, id_ in pairs]
    translation: dict[tuple[str, str], float] = defaultdict(lambda: 1.0)  # uniform start
    for _ in range(iterations):
        counts: dict[tuple[str, str], float] = defaultdict(float)
        totals: dict[str, float] = defaultdict(float)
        for english, indonesian in corpus:
            for token in indonesian:
                norm = sum(translation[token, word] for word in english)
                for word in english:
                    share = translation[token, word] / norm
                    counts[token, word] += share
                    totals[word] += share
        translation = defaultdict(
            float, {(token, word): c / totals[word] for (token, word), c in counts.items()}
        )
    table: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for (token, word), probability in translation.items():
        if probability >= MIN_PROBABILITY and word != NULL:
            table[word].append((token, probability))
    return {
        word: sorted(options, key=lambda option: (-option[1], option[0]))[:MAX_TRANSLATIONS]
        for word, options in sorted(table.items())
    }


def write_lexicon(table: dict[str, list[tuple[str, float]]], path: Path, learnt_from: int) -> None:
    """Write the table as TSV (english, Indonesian token, probability) under a header that
    says where it comes from."""
    lines = [f"# {SOURCE}", f"# {learnt_from} question pairs; t >= {MIN_PROBABILITY}; en\tid\tt"]
    for word, options in table.items():
        lines += [f"{word}\t{token}\t{probability:.3f}" for token, probability in options]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def parallel_questions(train: Path) -> list[tuple[str, str]]:
    """(English, Indonesian) question pairs of Trans-SQuAD in a `../shared/train` folder."""
    questions = {}
    for name in PAIRED_FILES:
        with gzip.open(train / f"{name}.jsonl.gz", "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                questions[record["id"]] = record["question"]
    return [
        (question, questions[qid.removesuffix("-en")])
        for qid, question in questions.items()
        if qid.endswith("-en") and qid.removesuffix("-en") in questions
    ]


def main(argv: list[str] | None = None) -> None:
    """`python -m training.lexicon --train DIR [--out FILE]`: learn the word table."""
    parser = argparse.ArgumentParser(prog="python -m training.lexicon")
    parser.add_argument("--train", type=Path, required=True, help="../shared/train")
    parser.add_argument("--out", type=Path, default=LEXICON)
    args = parser.parse_args(argv)
    missing = [n for n in PAIRED_FILES if not (args.train / f"{n}.jsonl.gz").is_file()]
    if missing:
        parser.exit(2, f"no {', '.join(missing)}.jsonl.gz in {args.train}\n")
    pairs = parallel_questions(args.train)
    table = learn_lexicon(pairs)
    write_lexicon(table, args.out, len(pairs))
    print(f"{len(pairs)} question pairs -> {len(table)} English words -> {args.out}")


if __name__ == "__main__":
    main()
