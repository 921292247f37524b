#!/bin/sh
# One run on a GPU machine (the `device` tool: `run` with carry ["build/reader-data"], made by
# `python -m training.train prepare` beforehand): two readers, A and B, each stopping by its
# deadline and writing its shards and card under $OUT/reader-a and $OUT/reader-b (each under
# 16 MB a file). Defaults: two 12-layer variants of v2's recipe (IDK-MRC and FacQA questions with
# 8 hard negatives each, Trans-SQuAD's with 2) that aim at IDK-MRC's unanswerable questions, the
# refusals v2 is worst at: A pairs each unanswerable question with its own paragraph 3 times; B
# gives IDK-MRC questions 2 hard negatives, as v1 (0.631 refused on its card, v2 0.526) had.
# LAYERS_, FILES_, REPEATS_ and DEADLINE_ with A or B override them.
# With SENTENCES_INIT set (a reader's folder), it instead teaches that reader the answering
# sentence (`training.sentences`, the questions in TRAIN, default build/train: a copy of
# ../shared/train in `carry`) for SENTENCE_EPOCHS (3) or DEADLINE_S (420 s), into $OUT/reader-s,
# with SENTENCE_NEARBY (1) negatives from the next paragraphs, SENTENCE_TITLED (0.5) of the
# questions read under their paragraph's opening words and SENTENCE_THREADED (0.2) asked as a
# follow-up is read (docs/reader.md: the CPU run of this recipe).
# The trainer (sentence-transformers' CrossEncoderTrainer) needs `datasets`, which the GPU image
# lacks: carry its wheels in .whl (docs/reader.md, "Retrain it"); they are installed first.
set -e
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
    "${PYTHON:-python3}" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
if [ -n "${SENTENCES_INIT:-}" ]; then
    exec "${PYTHON:-python3}" -m training.sentences --train "${TRAIN:-build/train}" \
        --init "$SENTENCES_INIT" --out "$OUT/reader-s" --epochs "${SENTENCE_EPOCHS:-3}" \
        --deadline-s "${DEADLINE_S:-420}" --nearby "${SENTENCE_NEARBY:-1}" \
        --titled "${SENTENCE_TITLED:-0.5}" --threaded "${SENTENCE_THREADED:-0.2}"
fi
DATA=${DATA:-build/reader-data}
train() { # name layers files repeats deadline
    # shellcheck disable=SC2086 # the files are a list of words
    "${PYTHON:-python3}" -m training.train fit --data "$DATA" --out "$OUT/reader-$1" --layers "$2" \
        --files $3 --unanswerable-repeats "$4" --deadline-s "$5"
}
train a "${LAYERS_A:-12}" "${FILES_A:-idkmrc-train:8 facqa-train:8 transsquad-id:2 transsquad-en:2}" \
    "${REPEATS_A:-3}" "${DEADLINE_A:-270}"
train b "${LAYERS_B:-12}" "${FILES_B:-idkmrc-train:2 facqa-train:8 transsquad-id:2 transsquad-en:2}" \
    "${REPEATS_B:-1}" "${DEADLINE_B:-270}"
