"""Wiring: settings -> embeddings -> store -> retriever -> answerer, built once per process (the
CLI, the bot, evaluation and training all open them here)."""

from __future__ import annotations

import logging
from functools import cache

from berita.answer.answerer import Answerer, AnswerTuning, ReaderTuning
from berita.answer.llm import AnswerWriter, LLMSettingError
from berita.reader.loading import ReaderError, load_reader
from berita.reader.refusal import refusal_rules
from berita.settings import Settings
from berita.vectorstore.config import StoreConfig
from berita.vectorstore.embeddings import DEFAULT_MODEL, EmbeddingModelError, load_embeddings
from berita.vectorstore.retrieve import FusionWeights, HybridRetriever
from berita.vectorstore.store import PassageStore

log = logging.getLogger(__name__)


def setting_errors() -> tuple[type[Exception], ...]:
    """What opening the answerer raises when a setting must change (reader weights, embedding
    model, LLM): reported as itself in one line, never as a store outage."""
    return (ReaderError, EmbeddingModelError, LLMSettingError)


def open_store(
    settings: Settings, *, for_reindex: bool = False, serve: bool = False, bulk: bool = False
) -> PassageStore:
    """The passage store with the configured embedding model (`serve`: a long-lived process,
    the bot or the watcher, that becomes the embedded store's owner and serves it; `bulk`: one
    that embeds many passages, an ingest, the watcher or a reindex)."""
    embeddings = load_embeddings(
        settings.embedding_model,
        settings.embedding_threads,
        settings.embedding_cache_path,
        settings.embedding_device,
        bulk,
    )
    config = StoreConfig.from_settings(settings)
    return PassageStore(config, embeddings, for_reindex=for_reindex, serve=serve)


def open_answerer(
    settings: Settings, store: PassageStore | None = None, *, serve: bool = False
) -> Answerer:
    """An answerer over the configured store (the reader and the LLM first: a setting that
    cannot work is reported as such even when the store is down too; `serve` as for
    `open_store`)."""
    reading = None
    if settings.reader:
        reader = load_reader(
            settings.reader_path,
            settings.embedding_threads,
            settings.reader_model,
            settings.reader_int8,
        )
        by_language = {"id": settings.reader_threshold_id, "en": settings.reader_threshold_en}
        rules = refusal_rules(reader.card, settings.reader_path, by_language)
        sentence_rules = {}
        if settings.reader_sentences:
            sentence_rules = refusal_rules(reader.card, settings.reader_path, by_language, True)
        reading = ReaderTuning(
            reader,
            settings.reader_candidates,
            rules,
            more=settings.reader_more_candidates,
            more_below=settings.reader_more_below,
            sentences=settings.reader_sentences,
            articles=settings.reader_articles,
            long_article=settings.reader_long_article,
            sentence_refusal=sentence_rules,
        )
    writer = None
    if settings.llm_model:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        writer = AnswerWriter(
            settings.llm_model, settings.llm_base_url, key, settings.llm_timeout_s
        )
    weights = FusionWeights(
        lexical_id=settings.lexical_weight_id,
        lexical_en=settings.lexical_weight_en,
        candidates=settings.retrieve_candidates,
        recency=settings.recency_weight,
    )
    retriever = HybridRetriever(store or open_store(settings, serve=serve), weights)
    if settings.embedding_model != DEFAULT_MODEL:  # once the model loaded: an error goes first
        _warn_uncalibrated(settings.embedding_model)
    tuning = AnswerTuning(abstain_threshold=settings.abstain_threshold)
    return Answerer(
        retriever,
        max_chars=settings.answer_max_chars,
        tuning=tuning,
        writer=writer,
        reading=reading,
    )


@cache
def _warn_uncalibrated(model: str) -> None:
    """Say once that the refusal rules were fitted with another embedding model's cosines."""
    log.warning(
        "EMBEDDING_MODEL is %s, but the refusal rules and support weights were fitted with %s:"
        " refusals are not calibrated for it; refit them (`python -m training.calibrate`) or"
        " set ABSTAIN_THRESHOLD and READER_THRESHOLD_ID/_EN by hand",
        model,
        DEFAULT_MODEL,
    )
