"""Store step: passages in Chroma (dense, cosine) with a BM25 index kept beside it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from berita.settings import Settings
from vectorstore.embeddings import prune_cache
from vectorstore.lexical import LexicalIndex
from vectorstore.passages import quotable_spans

PAGE = 1000
Status = Literal["added", "updated", "unchanged"]


class StoreError(RuntimeError):
    """The store cannot be used as asked; the message is one line and says what to do."""


@dataclass(frozen=True)
class SourceInfo:
    """One stored article."""

    doc_id: str
    title: str
    url: str
    published: str
    passages: int


def open_client(settings: Settings) -> chromadb.ClientAPI:
    """A Chroma client: the embedded store at CHROMA_PATH, or the server at CHROMA_HOST."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.server_mode:
        try:
            return chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        except Exception as error:  # noqa: BLE001 - chromadb raises many kinds here
            raise StoreError(
                f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port}"
                f" ({type(error).__name__}); is `chroma run` up?"
            ) from None
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


class PassageStore:
    """Articles' passages in one Chroma collection, plus the lexical index derived from it.

    The collection's metadata records the embedding model that built it and a revision that
    changes with every write; the BM25 index is saved per revision, so every process (an ingest,
    the bot) sees the same passages on both sides of retrieval.
    """

    def __init__(self, settings: Settings, embeddings: Embeddings, *, for_reindex: bool = False):
        self.settings = settings
        self.embeddings = embeddings
        self.client = open_client(settings)
        self.name = settings.chroma_collection
        self.model = settings.embedding_model
        self._collection = self._open_collection(self.name)
        if not for_reindex:
            self._check_model()
        self.vectors = self._bind_vectors()
        self._lexical: tuple[str, LexicalIndex] | None = None

    def _bind_vectors(self) -> Chroma:
        return Chroma(
            client=self.client,
            collection_name=self.name,
            embedding_function=self.embeddings,
            create_collection_if_not_exists=False,
        )

    # -- collection -------------------------------------------------------------------------

    def _open_collection(self, name: str, model: str | None = None) -> Any:
        try:
            return self.client.get_collection(name, embedding_function=None)
        except chromadb.errors.NotFoundError:
            pass
        except Exception as error:  # noqa: BLE001
            raise StoreError(f"cannot open the Chroma collection {name!r} ({error})") from None
        try:
            return self.client.create_collection(
                name,
                metadata={"embedding_model": model or self.model, "revision": _new_revision()},
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        except chromadb.errors.InternalError:  # created meanwhile by another process
            return self.client.get_collection(name, embedding_function=None)

    def _check_model(self) -> None:
        built_with = (self._collection.metadata or {}).get("embedding_model")
        if built_with and built_with != self.model:
            raise StoreError(
                f"collection {self.name!r} was built with embedding model {built_with!r} but "
                f"EMBEDDING_MODEL is {self.model!r}: run `berita reindex` to rebuild it with "
                f"{self.model!r}, or set EMBEDDING_MODEL={built_with}"
            )

    def revision(self) -> str:
        """An id that changes whenever passages are added or removed."""
        return str((self._collection.metadata or {}).get("revision", ""))

    def refresh(self) -> None:
        """Re-read the collection's metadata (another process may have written)."""
        self._collection = self._open_collection(self.name)

    def _bump_revision(self) -> None:
        metadata = dict(self._collection.metadata or {})
        metadata.update(embedding_model=self.model, revision=_new_revision())
        self._collection.modify(metadata=metadata)
        self._collection = self._open_collection(self.name)

    def count(self) -> int:
        """How many passages are stored."""
        return self._collection.count()

    # -- writing ------------------------------------------------------------------------------

    def stored_hash(self, doc_id: str) -> str | None:
        """The content hash the article was stored with, or None when it is not stored."""
        found = self._collection.get(where={"doc_id": doc_id}, limit=1, include=["metadatas"])
        return found["metadatas"][0].get("content_hash") if found["ids"] else None

    def put_article(self, passages: list[Document]) -> Status:
        """Store one article's passages, replacing an older version; unchanged writes nothing."""
        doc_id = passages[0].metadata["doc_id"]
        content_hash = passages[0].metadata["content_hash"]
        old_hash = self.stored_hash(doc_id)
        if old_hash == content_hash:
            return "unchanged"
        ids = [f"{doc_id}#{doc.metadata['chunk']}" for doc in passages]
        # Embedding first: if it fails nothing stored has been touched.
        self.vectors.add_texts(
            [doc.page_content for doc in passages], [doc.metadata for doc in passages], ids=ids
        )
        self._warm_sentence_vectors(passages)
        if old_hash is not None:
            stale = self._collection.get(where={"doc_id": doc_id}, include=[])["ids"]
            extra = sorted(set(stale) - set(ids))
            if extra:
                self._collection.delete(ids=extra)
        return "added" if old_hash is None else "updated"

    def _warm_sentence_vectors(self, passages: list[Document]) -> None:
        """Embed what answers may quote now, so answers find it in the embedding cache."""
        if hasattr(self.embeddings, "document_embedding_store"):
            texts = {text for doc in passages for _, _, text in quotable_spans(doc)[1]}
            self.embeddings.embed_documents(sorted(texts))

    def remove(self, doc_ids: list[str]) -> dict[str, int]:
        """Delete articles and their passages; returns how many passages each id had."""
        removed = {}
        for doc_id in doc_ids:
            ids = self._collection.get(where={"doc_id": doc_id}, include=[])["ids"]
            if ids:
                self._collection.delete(ids=ids)
            removed[doc_id] = len(ids)
        return removed

    def commit(self) -> None:
        """Publish a batch of writes: new revision, fresh lexical index saved beside it."""
        self._bump_revision()
        self.lexical()

    # -- reading ------------------------------------------------------------------------------

    def iter_passages(
        self, include: tuple[str, ...] = ("documents", "metadatas")
    ) -> Iterator[dict]:
        """Every stored passage, page by page: dicts with `ids` and the included fields."""
        offset = 0
        while True:
            page = self._collection.get(limit=PAGE, offset=offset, include=list(include))
            if not page["ids"]:
                return
            yield page
            offset += len(page["ids"])

    def embedded_texts(self) -> Iterator[str]:
        """Every text whose vector the embedding cache should keep: each stored passage and
        each span answers may quote from it."""
        for page in self.iter_passages():
            rows = zip(page["ids"], page["documents"], page["metadatas"], strict=True)
            for passage_id, text, metadata in rows:
                yield text
                document = Document(id=passage_id, page_content=text, metadata=metadata)
                yield from (span for _, _, span in quotable_spans(document)[1])

    def prune_embedding_cache(self) -> tuple[int, int]:
        """Drop cached vectors nothing stored uses any more; returns (kept, deleted)."""
        cache = self.settings.embedding_cache_path
        if cache is None or not cache.is_dir():
            return 0, 0
        return prune_cache(cache, self.settings.embedding_model, self.embedded_texts())

    def sources(self) -> list[SourceInfo]:
        """The stored articles, newest first."""
        by_doc: dict[str, list[dict]] = {}
        for page in self.iter_passages(include=("metadatas",)):
            for metadata in page["metadatas"]:
                by_doc.setdefault(metadata["doc_id"], []).append(metadata)
        infos = [
            SourceInfo(
                doc_id=doc_id,
                title=items[0].get("title", ""),
                url=items[0].get("url", ""),
                published=items[0].get("published", ""),
                passages=len(items),
            )
            for doc_id, items in by_doc.items()
        ]
        return sorted(infos, key=lambda info: (info.published, info.doc_id), reverse=True)

    def get_passages_with_vectors(self, ids: list[str]) -> list[tuple[Document, np.ndarray]]:
        """Passages by id with their stored vectors (missing ids left out)."""
        if not ids:
            return []
        found = self._collection.get(ids=ids, include=["documents", "metadatas", "embeddings"])
        return [
            (Document(page_content=text, metadata=meta or {}, id=pid), np.asarray(vector))
            for pid, text, meta, vector in zip(
                found["ids"],
                found["documents"],
                found["metadatas"],
                found["embeddings"],
                strict=True,
            )
        ]

    def dense_search(self, vector: list[float], n: int) -> list[tuple[Document, float]]:
        """The `n` passages nearest to the vector, with cosine similarity."""
        if n <= 0 or self.count() == 0:
            return []
        hits = self.vectors.similarity_search_by_vector_with_relevance_scores(vector, k=n)
        return [(doc, 1.0 - distance) for doc, distance in hits]

    def lexical(self) -> LexicalIndex:
        """The BM25 index for the current revision: in memory, saved on disk, or rebuilt."""
        revision = self.revision()
        if self._lexical and self._lexical[0] == revision:
            return self._lexical[1]
        path = self._lexical_path(revision)
        index = LexicalIndex.load(path)
        if index is None:
            ids: list[str] = []
            texts: list[str] = []
            for page in self.iter_passages(include=("documents",)):
                ids.extend(page["ids"])
                texts.extend(page["documents"])
            index = LexicalIndex.build(ids, texts)
            index.save(path)
            for old in path.parent.glob(f"{self._lexical_stem()}.*.bm25"):
                if old != path:
                    old.unlink(missing_ok=True)
        self._lexical = (revision, index)
        return index

    def _lexical_stem(self) -> str:
        if self.settings.server_mode:
            return f"{self.settings.chroma_host}_{self.settings.chroma_port}_{self.name}"
        return self.name

    def _lexical_path(self, revision: str) -> Path:
        folder = (
            self.settings.lexical_cache_path
            if self.settings.server_mode
            else self.settings.chroma_path / "lexical"
        )
        return folder / f"{self._lexical_stem()}.{revision}.bm25"

    # -- re-indexing --------------------------------------------------------------------------

    def reindex(self) -> int:
        """Re-embed every passage with the configured model; returns the passage count."""
        staging_name = f"{self.name}-reindex"
        with contextlib.suppress(Exception):  # a staging collection left by a failed run
            self.client.delete_collection(staging_name)
        staging = self._open_collection(staging_name, model=self.model)
        total = 0
        for page in self.iter_passages():
            vectors = self.embeddings.embed_documents(page["documents"])
            staging.add(
                ids=page["ids"],
                embeddings=vectors,
                documents=page["documents"],
                metadatas=page["metadatas"],
            )
            total += len(page["ids"])
        self.client.delete_collection(self.name)
        staging.modify(name=self.name)
        self._collection = self._open_collection(self.name)
        self.vectors = self._bind_vectors()
        self.commit()
        return total


def _new_revision() -> str:
    return uuid.uuid4().hex[:12]
