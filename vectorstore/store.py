"""Store step: passages in Chroma (dense, cosine) with a BM25 index kept beside it."""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import uuid
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import chromadb
import httpx
import numpy as np
from filelock import FileLock
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from berita.text import normalize_id
from berita.vectorstore import owner
from berita.vectorstore.config import StoreConfig
from berita.vectorstore.embeddings import CachedEmbeddings, prune_cache
from berita.vectorstore.feeds import FeedStates
from berita.vectorstore.lease import LeaseTimeoutError, WriteLease
from berita.vectorstore.lexical import Change, LexicalIndex, tokenize
from berita.vectorstore.lexical_sync import PAGE, LexicalSync, collection_pages, collection_stem
from berita.vectorstore.passages import article_length, article_sentences, quotable_spans

log = logging.getLogger(__name__)
T = TypeVar("T")
WRITE_LOCK_TIMEOUT_S = 600
WARM_SPANS = 300  # spans embedded at ingest at most an article (a news article has ~100);
# the rest of a very long one is embedded when a question first reads it
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


def open_client(
    config: StoreConfig, *, serve: bool = False, owner_first_s: float = 0.0
) -> chromadb.ClientAPI:
    """A Chroma client: the server at CHROMA_HOST, or the embedded store at CHROMA_PATH as
    `owner.connect` opens it (served by its owner, or alone; `serve`: become its owner)."""
    if not config.server_mode:
        try:
            return owner.connect(config.chroma_path, serve=serve, owner_first_s=owner_first_s)
        except owner.OwnerError as error:
            raise StoreError(str(error)) from None
    try:
        return chromadb.HttpClient(
            host=config.chroma_host, port=config.chroma_port, settings=owner.chroma_settings()
        )
    except Exception as error:  # noqa: BLE001 - chromadb raises many kinds here
        raise StoreError(
            f"cannot reach the Chroma server at {config.chroma_host}:{config.chroma_port}"
            f" ({type(error).__name__}); is `chroma run` up?"
        ) from None


