from vectorstore.lexical import LexicalIndex, tokenize


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
    scores = index.scores("Berapa harga beras di pasar?")
    assert scores.argmax() == 0 and scores[1] == 0
    index.save(tmp_path / "x.bm25")
    loaded = LexicalIndex.load(tmp_path / "x.bm25")
    assert loaded is not None and loaded.ids == ["a", "b", "c"]
    assert (loaded.scores("banjir") > 0).tolist() == [False, True, False]
    assert LexicalIndex.load(tmp_path / "missing.bm25") is None
