"""The lexical side of retrieval: Indonesian-aware tokens and a BM25 index that follows writes.

The index is a large main segment plus a small recent one, each with its dead rows; scores use
collection-wide statistics, so they are exactly those of one index built from every live passage,
while an update costs what changed (and, now and then, a merge of term counts: no re-tokenizing).
"""

from __future__ import annotations

import json
import math
import shutil
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import sparse

from berita.text import words

# Function words of Indonesian and English (pronouns included: the English -> Indonesian table
# learned junk for them, "his" -> "tahun"), the question words of both, and the words asking
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
    i me my mine we us our ours you your yours he him his she her hers they them their theirs
    become became becomes
    latest newest recent recently
    """.split()
)


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
    for raw in words(text):
        for part in [raw, *raw.split("-")] if "-" in raw else [raw]:
            if part not in STOPWORDS:
                tokens.append(stem(part))
    return tokens


K1, B = 1.2, 0.75  # BM25 as Lucene computes it (bm25s' default too)
RECENT_MIN_ROWS = 1000  # the recent segment is merged into the main one past this many rows,
MERGE_FRACTION = 0.1  # or past this fraction of the main segment's rows (dead rows likewise)

Change = tuple[str, list[str] | None]  # a passage id and its tokens; None: the passage was removed


class Segment:
    """Passages' term counts, term-major (a term's postings are one slice); never changed
    once made, so a segment on disk is shared by every index revision that uses it."""

    def __init__(
        self,
        key: str,
        ids: list[str],
        lengths: np.ndarray,
        terms: list[str],
        postings: sparse.csc_array,
    ) -> None:
        self.key = key
        self.ids = ids
        self.lengths = lengths
        self.terms = terms
        self.postings = postings  # rows: passages, columns: terms, values: counts
        self.column = {term: i for i, term in enumerate(terms)}

    @classmethod
    def from_tokens(cls, ids: list[str], tokens: list[list[str]]) -> Segment:
        """A segment of passages given as their tokens (`ids[i]` names `tokens[i]`)."""
        column: dict[str, int] = {}
        rows, cols = [], []
        for row, passage in enumerate(tokens):
            for token in passage:
                rows.append(row)
                cols.append(column.setdefault(token, len(column)))
        counts = np.ones(len(rows), dtype=np.float32)
        shape = (len(ids), len(column))
        postings = sparse.csc_array((counts, (rows, cols)), shape=shape)  # repeats are summed
        lengths = np.array([len(passage) for passage in tokens], dtype=np.float32)
        return cls(_new_key(), list(ids), lengths, list(column), postings)

    @classmethod
    def merge(cls, parts: list[tuple[Segment, np.ndarray]]) -> Segment:
        """One segment of the live rows (`alive` masks) of several, in their order."""
        column: dict[str, int] = {}
        ids: list[str] = []
        lengths, rows, cols, counts = [], [], [], []
        for segment, alive in parts:
            new_row = np.cumsum(alive) - 1 + len(ids)
            new_col = np.array([column.setdefault(t, len(column)) for t in segment.terms], int)
            coo = segment.postings.tocoo()
            keep = alive[coo.row]
            rows.append(new_row[coo.row[keep]])
            cols.append(new_col[coo.col[keep]])
            counts.append(coo.data[keep])
            ids.extend(pid for pid, live in zip(segment.ids, alive, strict=True) if live)
            lengths.append(segment.lengths[alive])
        postings = sparse.csc_array(
            (np.concatenate(counts), (np.concatenate(rows), np.concatenate(cols))),
            shape=(len(ids), len(column)),
        )
        return cls(_new_key(), ids, np.concatenate(lengths), list(column), postings)

    def save(self, folder: Path) -> None:
        """Write the segment into `folder` (numpy arrays and JSON, no pickle)."""
        if (folder / "segment.json").is_file():
            return  # a segment never changes: the one there is this one
        with _atomic_folder(folder) as tmp:
            np.savez(
                tmp / "postings.npz",
                counts=self.postings.data,
                rows=self.postings.indices,
                starts=self.postings.indptr,
                lengths=self.lengths,
            )
            state = {"ids": self.ids, "terms": self.terms}
            (tmp / "segment.json").write_text(json.dumps(state, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> Segment:
        """The segment saved in `folder` (raises when it is missing or damaged)."""
        state = json.loads((folder / "segment.json").read_text("utf-8"))
        ids, terms = list(state["ids"]), list(state["terms"])
        with np.load(folder / "postings.npz", allow_pickle=False) as arrays:
            counts, rows, starts = arrays["counts"], arrays["rows"], arrays["starts"]
            lengths = arrays["lengths"]
        if (
            len(lengths) != len(ids)
            or len(starts) != len(terms) + 1
            or (len(rows) and not 0 <= rows.min() <= rows.max() < len(ids))
        ):
            raise ValueError(f"damaged segment {folder}")
        postings = sparse.csc_array((counts, rows, starts), shape=(len(ids), len(terms)))
        return cls(folder.name, ids, lengths, terms, postings)

    def postings_of(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """The rows holding a token and its count in each."""
        col = self.column.get(token)
        if col is None:
            return _NO_ROWS, _NO_COUNTS
        start, end = self.postings.indptr[col], self.postings.indptr[col + 1]
        return self.postings.indices[start:end], self.postings.data[start:end]


_NO_ROWS = np.zeros(0, dtype=np.int32)
_NO_COUNTS = np.zeros(0, dtype=np.float32)


class LexicalIndex:
    """BM25 over passages addressed by id: segments with their live rows, scored together."""

    def __init__(self, segments: list[tuple[Segment, np.ndarray]]) -> None:
        self._segments = segments  # (segment, alive mask): main first, then the recent one
        self._where = {
            segment.ids[row]: (number, int(row))
            for number, (segment, alive) in enumerate(segments)
            for row in np.flatnonzero(alive)
        }
        self._total_length = float(sum(s.lengths[alive].sum() for s, alive in segments))

    @classmethod
    def build(cls, ids: list[str], texts: list[str]) -> LexicalIndex:
        """Index passages (`ids[i]` names `texts[i]`)."""
        return cls([]).updated((pid, tokenize(text)) for pid, text in zip(ids, texts, strict=True))

    @property
    def ids(self) -> list[str]:
        """The ids of the indexed passages."""
        return list(self._where)

    def updated(self, changes: Iterable[Change]) -> LexicalIndex:
        """This index after the changes, in order (an id added again replaces its passage).

        The main segment is kept and the recent one remade; both are merged into a new main
        one when the recent rows or the main's dead rows grow past MERGE_FRACTION of it.
        """
        alive = [mask.copy() for _, mask in self._segments]
        added: dict[str, list[str]] = {}
        for pid, tokens in changes:
            if pid in self._where:
                number, row = self._where[pid]
                alive[number][row] = False
            added.pop(pid, None)
            if tokens is not None:
                added[pid] = tokens
        parts = [(segment, mask) for (segment, _), mask in zip(self._segments, alive, strict=True)]
        if added:
            fresh = Segment.from_tokens(list(added), list(added.values()))
            parts.append((fresh, np.ones(len(added), dtype=bool)))
        if not parts:
            return LexicalIndex([])
        (main, main_alive), recent = parts[0], parts[1:]
        recent_rows = sum(int(mask.sum()) for _, mask in recent)
        limit = max(RECENT_MIN_ROWS, MERGE_FRACTION * len(main.ids))
        if recent_rows > limit or len(main.ids) - main_alive.sum() > limit:
            return LexicalIndex([_whole(Segment.merge(parts))])
        if len(recent) > 1:
            recent = [_whole(Segment.merge(recent))]
        return LexicalIndex([(main, main_alive), *recent])

    def document_frequency(self, token: str) -> int:
        """How many passages hold the token."""
        return sum(
            int(alive[segment.postings_of(token)[0]].sum()) for segment, alive in self._segments
        )

    def says(self, token: str) -> bool:
        """Whether some passage holds the token."""
        return self.document_frequency(token) > 0

    def idf(self, token: str) -> float:
        """How rare a token is among the passages (BM25's idf; unseen tokens are the rarest)."""
        return self._idf(self.document_frequency(token))

    def _idf(self, document_frequency: int) -> float:
        n, df = len(self._where), document_frequency
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def search(self, query: str, n: int) -> list[tuple[str, float]]:
        """The `n` passages with the best BM25 scores for the query (above 0), best first."""
        # Repeated query tokens count each time, as in bm25s.
        return self.search_terms(Counter(tokenize(query)), n)

    def search_terms(self, terms: Mapping[str, float], n: int) -> list[tuple[str, float]]:
        """`search` for weighted query tokens: each token's BM25 term scaled by its weight."""
        weights = [
            (token, weight * self._idf(frequency))
            for token, weight in terms.items()
            if (frequency := self.document_frequency(token)) and weight > 0
        ]  # unseen tokens match nothing
        if not weights:
            return []
        average_length = self._total_length / len(self._where)
        hits: list[tuple[float, str]] = []
        for segment, alive in self._segments:
            scores = np.zeros(len(segment.ids), dtype=np.float64)
            norm = K1 * (1 - B + B * segment.lengths / average_length)
            for token, weight in weights:
                rows, counts = segment.postings_of(token)
                scores[rows] += weight * counts / (counts + norm[rows])
            scores[~alive] = 0
            best = np.flatnonzero(scores > 0)
            best = best[np.argsort(-scores[best], kind="stable")[:n]]
            hits.extend((float(scores[row]), segment.ids[row]) for row in best)
        hits.sort(key=lambda hit: -hit[0])
        return [(pid, score) for score, pid in hits[:n]]

    def segment_keys(self) -> set[str]:
        """The names of the segments this index is made of."""
        return {segment.key for segment, _ in self._segments}

    def save(self, folder: Path, segments: Path) -> None:
        """Write the index: its segments into `segments` (those already there are kept) and
        which rows of each are live into `folder`, atomically (readers never see half)."""
        for segment, _ in self._segments:
            segment.save(segments / segment.key)
        state = [
            {"segment": segment.key, "dead": np.flatnonzero(~alive).tolist()}
            for segment, alive in self._segments
        ]
        with _atomic_folder(folder) as tmp:
            (tmp / "index.json").write_text(json.dumps({"segments": state}), "utf-8")

    @classmethod
    def load(
        cls, folder: Path, segments: Path, known: LexicalIndex | None = None
    ) -> LexicalIndex | None:
        """The index saved in `folder`, or None when there is none or it cannot be read
        (the caller rebuilds it from the store); segments `known` already are not read again."""
        in_memory = {s.key: s for s, _ in known._segments} if known else {}
        try:
            parts = []
            for entry in json.loads((folder / "index.json").read_text("utf-8"))["segments"]:
                key = str(entry["segment"])
                segment = in_memory.get(key) or Segment.load(segments / key)
                alive = np.ones(len(segment.ids), dtype=bool)
                alive[np.asarray(entry["dead"], dtype=int)] = False
                parts.append((segment, alive))
        except Exception:  # noqa: BLE001 - any damage or format change means: rebuild
            return None
        return cls(parts)


class Journal:
    """The writes to a store since its committed revision, one record a write: an index
    follows them by reading only the records it has not applied."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def append(self, after: str, mark: str, changes: list[Change]) -> None:
        """Record a write that the store marks `mark`, made when its mark was `after`
        (callers hold the store's write lock)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        number = len(list(self.folder.glob("*.json")))
        record = {"after": after, "mark": mark, "changes": changes}
        tmp = self.folder / f".{number:08d}.tmp"
        tmp.write_text(json.dumps(record, ensure_ascii=False), "utf-8")
        tmp.replace(self.folder / f"{number:08d}.json")

    def records(self, start: int = 0) -> Iterator[tuple[str, str, list[Change]]]:
        """The records from number `start` on, in order: (after, mark, changes)."""
        names = sorted(p.name for p in self.folder.glob("*.json")) if self.folder.is_dir() else []
        for name in names[start:]:
            record = json.loads((self.folder / name).read_text("utf-8"))
            changes = [(str(pid), tokens) for pid, tokens in record["changes"]]
            yield str(record["after"]), str(record["mark"]), changes


def _whole(segment: Segment) -> tuple[Segment, np.ndarray]:
    return segment, np.ones(len(segment.ids), dtype=bool)


@contextmanager
def _atomic_folder(folder: Path) -> Iterator[Path]:
    """A folder to fill, renamed to `folder` once full; when another process put the same
    folder there first, theirs stays."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{_new_key()}")
    tmp.mkdir()
    try:
        yield tmp
        tmp.replace(folder)
    except OSError:
        if not folder.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _new_key() -> str:
    return uuid.uuid4().hex[:12]
