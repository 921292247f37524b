#!/bin/sh
# One run on a GPU machine (the `device` tool: `run` with carry ["build/reader-data"]), made by
# `python -m reader.train prepare` beforehand: a 12-layer and a 6-layer reader, each stopping by
# its deadline and writing its shards and card under $OUT (7 files, each under 16 MB).
# The pairs follow the feasibility runs: IDK-MRC and FacQA questions with 8 hard
# negatives each (refusals in the suites' own domains), Trans-SQuAD's with 2.
set -e
export PYTHONUNBUFFERED=1
DATA=${DATA:-build/reader-data}
FILES=${FILES:-"idkmrc-train:8 facqa-train:8 transsquad-id:2 transsquad-en:2"}
# shellcheck disable=SC2086 # FILES is a list of words
"${PYTHON:-python3}" -m reader.train fit --data "$DATA" --out "$OUT/reader12" --layers 12 \
    --files $FILES --deadline-s "${DEADLINE_12:-320}"
# shellcheck disable=SC2086
"${PYTHON:-python3}" -m reader.train fit --data "$DATA" --out "$OUT/reader6" --layers 6 \
    --files $FILES --deadline-s "${DEADLINE_6:-180}"
