"""JSON Lines, read one line at a time: what `berita ingest` and `berita ask --batch` share."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from berita.text import without_lone_surrogates

NOT_UTF8 = "not UTF-8 text"  # why a line is not read, when its bytes are not UTF-8


def json_objects(lines: Iterable[bytes], origin: str) -> Iterator[tuple[str, dict[str, Any] | str]]:
    """(`origin:line`, the line's JSON object) for each line, or (`origin:line`, why it is not
    one: not UTF-8 text, malformed JSON, not an object). Blank lines are skipped, a byte-order
    mark on the first line is read past, and string values lose the lone surrogates a JSON
    escape can spell ("\\ud83d", half of an emoji)."""
    for number, raw in enumerate(lines, start=1):
        where = f"{origin}:{number}"
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            yield where, NOT_UTF8
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield where, f"malformed JSON ({error.msg})"
            continue
        if not isinstance(record, dict):
            yield where, "expected a JSON object"
            continue
        yield (
            where,
            {
                key: without_lone_surrogates(value) if isinstance(value, str) else value
                for key, value in record.items()
            },
        )
