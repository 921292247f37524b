"""English questions over Indonesian passages: the word table and the BM25 terms it adds."""

import gzip
import json

import pytest

from berita.vectorstore.crosslingual import (
    english_words,
    load_lexicon,
    query_terms,
    question_terms,
)
from berita.vectorstore.lexical import LexicalIndex
from training.lexicon import learn_lexicon, main

PASSAGES = {
    "desa": "Banjir merendam tiga desa di tepi sungai sejak Senin.",
    "kota": "Banjir merendam pusat kota sejak Senin.",
}


def test_an_english_question_finds_the_indonesian_passage_through_the_shipped_table():
    index = LexicalIndex.build(list(PASSAGES), list(PASSAGES.values()))
    question = "How many villages were flooded?"
    assert index.search(question, 5) == []  # no English word is in the passages
    terms = query_terms(question, "en")
    assert terms["desa"] > 0.5 and terms["banjir"] > 0  # village(s) -> desa, flood(ed) -> banjir
    assert index.search_terms(terms, 5)[0][0] == "desa"


def test_indonesian_questions_keep_their_own_tokens_only():
    question = "Berapa desa yang terendam banjir?"
    assert query_terms(question, "id") == {"desa": 1, "rendam": 1, "banjir": 1}


def test_a_question_word_is_found_by_its_own_token_or_a_translation():
    english = question_terms("Which villages were flooded in 2020?", "en")
    assert {"villages", "desa"} <= next(word for word in english if "desa" in word)
    assert frozenset({"2020"}) in english
    indonesian = question_terms("Berapa desa yang terendam banjir?", "id")
    assert indonesian == [frozenset({"desa"}), frozenset({"rendam"}), frozenset({"banjir"})]


def test_english_pronouns_are_no_words_of_the_question():
    # the learned table maps them to junk ("his" -> "tahun", "her" -> "undang")
    terms = question_terms("Where did she hold her party when his son became mayor?", "en")
    assert not {"she", "her", "his", "became", "tahun", "undang"} & set().union(*terms)
    assert any("son" in word for word in terms)


def test_weighted_search_is_search_for_token_counts():
    index = LexicalIndex.build(list(PASSAGES), list(PASSAGES.values()))
    query = "banjir banjir di desa"
    assert index.search(query, 5) == index.search_terms({"banjir": 2, "desa": 1}, 5)


def test_ibm_model_1_learns_words_from_sentence_pairs():
    pairs = [
        ("the village head", "kepala desa"),
        ("a big village", "desa besar"),
        ("the head of the river", "kepala sungai"),
        ("a big river", "sungai besar"),
    ] * 3
    table = learn_lexicon(pairs)
    assert table["village"][0][0] == "desa"
    assert table["river"][0][0] == "sungai"
    assert english_words("The Rivers and Cities") == ["river", "city"]


def test_the_table_is_learnt_again_from_parallel_questions(tmp_path, capsys):
    for name, suffix, question in [
        ("transsquad-en", "-en", "Which village is big?"),
        ("transsquad-id", "", "Desa mana yang besar?"),
    ]:
        with gzip.open(tmp_path / f"{name}.jsonl.gz", "wt", encoding="utf-8") as handle:
            handle.write(json.dumps({"id": f"q1{suffix}", "question": question}) + "\n")
    out = tmp_path / "lexicon.tsv"
    main(["--train", str(tmp_path), "--out", str(out)])
    assert "1 question pairs" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8").startswith("# IBM Model 1")
    assert "desa" in dict(load_lexicon(out)["village"])


def test_a_folder_without_the_parallel_files_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--train", str(tmp_path)])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