def _reconnecting(method: Callable[..., T]) -> Callable[..., T]:
    """Run a store method; when the embedded store's owner went away mid-call (its server no
    longer answers), connect again (to a new owner, or as one) and run it once more."""

    @functools.wraps(method)
    def run(self: PassageStore, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except httpx.TransportError:
            if self.config.server_mode or self._write_lock.is_locked:
                raise  # a server's outage; or the outer call retries, once the lock is let go
            log.warning("the store's owner went away: connecting again")
            self.reconnect()
            return method(self, *args, **kwargs)

    return run


def _let_go(client: chromadb.ClientAPI, folder: Path | None) -> None:
    """Close a client (the embedded engine stops with its last client) and release its
    folder's hold."""
    client.close()
    if folder is not None:
        owner.release(folder)


def _documents(ids: list[str], texts: list[str], metadatas: list[Any]) -> list[Document]:
    """Passages as Chroma returns them (ids, texts, metadata), as LangChain documents."""
    return [
        Document(page_content=text, metadata=meta or {}, id=pid)
        for pid, text, meta in zip(ids, texts, metadatas, strict=True)
    ]


class ArticleConflictError(StoreError):
    """An article may not be stored: it would replace one from another site."""


class DuplicateArticleError(StoreError):
    """An article is not stored: another stored article has the same text."""

    def __init__(self, original: str) -> None:
        super().__init__(f"same text as stored article {original!r}")
        self.original = original


class PassageStore:
    """Articles' passages in one Chroma collection, plus the lexical index derived from it.

    Crash-safe by construction (a kill -9 at any point loses nothing and leaves nothing stale):

    - CHROMA_COLLECTION is the one place that says where the passages live: that collection,
      or the collection its metadata key `active` names once `reindex` has run. Reindex fills a
      new collection and then changes that one value, so no reader ever sees an empty store.
    - The live collection's metadata holds the embedding model, the committed `revision`, and a
      `writing` mark that every write changes before and after it touches passages. A BM25
      index is saved on disk by `commit`, for a clean revision; between commits each write
      appends a journal record (its passages' tokens, or the ids it removed) before it sets
      its closing mark, so readers and the next commit apply just what changed. A mark with no
      record (a writer killed mid-write, or one on another machine) makes them rebuild the
      index from Chroma, and the next commit (any ingest, /remove) saves a clean one again.
    - Writers on one machine (ingests, the bot's /remove, reindex) take a file lock for each
      write, and re-check the article under it: two ingests never store one article twice.
      On a Chroma server the machines also take turns through its write lease.
    """

    def __init__(
        self,
        config: StoreConfig,
        embeddings: Embeddings,
        *,
        for_reindex: bool = False,
        serve: bool = False,
    ):
        self.config = config
        self.serve = serve
        self.embeddings = embeddings
        self.name = config.chroma_collection
        self.model = config.embedding_model
        self._check_models = not for_reindex
        self._write_lock = FileLock(self._lock_path(), timeout=WRITE_LOCK_TIMEOUT_S)
        self._lexical = LexicalSync(config, self._write_lock)
        self._sources: tuple[str, list[SourceInfo]] | None = None
        self._damage_logged: set[str] = set()  # passages whose missing vector was logged
        self._open(open_client(config, serve=serve))  # one opener of a folder: its owner

    # -- the embedded folder's owner --------------------------------------------------------

    @property
    def remote(self) -> bool:
        """Whether this client talks to a server (CHROMA_HOST, or the embedded store's owner):
        it sees every other process's writes as they land."""
        return self.config.server_mode or not owner.alone(self.config.chroma_path)

    def _open(self, client: chromadb.ClientAPI) -> None:
        """Use a client: bind the live collection, and let go of the client (and of the
        embedded folder, when this was its last user here) on `close` or once collected."""
        self.client = client
        folder = None if self.config.server_mode else self.config.chroma_path
        self._let_go = weakref.finalize(self, _let_go, client, folder)
        self._lease: WriteLease | None = None  # a server's, taken by the first write
        self.collection = self._bind(self._live_name())

    def reconnect(self, *, owner_first_s: float = 0.0) -> None:
        """Connect again: after the owner went away, or to hand the folder over (this process
        held it alone, and a serving process waits for it)."""
        self._let_go()
        self._open(open_client(self.config, serve=self.serve, owner_first_s=owner_first_s))

    def hand_over_if_asked(self) -> bool:
        """When this process holds the folder alone and a serving process (the bot, `berita
        watch`) waits for it: commit, let the folder go and go on as the new owner's client."""
        if self.config.server_mode or not owner.handover_requested(self.config.chroma_path):
            return False
        self.commit()
        self.reconnect(owner_first_s=owner.SERVER_START_S)
        log.info("handed the store over to its owner")
        return True

    def close(self) -> None:
        """Let go of the store now (the embedded folder too, when this was its last user in a
        process that opened it alone: another process may then open it)."""
        self._let_go()

    @contextlib.contextmanager
    def _alone(self) -> Iterator[None]:
        """Write alone: under this machine's write lock and, on a Chroma server, the write
        lease that orders the machines writing to it."""
        with self._write_lock:
            if not self.config.server_mode:
                yield
                return
            if self._lease is None:
                stale_s = self.config.chroma_writer_stale_s
                self._lease = WriteLease(self.client, self.name, stale_s)
            try:
                self._lease.acquire(WRITE_LOCK_TIMEOUT_S)
            except LeaseTimeoutError as error:
                raise StoreError(str(error)) from None
            try:
                yield
            finally:
                self._lease.release()

    # -- collection -------------------------------------------------------------------------

    def _lock_path(self) -> Path:
        folder = self.config.lexical_cache_path if self.config.server_mode else None
        folder = folder or self.config.chroma_path
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{collection_stem(self.config, self.name)}.write.lock"

    def _live_name(self) -> str:
        """The collection that holds the passages (CHROMA_COLLECTION's `active`, or itself)."""
        pointer = self._get_or_create(self.name)
        return str((pointer.metadata or {}).get("active") or self.name)

    def _get_or_create(self, name: str, model: str | None = None) -> Any:
        try:
            return self.client.get_collection(name, embedding_function=None)
        except chromadb.errors.NotFoundError:
            pass
        except Exception as error:  # noqa: BLE001 - chromadb raises many kinds here
            raise self._cannot_open(name, error) from None
        try:
            return self.client.create_collection(
                name,
                metadata={
                    "embedding_model": model or self.model,
                    "revision": _new_token(),
                    "writing": "",
                },
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        except chromadb.errors.ChromaError as error:
            try:  # created meanwhile by another process (servers name that error variously)
                return self.client.get_collection(name, embedding_function=None)
            except Exception:  # noqa: BLE001
                raise self._cannot_open(name, error) from None

    def _cannot_open(self, name: str, error: Exception) -> Exception:
        """What a failed opening of a collection raises: the error itself when the embedded
        store's owner went away (the outermost store call connects again, `_reconnecting`),
        else a StoreError that says so in one line."""
        if isinstance(error, httpx.TransportError) and not self.config.server_mode:
            return error
        return StoreError(f"cannot open the Chroma collection {name!r} ({error})")

    def _bind(self, name: str) -> Any:
        """The live Chroma collection: the one handle every read and write goes through (no
        embedding function: berita embeds with its own model)."""
        try:
            collection = self.client.get_collection(name, embedding_function=None)
        except Exception as error:  # noqa: BLE001
            raise self._cannot_open(name, error) from None
        built_with = (collection.metadata or {}).get("embedding_model")
        if self._check_models and built_with and built_with != self.model:
            raise StoreError(
                f"collection {self.name!r} was built with embedding model {built_with!r} but "
                f"EMBEDDING_MODEL is {self.model!r}: run `berita reindex` to rebuild it with "
                f"{self.model!r}, or set EMBEDDING_MODEL={built_with}"
            )
        return collection

    @_reconnecting
    def refresh(self) -> None:
        """Re-read where the passages live and their metadata (another process may have
        written, or re-indexed into a new collection); the embedding model is checked again."""
        self.collection = self._bind(self._live_name())

    def revision(self) -> str:
        """An id that changes whenever passages may have changed: the live collection, its
        committed revision and its writing mark."""
        metadata = self.collection.metadata or {}
        marks = (metadata.get("revision", ""), metadata.get("writing", ""))
        return f"{self.collection.name}/{marks[0]}/{marks[1]}"

    def dirty(self) -> bool:
        """True while a write is under way, or after a writer died before its commit."""
        return bool((self.collection.metadata or {}).get("writing"))

    def _set_metadata(self, **changes: str) -> None:
        """Change the live collection's metadata (Chroma replaces it whole: keep the rest).
        Callers hold the write lock and refreshed after taking it, so the handle's metadata
        is current: every other writer of it waits for the lock."""
        metadata = dict(self.collection.metadata or {})
        metadata.update(embedding_model=self.model, **changes)
        self.collection.modify(metadata=metadata)
        self.refresh()

    @_reconnecting
    def count(self) -> int:
        """How many passages are stored."""
        return self.collection.count()

    # -- writing ------------------------------------------------------------------------------

    def _stored(self, doc_id: str) -> dict[str, dict]:
        """The stored passages of an article: id -> metadata."""
        found = self.collection.get(where={"doc_id": doc_id}, include=["metadatas"])
        return dict(zip(found["ids"], found["metadatas"], strict=True))

    @_reconnecting
    def put_article(self, passages: list[Document]) -> Status:
        """Store one article's passages, replacing an older version; unchanged writes nothing.

        An article counts as unchanged only when every stored passage has the new content hash
        and no other passage of it is stored, so a write a crash cut short is redone.
        """
        doc_id = passages[0].metadata["doc_id"]
        ids = [f"{doc_id}#{doc.metadata['chunk']}" for doc in passages]
        stored = self._stored(doc_id)
        if _same_version(stored, ids, passages):
            return "unchanged"
        self._check_duplicate(passages)
        _check_host(stored, passages)
        texts = [doc.page_content for doc in passages]
        # Embedding outside the lock (it is the slow part) and before anything is touched.
        vectors = self.embeddings.embed_documents(texts)
        tokens = [tokenize(text) for text in texts]
        self._warm_sentence_vectors(passages)
        with self._alone():
            self.refresh()
            stored = self._stored(doc_id)  # another ingest may have stored it meanwhile
            if _same_version(stored, ids, passages):
                return "unchanged"
            self._check_duplicate(passages)
            _check_host(stored, passages)
            extra = sorted(set(stored) - set(ids))
            changes: list[Change] = [*zip(ids, tokens, strict=True), *((x, None) for x in extra)]
            with self._writing(changes):
                self.collection.upsert(
                    ids=ids,
                    embeddings=vectors,
                    documents=texts,
                    metadatas=[doc.metadata for doc in passages],
                )
                if extra:
                    self.collection.delete(ids=extra)
        return "updated" if stored else "added"

    def _check_duplicate(self, passages: list[Document]) -> None:
        """DuplicateArticleError when another article with the same (normalised) text is
        stored: the same story under a second id, or a page under another query string."""
        doc_id, text_hash = passages[0].metadata["doc_id"], passages[0].metadata.get("text_hash")
        if not text_hash:
            return
        found = self.collection.get(
            where={"$and": [{"text_hash": text_hash}, {"doc_id": {"$ne": doc_id}}]},
            limit=1,
            include=["metadatas"],
        )
        if found["ids"]:
            raise DuplicateArticleError(str(found["metadatas"][0]["doc_id"]))

    @contextlib.contextmanager
    def _writing(self, changes: list[Change]) -> Iterator[None]:
        """Mark the live collection around a write (callers hold the write lock, refreshed):
        an opening mark, the write, its journal record, then a closing mark naming it."""
        after = str((self.collection.metadata or {}).get("writing", ""))
        self._set_metadata(writing=_new_token())
        yield
        mark = _new_token()
        self._lexical.record(self.collection, after, mark, changes)
        self._set_metadata(writing=mark)

    def _warm_sentence_vectors(self, passages: list[Document]) -> None:
        """Embed what answers may quote now, so answers find it in the embedding cache (quoting
        spans only: with READER_SENTENCES the reader reads a long article's sentences,
        embedding none)."""
        from_chars = self.config.sentences_from_chars
        reads_sentences = (
            from_chars is not None and article_length(article_sentences(passages)) >= from_chars
        )
        if not reads_sentences and isinstance(self.embeddings, CachedEmbeddings):
            texts = {text: None for doc in passages for _, _, text in quotable_spans(doc)[1]}
            self.embeddings.embed_documents(list(texts)[:WARM_SPANS])

    @_reconnecting
    def remove(self, doc_ids: list[str]) -> dict[str, int]:
        """Delete articles and their passages; returns how many passages each id had."""
        with self._alone():
            self.refresh()
            found: dict[str, list[str]] = {}
            for typed in doc_ids:  # found under its NFC form, which articles are stored under
                try:
                    doc_id = normalize_id(typed)
                except ValueError:  # no article can have it (a control or half a character)
                    found[typed] = []
                    continue
                found[doc_id] = self.collection.get(where={"doc_id": doc_id}, include=[])["ids"]
            ids = [pid for passage_ids in found.values() for pid in passage_ids]
            if ids:
                with self._writing([(pid, None) for pid in ids]):
                    self.collection.delete(ids=ids)
        return {doc_id: len(passage_ids) for doc_id, passage_ids in found.items()}

    @_reconnecting
    def commit(self) -> None:
        """Publish the writes so far: the lexical index as it is now, saved for a new, clean
        revision (the saved one plus the journal's records, or rebuilt after a killed write)."""
        with self._alone():
            self.refresh()
            if not self.dirty():
                self.lexical()  # saves the index of the clean revision when it is missing
                return
            revision = _new_token()
            index = self._lexical.save(self.collection, revision)
            self._set_metadata(revision=revision, writing="")
            self._lexical.committed(self.collection, index, self.revision())

    # -- reading ------------------------------------------------------------------------------

    def iter_passages(
        self, include: tuple[str, ...] = ("documents", "metadatas")
    ) -> Iterator[dict]:
        """Every stored passage, page by page: dicts with `ids` and the included fields."""
        yield from collection_pages(self.collection, include)  # the store lives while it runs

    def embedded_texts(self) -> Iterator[str]:
        """Every text whose vector the embedding cache should keep: each stored passage and
        each span answers may quote from it."""
        for page in self.iter_passages():
            rows = zip(page["ids"], page["documents"], page["metadatas"], strict=True)
            for passage_id, text, metadata in rows:
                yield text
                document = Document(id=passage_id, page_content=text, metadata=metadata)
                yield from (span for _, _, span in quotable_spans(document)[1])

    @_reconnecting
    def prune_embedding_cache(self) -> tuple[int, int]:
        """Drop cached vectors nothing stored uses any more; returns (kept, deleted)."""
        cache = self.config.embedding_cache_path
        if cache is None or not cache.is_dir():
            return 0, 0
        return prune_cache(cache, self.config.embedding_model, self.embedded_texts())

    @_reconnecting
    def sources(self) -> list[SourceInfo]:
        """The stored articles, newest first (read once per revision)."""
        revision = self.revision()
        if self._sources and self._sources[0] == revision:
            return self._sources[1]
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
        infos.sort(key=lambda info: (info.published, info.doc_id), reverse=True)
        self._sources = (revision, infos)
        return infos

    @_reconnecting
    def article_passages(self, doc_id: str) -> list[Document]:
        """Every stored passage of an article, in the article's order."""
        found = self.collection.get(where={"doc_id": doc_id}, include=["documents", "metadatas"])
        documents = _documents(found["ids"], found["documents"], found["metadatas"])
        return sorted(documents, key=lambda document: document.metadata.get("chunk", 0))

    @_reconnecting
    def has_url(self, url: str) -> bool:
        """Whether an article with this source URL is stored."""
        return bool(self.collection.get(where={"url": url}, limit=1, include=[])["ids"])

    def published_before(self, day: str) -> list[str]:
        """The articles published before an ISO date (`YYYY-MM-DD`); undated ones never."""
        return [
            info.doc_id
            for info in self.sources()
            if len(info.published) == 10 and info.published[4] == "-" and info.published < day
        ]

    def feed_states(self) -> FeedStates:
        """The watched feeds' records, kept in this store."""
        return FeedStates(self.client, self.name)

    @_reconnecting
    def get_passages_with_vectors(self, ids: list[str]) -> list[tuple[Document, np.ndarray]]:
        """Passages by id with their stored vectors (missing ids left out, and passages whose
        vector is damaged too: logged once each, `berita check --repair` mends them)."""
        found, damaged = self._get_readable(ids, ["documents", "metadatas", "embeddings"])
        for passage_id in set(damaged) - self._damage_logged:
            self._damage_logged.add(passage_id)
            log.warning("passage %s has no vector: left out (berita check --repair)", passage_id)
        documents = _documents(found["ids"], found["documents"], found["metadatas"])
        return list(zip(documents, map(np.asarray, found["embeddings"]), strict=True))

    @_reconnecting
    def vectors(self, ids: list[str]) -> tuple[dict[str, list[float]], list[str]]:
        """The stored vectors of these passages, and the ids whose vector cannot be read."""
        found, damaged = self._get_readable(ids, ["embeddings"])
        return dict(zip(found["ids"], map(list, found["embeddings"]), strict=True)), damaged

    def _get_readable(self, ids: list[str], include: list[str]) -> tuple[dict, list[str]]:
        """`collection.get` of the ids; when Chroma cannot read a vector among them ("Error
        finding id"), the halves apart, down to the passages it cannot read (returned too)."""
        nothing: dict = {"ids": [], **{field: [] for field in include}}
        if not ids:
            return nothing, []
        try:
            return self.collection.get(ids=ids, include=include), []
        except chromadb.errors.InternalError:
            if len(ids) == 1:
                return nothing, ids
        middle = len(ids) // 2
        first, first_damaged = self._get_readable(ids[:middle], include)
        second, second_damaged = self._get_readable(ids[middle:], include)
        merged = {key: list(first[key]) + list(second[key]) for key in ["ids", *include]}
        return merged, first_damaged + second_damaged

    def rebuild_lexical(self) -> None:
        """Build the BM25 index from Chroma again at the next `commit` (as after a killed
        write: a writing mark with no journal record)."""
        with self._alone():
            self.refresh()
            self._set_metadata(writing=_new_token())

    @_reconnecting
    def nearest_ids(self, vectors: list[list[float]], n: int) -> list[list[str]]:
        """For each vector, the ids of the `n` passages nearest to it."""
        return self.collection.query(query_embeddings=vectors, n_results=n, include=[])["ids"]

    @_reconnecting
    def dense_search(self, vector: list[float], n: int) -> list[tuple[Document, float]]:
        """The `n` passages nearest to the vector, with cosine similarity."""
        if n <= 0 or self.count() == 0:
            return []
        found = self.collection.query(
            query_embeddings=[vector],
            n_results=n,
            include=["documents", "metadatas", "distances"],
        )
        documents = _documents(found["ids"][0], found["documents"][0], found["metadatas"][0])
        distances = found["distances"][0]
        return [(doc, 1.0 - distance) for doc, distance in zip(documents, distances, strict=True)]

    @_reconnecting
    def lexical(self) -> LexicalIndex:
        """The BM25 index of the passages as they are now (`LexicalSync.index`)."""
        return self._lexical.index(self.collection, self.revision(), self.dirty())

    # -- re-indexing --------------------------------------------------------------------------

    @_reconnecting
    def reindex(self) -> int:
        """Re-embed every passage with the configured model into a new collection, then make it
        the live one in one step; returns the passage count. Writers wait meanwhile; readers
        keep answering from the old collection until the switch."""
        with self._alone():
            self.refresh()
            old = self.collection.name
            self._drop_unused_collections(keep=old)
            new = f"{self.name}-{_new_token()}"
            staging = self._get_or_create(new, model=self.model)
            total = 0
            for page in self.iter_passages():
                staging.add(
                    ids=page["ids"],
                    embeddings=self.embeddings.embed_documents(page["documents"]),
                    documents=page["documents"],
                    metadatas=page["metadatas"],
                )
                total += len(page["ids"])
            pointer = self.client.get_collection(self.name, embedding_function=None)
            pointer.modify(metadata={**(pointer.metadata or {}), "active": new})
            self.collection = self._bind(new)
            self._drop_unused_collections(keep=new)
            self.commit()
        return total

    def _drop_unused_collections(self, keep: str) -> None:
        """Delete what earlier re-indexes left: collections of ours that are not live, and the
        old passages of the CHROMA_COLLECTION itself once it only points elsewhere."""
        ours = re.compile(rf"{re.escape(self.name)}-([0-9a-f]{{12}}|reindex)")
        for collection in self.client.list_collections():
            if collection.name != keep and ours.fullmatch(collection.name):
                self.client.delete_collection(collection.name)
        if keep != self.name:
            pointer = self.client.get_collection(self.name, embedding_function=None)
            while ids := pointer.get(limit=PAGE, include=[])["ids"]:
                pointer.delete(ids=ids)


def _same_version(stored: dict[str, dict], ids: list[str], passages: list[Document]) -> bool:
    content_hash = passages[0].metadata["content_hash"]
    return set(stored) == set(ids) and all(
        metadata.get("content_hash") == content_hash for metadata in stored.values()
    )


def _check_host(stored: dict[str, dict], passages: list[Document]) -> None:
    """A page may update its own site's article, never replace one from another site."""
    new_host = urlsplit(passages[0].metadata.get("url") or "").hostname
    for metadata in stored.values():
        old_host = urlsplit(metadata.get("url") or "").hostname
        if new_host and old_host and new_host != old_host:
            raise ArticleConflictError(
                f"would replace article {metadata['doc_id']!r} from {old_host} with a page "
                f"from {new_host}"
            )


def _new_token() -> str:
    return uuid.uuid4().hex[:12]
