"""Loading the trained reader once per process, and what to do when it is not there."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from berita.reader.cross_encoder import CrossEncoderReader
    from berita.reader.inference import Reader


class ReaderError(RuntimeError):
    """The reader cannot be used as configured; the message is one line and says what to do."""


@lru_cache(maxsize=2)
def load_reader(
    folder: Path, threads: int, model: str | None = None, int8: bool = True
) -> Reader | CrossEncoderReader:
    """The reader: the sentence-transformers cross-encoder `model` names (READER_MODEL), else
    berita's own whose weights are in `folder` (ONNX Runtime; `int8`: READER_INT8). Imported
    only here, after the thread policy the embedder uses: passive OpenMP waits, `threads`
    threads."""
    from berita.threads import limit_threads

    limit_threads(threads)
    if model:
        from berita.reader.cross_encoder import CrossEncoderReader

        return CrossEncoderReader(model, threads)
    if not any(folder.glob("reader-*.safetensors")):
        raise ReaderError(
            f"READER is on but {folder} holds no reader weights (reader-*.safetensors): train "
            "one (README, 'Retrain it'), set READER_PATH, or set READER=off"
        )
    from berita.reader.inference import Reader

    return Reader(folder, threads=threads, int8=int8)
