"""A few training questions and a tiny dev suite, for the reader's smoke runs."""

import gzip
import json
from pathlib import Path

CONTEXTS = {
    "csto": "Armenia, Belarus, Kazakhstan, Kirgistan, Rusia dan Tajikistan adalah anggota CSTO. "
    "Azerbaijan, Georgia dan Uzbekistan telah meninggalkan organisasi itu.",
    "beras": "Harga beras di pasar induk naik menjadi Rp14.500 per kilogram pekan ini.",
    "banjir": "Banjir merendam ratusan rumah di Kampung Melayu setelah hujan deras semalam.",
}


def _question(qid, question, context, answer=None, lang="id"):
    text = CONTEXTS[context]
    answers = [{"text": answer, "start": text.index(answer)}] if answer else []
    return {
        "id": qid,
        "question": question,
        "lang": lang,
        "context": text,
        "context_id": context,
        "answerable": answer is not None,
        "answers": answers,
    }


def write_training_data(root: Path) -> Path:
    """Training files under `root/train` and a dev suite under `root/eval`; returns the first."""
    folder = root / "train"
    folder.mkdir()
    records = [
        _question("q1", "Negara mana yang keluar dari CSTO?", "csto", "Azerbaijan"),
        _question("q2", "Berapa harga beras di pasar induk?", "beras", "Rp14.500"),
        _question("q3", "Berapa rumah yang terendam banjir?", "banjir", "ratusan rumah"),
        _question("q4", "Siapa presiden CSTO?", "csto"),  # unanswerable over its paragraph
        _question("q5", "Which countries left the CSTO?", "csto", "Azerbaijan", lang="en"),
    ]
    with gzip.open(folder / "idkmrc-train.jsonl.gz", "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(r) + "\n" for r in records)
    suite = root / "eval" / "idkmrc-dev"
    suite.mkdir(parents=True)
    (suite / "corpus.jsonl").write_text(
        "".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in CONTEXTS.items()), "utf-8"
    )
    questions = [
        {"id": "d1", "question": "Kapan Georgia keluar dari CSTO?", "doc_id": "csto"},
        {"id": "d2", "question": "Berapa rumah terendam banjir pekan ini?", "doc_id": "banjir"},
        {"id": "d3", "question": "Siapa presiden CSTO?", "doc_id": None},
    ]
    (suite / "questions.jsonl").write_text(
        "".join(json.dumps({**q, "answers": [], "lang": "id"}) + "\n" for q in questions), "utf-8"
    )
    return folder
