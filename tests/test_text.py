from berita.text import detect_language, normalize, split_sentences


def test_split_sentences_keeps_abbreviations_and_quotes():
    text = "Dr. Ani tiba di Jl. Sudirman. “Kami siap,” katanya. Ia pulang pukul 5."
    assert split_sentences(text) == [
        "Dr. Ani tiba di Jl. Sudirman.",
        "“Kami siap,” katanya.",
        "Ia pulang pukul 5.",
    ]


def test_split_sentences_breaks_at_newlines_and_ignores_decimals():
    assert split_sentences("Harga Rp14.500 per kg. Naik 2,5 persen.\nJudul baru") == [
        "Harga Rp14.500 per kg.",
        "Naik 2,5 persen.",
        "Judul baru",
    ]


def test_normalize_matches_the_eval_definition():
    assert normalize("  Badan Tenaga Atom (IAEA)!  ") == "badan tenaga atom iaea"


def test_detect_language():
    assert detect_language("which countries left CSTO?") == "en"
    assert detect_language("Negara mana saja yang keluar dari CSTO?") == "id"
    assert detect_language("Siapa juru bicara Kremlin?") == "id"
    assert detect_language("Who is the Prime Minister of Armenia?") == "en"


def test_a_title_or_name_in_english_leaves_an_indonesian_question_indonesian():
    assert detect_language("Kapan Fly to the Sky mulai debut?") == "id"
    assert detect_language("Siapa penulis novel The Chronicles of Narnia?") == "id"
    assert detect_language("Dimanakah lokasi Commanding and General Staff College?") == "id"
    assert detect_language("Whose ideas became radical during his imprisonment?") == "en"
    assert detect_language("In what year was the film Ibunda made?") == "en"


def test_canonical_urls_drop_tracking_fragments_and_trailing_slashes():
    from berita.ingest.article import canonical_url

    same = {
        canonical_url(url)
        for url in (
            "https://News.Example.com/berita/banjir",
            "https://news.example.com/berita/banjir/",
            "https://news.example.com/berita/banjir?utm_source=wa&fbclid=1",
            "https://news.example.com/berita/banjir#komentar",
            "HTTPS://news.example.com/berita/banjir?gclid=2",
        )
    }
    assert same == {"https://news.example.com/berita/banjir"}
    assert canonical_url("https://news.example.com/a?id=3&page=2") != canonical_url(
        "https://news.example.com/a?id=4&page=2"
    )


def test_split_sentences_keeps_a_number_cut_by_a_stray_space():
    text = "Cakupannya 22.091. 039 anak dari 23.312. 794 balita. Tahun 2005. 10 orang hadir."
    assert split_sentences(text) == [
        "Cakupannya 22.091. 039 anak dari 23.312. 794 balita.",
        "Tahun 2005.",
        "10 orang hadir.",
    ]
