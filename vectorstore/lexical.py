"""The lexical side of retrieval: Indonesian-aware tokens and a BM25 index (bm25s)."""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
import uuid
from collections import Counter
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np

# Function words of Indonesian and English, the question words of both, and the words asking
# for the latest news (retrieval weighs recency for those): they say nothing about which
# passage answers a question.
STOPWORDS = frozenset(
    """
    yang dan di ke dari ini itu dengan untuk pada adalah dalam tidak akan oleh sebagai juga sudah
    telah atau serta bahwa karena agar supaya jika kalau maka namun tetapi tapi lalu kemudian
    sedangkan sehingga hingga sampai antara para pun lah kah nya ia dia mereka kami kita saya aku
    anda engkau kamu beliau tersebut sebuah seorang suatu se sang si ada bisa dapat harus masih
    sedang baru lebih paling sangat hanya saja pula lagi belum bukan jadi menjadi merupakan yakni
    yaitu ialah secara terhadap tentang seperti bagi atas bawah dalam luar per tiap setiap semua
    seluruh beberapa banyak sebagian tanpa sejak selama saat ketika sebelum sesudah setelah
    apa apakah siapa siapakah kapan kapankah berapa berapakah mana manakah dimana dimanakah
    bagaimana bagaimanakah mengapa kenapa manakah bilamana terbaru terkini
    the a an of in on at to for from by with about as is are was were be been being am do does did
    has have had this that these those it its and or but not no nor so than then there here which
    what who whom whose when where why how many much into onto over under also any some all each
    other such only own same too very can will just should would could may might must shall
    latest newest recent recently
    """.split()
)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on itself at import
_TOKEN = re.compile(r"[0-9]+(?:[.,][0-9]+)*|[^\W_]+(?:-[^\W_]+)*", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer():  # Sastrawi has no types
    from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

    return StemmerFactory().create_stemmer()


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Indonesian stem of a lower-case word (Sastrawi); numbers and names pass through."""
    if not word.isalpha() or len(word) <= 3:
        return word
    return _stemmer().stem(word) or word


def tokenize(text: str) -> list[str]:
    """Content tokens of a text: lower-cased, stop words dropped, Indonesian stems."""
    tokens = []
    for raw in _TOKEN.findall(text.casefold()):
        for part in [raw, *raw.split("-")] if "-" in raw else [raw]:
            if part not in STOPWORDS:
                tokens.append(stem(part))
    return tokens


class LexicalIndex:
    """BM25 over passages, addressed by passage id."""

    def __init__(
        self, ids: list[str], retriever: bm25s.BM25 | None, doc_freq: dict[str, int]
    ) -> None:
        self.ids = ids
        self._retriever = retriever
        self._doc_freq = doc_freq

    @classmethod
    def build(cls, ids: list[str], texts: list[str]) -> LexicalIndex:
        """Index passages (`ids[i]` names `texts[i]`)."""
        if not ids:
            return cls([], None, {})
        corpus = [tokenize(text) or ["_"] for text in texts]
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        retriever.index(corpus, show_progress=False)
        return cls(list(ids), retriever, dict(Counter(t for tokens in corpus for t in set(tokens))))

    def idf(self, token: str) -> float:
        """How rare a token is among the passages (BM25's idf; unseen tokens are the rarest)."""
        n, df = len(self.ids), self._doc_freq.get(token, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for the query (zeros when nothing matches)."""
        tokens = tokenize(query)
        if self._retriever is None or not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        known = [t for t in tokens if t in self._retriever.vocab_dict]
        if not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._retriever.get_scores(known), dtype=np.float32)

    def save(self, folder: Path) -> None:
        """Write the index into `folder` (bm25s' own arrays, no pickle), atomically: it is
        built beside and renamed into place, so readers never see half an index."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}")
        tmp.mkdir()
        try:
            if self._retriever is not None:
                self._retriever.save(str(tmp), show_progress=False)
            state = {"ids": self.ids, "doc_freq": self._doc_freq}
            (tmp / "passages.json").write_text(json.dumps(state, ensure_ascii=False), "utf-8")
            tmp.replace(folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (folder / "passages.json").is_file():
                raise  # not another process's identical index that won the rename

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex | None:
        """The index saved in `folder`, or None when there is none or it cannot be read
        (the caller rebuilds it from the store)."""
        try:
            state = json.loads((folder / "passages.json").read_text("utf-8"))
            ids, doc_freq = list(state["ids"]), dict(state["doc_freq"])
            retriever = None
            if ids:
                retriever = bm25s.BM25.load(
                    str(folder), mmap=False, allow_pickle=False, show_progress=False
                )
                if retriever.scores["num_docs"] != len(ids):
                    return None
        except Exception:  # noqa: BLE001 - any damage or format change means: rebuild
            return None
        return cls(ids, retriever, doc_freq)
