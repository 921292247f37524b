import random

import bm25s
import numpy as np
import pytest

from berita.vectorstore import lexical
from berita.vectorstore.lexical import LexicalIndex, tokenize

WORDS = (
    "harga beras naik pasar banjir jakarta gempa bumi presiden menteri pemilu suara partai "
    "sekolah guru murid kereta bandara pesawat jalan tol rumah sakit dokter vaksin petani "
    "panen jagung nelayan ikan laut kapal pelabuhan listrik air bersih"
).split()
QUERIES = ["harga beras di pasar", "banjir jakarta", "pesawat di bandara", "dokter vaksin"]


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 25)))


def _assert_same_answers(index: LexicalIndex, passages: dict[str, str]) -> None:
    rebuilt = LexicalIndex.build(list(passages), list(passages.values()))
    assert sorted(index.ids) == sorted(passages)
    for query in QUERIES:
        got, want = dict(index.search(query, 1000)), dict(rebuilt.search(query, 1000))
        assert got.keys() == want.keys()
        assert np.allclose([got[p] for p in want], list(want.values()), rtol=1e-6)
        assert index.idf(tokenize(query)[0]) == pytest.approx(rebuilt.idf(tokenize(query)[0]))


def test_tokenize_drops_question_and_function_words_and_stems():
    assert tokenize("Siapakah yang meninggalkan keanggotaannya di CSTO?") == [
        "tinggal",
        "anggota",
        "csto",
    ]
    assert tokenize("Which countries left the CSTO in 2020?") == [
        "countries",
        "left",
        "csto",
        "2020",
    ]


def test_tokenize_keeps_numbers_and_hyphenated_names():
    assert tokenize("Pesawat GA-181 membawa 84 penumpang") == [
        "pesawat",
        "ga-181",
        "ga",
        "181",
        "bawa",
        "84",
        "tumpang",
    ]


def test_bm25_ranks_the_passage_sharing_rare_terms(tmp_path):
    index = LexicalIndex.build(
        ["a", "b", "c"],
        ["Harga beras naik di pasar", "Banjir melanda Jakarta", "Pemerintah menaikkan harga BBM"],
    )
    hits = index.search("Berapa harga beras di pasar?", 10)
    assert [pid for pid, _ in hits] == ["a", "c"]
    assert index.document_frequency("harga") == 2 and index.says("banjir")
    assert not index.says("gempa")
    index.save(tmp_path / "x.bm25", tmp_path / "segments")
    loaded = LexicalIndex.load(tmp_path / "x.bm25", tmp_path / "segments")
    assert loaded is not None and loaded.ids == ["a", "b", "c"]
    assert [pid for pid, _ in loaded.search("banjir", 10)] == ["b"]
    assert LexicalIndex.load(tmp_path / "missing.bm25", tmp_path / "segments") is None


def test_scores_are_bm25_as_bm25s_computes_them():
    rng = random.Random(7)
    texts = [_text(rng) for _ in range(200)]
    index = LexicalIndex.build([str(i) for i in range(200)], texts)
    oracle = bm25s.BM25(k1=1.2, b=0.75)
    oracle.index([tokenize(text) for text in texts], show_progress=False)
    for query in QUERIES:
        expected = oracle.get_scores(tokenize(query))
        got = dict(index.search(query, 200))
        assert got.keys() == {str(i) for i in np.flatnonzero(expected)}
        assert np.allclose([got[p] for p in got], [expected[int(p)] for p in got], rtol=1e-5)


@pytest.mark.parametrize("recent_min_rows", [3, 1000])  # merged often / kept apart
def test_an_updated_index_answers_as_one_built_from_scratch(tmp_path, monkeypatch, recent_min_rows):
    monkeypatch.setattr(lexical, "RECENT_MIN_ROWS", recent_min_rows)
    rng = random.Random(recent_min_rows)
    passages = {f"p{i}": _text(rng) for i in range(60)}
    index = LexicalIndex.build(list(passages), list(passages.values()))
    main = index.segment_keys()
    for step in range(40):
        changes = []
        for _ in range(rng.randint(1, 4)):
            pid = rng.choice([*passages, f"new{step}"])
            if rng.random() < 0.3 and pid in passages:
                del passages[pid]
                changes.append((pid, None))
            else:
                passages[pid] = _text(rng)  # added, or replaced
                changes.append((pid, tokenize(passages[pid])))
        index = index.updated(changes)
        if step % 10 == 9:  # a saved and reloaded index is the same one
            index.save(tmp_path / f"{step}.bm25", tmp_path / "segments")
            index = LexicalIndex.load(tmp_path / f"{step}.bm25", tmp_path / "segments")
            assert index is not None
        _assert_same_answers(index, passages)
    # Kept apart, the first segment stays as it was (an update did not cost the whole index).
    assert (main <= index.segment_keys()) == (recent_min_rows == 1000)
