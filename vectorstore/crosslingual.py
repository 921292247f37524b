"""English questions over Indonesian passages: the Indonesian words an English question's words
translate to, so that BM25 can match them (the dense side is multilingual already).

The word table (`lexicon_en_id.tsv`) is learnt with IBM Model 1 from Trans-SQuAD 2.0's parallel
questions (each English SQuAD 2.0 dev question and its Indonesian translation):
`python -m vectorstore.crosslingual --train ../shared/train` writes it again.
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from vectorstore.lexical import STOPWORDS, stem, tokenize, words

LEXICON = Path(__file__).with_name("lexicon_en_id.tsv")
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


def english_words(text: str) -> list[str]:
    """An English text's content words, lower-cased, plurals made singular."""
    return [_singular(word) for word in words(text) if word not in STOPWORDS]


def query_terms(question: str, lang: str) -> Counter[str]:
    """The weighted BM25 tokens of a question: its own tokens, and for an English question the
    Indonesian tokens its words translate to, each weighted by its translation probability."""
    terms: Counter[str] = Counter(tokenize(question))
    if lang == "en":
        for word in words(question):
            for token, probability in translations(word):
                if token != stem(_singular(word)):  # a name or cognate: among its own tokens
                    terms[token] += probability
    return terms


def question_terms(question: str, lang: str) -> list[frozenset[str]]:
    """The question's content words, each as the tokens that count as finding it in a passage:
    its own token and, for an English question, the Indonesian tokens it translates to."""
    if lang != "en":
        return [frozenset([token]) for token in dict.fromkeys(tokenize(question))]
    found = [
        frozenset(tokenize(word)) | {token for token, _ in translations(word)}
        for word in words(question)
        if word not in STOPWORDS
    ]
    return list(dict.fromkeys(options for options in found if options))


def translations(word: str) -> tuple[tuple[str, float], ...]:
    """The Indonesian tokens an English word (lower-case, as written) translates to, with their
    probabilities, most likely first; none for a stop word or a word the table lacks."""
    if word in STOPWORDS:
        return ()
    return load_lexicon(LEXICON).get(_singular(word), ())


@lru_cache(maxsize=2)
def load_lexicon(path: Path) -> dict[str, tuple[tuple[str, float], ...]]:
    """English word -> its Indonesian tokens and probabilities, most likely first."""
    table: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            english, token, probability = line.split("\t")
            table[english].append((token, float(probability)))
    return {word: tuple(pairs) for word, pairs in table.items()}


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


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def main(argv: list[str] | None = None) -> None:
    """`python -m vectorstore.crosslingual --train DIR [--out FILE]`: learn the word table."""
    parser = argparse.ArgumentParser(prog="python -m vectorstore.crosslingual")
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
