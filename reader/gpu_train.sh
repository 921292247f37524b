#!/bin/sh
# One run on a GPU machine (the `device` tool: `run` with carry ["build/reader-data"]), made by
# `python -m reader.train prepare` beforehand: a 12-layer and a 6-layer reader, each stopping by
# its deadline and writing its shards and card under $OUT (7 files, each under 16 MB).
set -e
export PYTHONUNBUFFERED=1
python3 -m reader.train fit --data build/reader-data --out "$OUT/reader12" --layers 12 \
    --deadline-s "${DEADLINE_12:-270}"
python3 -m reader.train fit --data build/reader-data --out "$OUT/reader6" --layers 6 \
    --deadline-s "${DEADLINE_6:-200}"
