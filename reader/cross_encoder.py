"""Any sentence-transformers cross-encoder as berita's reader (READER_MODEL: a bge or mMiniLM
reranker, say), in PyTorch. Its refusal rules are its own: `python -m training.calibrate
--reader-model NAME` fits them into READER_PATH, or READER_THRESHOLD_ID/_EN set them."""

from __future__ import annotations

import threading

import numpy as np

from berita.hub import ModelUnavailableError, model_folder
from berita.reader.loading import ReaderError


class CrossEncoderReader:
    """A cross-encoder of one score (its probability: the model's own activation, a sigmoid
    for rerankers) for each (question, passage) pair."""

    card: dict = {}  # noqa: RUF012 - no model card: no thresholds measured for berita

    def __init__(self, name: str, threads: int) -> None:
        try:
            folder = model_folder(name, "READER_MODEL")
        except ModelUnavailableError as error:
            raise ReaderError(str(error)) from None
        import torch
        from sentence_transformers import CrossEncoder
        from transformers.utils import logging as transformers_logging

        torch.set_num_threads(threads)
        transformers_logging.disable_progress_bar()  # a bar a load on stderr is no log line
        self._model = CrossEncoder(str(folder), device="cpu", local_files_only=True)
        if self._model.num_labels != 1:
            raise ReaderError(
                f"READER_MODEL {name!r} gives {self._model.num_labels} scores a pair; berita "
                "reads with a cross-encoder of one (a reranker)"
            )
        self._lock = threading.Lock()  # one predict at a time: a fast tokenizer is not safe
        # from several threads at once

    def probabilities(self, question: str, passages: list[str]) -> np.ndarray:
        """How likely each passage answers the question (0..1)."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            scores = self._model.predict(
                [(question, passage) for passage in passages], show_progress_bar=False
            )
        return np.asarray(scores, dtype=np.float32)
