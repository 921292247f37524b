"""English questions over Indonesian passages: the Indonesian words an English question's words
translate to, so that BM25 can match them (the dense side is multilingual already).

The word table (`lexicon_en_id.tsv`) is learnt with IBM Model 1 from Trans-SQuAD 2.0's parallel
questions (each English SQuAD 2.0 dev question and its Indonesian translation):
`python -m training.lexicon --train ../shared/train` (in a clone) learns it again.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

from berita.text import words
from berita.vectorstore.lexical import STOPWORDS, stem, tokenize

LEXICON = Path(__file__).with_name("lexicon_en_id.tsv")


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


def _singular(word: str) -> str:
    """An English word made singular by its regular endings ("cities" -> "city")."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word
