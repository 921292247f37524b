"""The `berita` command: ingest, watch, feeds, ask, eval, sources, remove, reindex, check,
prune-cache, chat, bot, settings, export-reader."""

from __future__ import annotations

import argparse
import codecs
import contextlib
import functools
import json
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berita import __version__
from berita.settings import Settings, SettingsError, get_settings

if TYPE_CHECKING:
    from berita.ingest.pipeline import IngestSummary
    from berita.vectorstore.store import PassageStore

log = logging.getLogger(__name__)
EXIT_FAILED_ITEMS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
        logging.basicConfig(
            level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        # One INFO line per HTTP request (every call to the store's owner, the bot's polling,
        # whose lines carry the token) is noise at best.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        return int(args.run(args, settings) or 0)
    except SettingsError as error:  # before anything reads `.env` on its own (chromadb does)
        print(f"berita: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `berita sources | head`: the reader left, and that is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:
        if not isinstance(error, _user_errors()):
            raise
        print(f"berita: {error}", file=sys.stderr)
        return EXIT_USAGE


def _user_errors() -> tuple[type[Exception], ...]:
    from berita.answer.components import setting_errors
    from berita.vectorstore.store import StoreError

    return (StoreError, CommandError, *setting_errors())


class CommandError(Exception):
    """A command was used wrongly; the message is one line."""


# -- commands ---------------------------------------------------------------------------------


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from berita.ingest.pipeline import IngestSummary

    with _stop_on_signals() as stop:
        try:
            summary = _ingest_with_progress(args, settings, stop)
        except KeyboardInterrupt:  # while opening the store: nothing was stored
            summary = IngestSummary(interrupted=True)
    print(summary.line())
    if summary.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED_ITEMS if summary.failures else 0


def _ingest_with_progress(
    args: argparse.Namespace, settings: Settings, stop: threading.Event
) -> IngestSummary:
    """Ingest the sources, one line per failed or noted item on stderr (and a progress line
    when stderr is a terminal)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from berita.answer.components import open_store
    from berita.ingest.config import IngestConfig
    from berita.ingest.pipeline import ingest

    console = Console(stderr=True, soft_wrap=True, highlight=False)
    store = open_store(settings, bulk=True)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.completed} items"),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(
        *columns, console=console, transient=True, disable=not console.is_terminal
    ) as progress:
        task = progress.add_task("ingesting", total=None)

        def report(origin: str, outcome: str) -> None:
            if outcome.startswith("failed"):
                console.print(f"[red]error[/red] {escape(origin)}: {escape(outcome[8:])}")
            elif outcome.startswith("skipped") or "(" in outcome:
                console.print(f"[yellow]note[/yellow] {escape(origin)}: {escape(outcome)}")
            progress.update(task, advance=1, description=escape(f"{origin}: {outcome}"[-80:]))

        config = IngestConfig.from_settings(settings)
        return ingest(
            args.sources, store, config, on_item=report, stop=stop, encoding=args.encoding
        )


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from berita.answer.components import open_answerer
    from berita.answer.conversation import Threads

    if not args.batch and not args.question:
        raise CommandError("ask needs a QUESTION or --batch FILE")
    answerer = open_answerer(settings)
    k = args.k or settings.retrieve_k
    if not args.batch:
        answer = answerer.ask(args.question, k=k)
        print(
            json.dumps(answer_json(answer), ensure_ascii=False, indent=2)
            if args.json
            else format_answer(answer)
        )
        return 0
    rejected = 0
    threads = Threads(timeout_s=math.inf)  # lines of one "conversation" are one thread
    for where, record in _batch_records(args.batch):
        if isinstance(record, str):
            print(f"berita: {where}: {record}", file=sys.stderr)
            rejected += 1
            continue
        thread = record.get("conversation")
        try:
            if thread is not None and thread != "":  # 0 is a conversation too
                answer = answerer.ask_in(threads, thread, record["question"], k)
            else:
                answer = answerer.ask(record["question"], k)
            result = answer_json(answer)
        except _user_errors():
            raise  # the store or a setting: every question would fail the same way
        except Exception as error:  # one question's failure, not the batch's
            log.debug("question at %s failed", where, exc_info=True)
            print(f"berita: {where}: not answered ({type(error).__name__})", file=sys.stderr)
            rejected += 1
            continue
        print(json.dumps({"id": record.get("id"), **result}, ensure_ascii=False), flush=True)
    return EXIT_FAILED_ITEMS if rejected else 0


def _batch_records(path: str) -> Iterator[tuple[str, dict[str, Any] | str]]:
    """(file:line, record) for each question line, or (file:line, why it was rejected)."""
    from berita.jsonl import NOT_UTF8, json_objects

    with _open_batch(path) as lines:
        for where, record in json_objects(lines, path):
            if record == NOT_UTF8:
                yield where, record
                continue
            question = record.get("question") if isinstance(record, dict) else None
            if not isinstance(question, str) or not question.strip():
                yield where, 'expected {"id", "question"} with the question as text'
                continue
            if not isinstance(record.get("conversation", ""), str | int):
                yield where, 'expected "conversation" as text or a number'
                continue
            yield where, record


def _open_batch(path: str) -> Any:
    """The batch file's lines as bytes (standard input for "-")."""
    if path == "-":
        return contextlib.nullcontext(sys.stdin.buffer)
    try:
        return Path(path).open("rb")
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from None


def _cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console

    from berita.app.evaluate import evaluate

    suite = Path(args.suite)
    if not (suite / "corpus.jsonl").is_file() or not (suite / "questions.jsonl").is_file():
        raise CommandError(f"{suite} is not a suite (needs corpus.jsonl and questions.jsonl)")
    console = Console(stderr=True)
    with console.status("ingesting the corpus…") as status:
        metrics, _ = evaluate(
            suite,
            settings,
            k=args.k,
            limit=args.limit,
            on_progress=lambda done, total: status.update(f"asking {done}/{total}"),
        )
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(metrics_table(metrics))
    return 0


def _cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    from berita.answer.components import open_store
    from berita.text import drop_hidden

    sources = open_store(settings).sources()
    if args.json:
        print(json.dumps([vars(s) for s in sources], ensure_ascii=False, indent=2))
        return 0
    if not sources:
        print("no articles stored")
    for info in sources:
        fields = (info.doc_id, info.published or "-", f"{info.passages} passages")
        fields += (info.title or "(untitled)", info.url)
        print("\t".join(" ".join(drop_hidden(field).split()) for field in fields))
    return 0


def _cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    from berita.answer.components import open_store

    store = open_store(settings)
    removed = store.remove(args.doc_ids)
    missing = [doc_id for doc_id, count in removed.items() if not count]
    for doc_id, count in removed.items():
        if count:
            print(f"removed {doc_id} ({count} passages)")
    for doc_id in missing:
        print(f"berita: no article {doc_id!r}", file=sys.stderr)
    if len(missing) < len(removed):
        store.commit()
    return EXIT_FAILED_ITEMS if missing else 0


def _cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    from berita.answer.components import open_store

    store = open_store(settings, for_reindex=True, bulk=True)
    total = store.reindex()
    print(f"re-embedded {total} passages with {settings.embedding_model}")
    return 0


def _cmd_prune_cache(args: argparse.Namespace, settings: Settings) -> int:
    from berita.answer.components import open_store

    kept, deleted = open_store(settings).prune_embedding_cache()
    print(f"embedding cache: kept {kept} vectors, deleted {deleted}")
    return 0


def _cmd_export_reader(args: argparse.Namespace, settings: Settings) -> int:
    if settings.reader_model:
        raise CommandError(
            f"READER_MODEL is {settings.reader_model!r}, already a sentence-transformers model: "
            "unset it to export berita's own reader"
        )
    from berita.reader.export import ExportError, export_reader

    try:
        out = export_reader(settings.reader_path, Path(args.out))
    except ExportError as error:
        raise CommandError(str(error)) from None
    print(f"wrote {out}: load it with sentence_transformers.CrossEncoder({str(out)!r})")
    return 0


def _cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from berita.answer.components import open_store
    from berita.vectorstore.check import check_store, repair_store

    store = open_store(settings)
    found = check_store(store)
    for line in found.lines():
        print(line)
    if found.ok:
        print("the store is sound")
        return 0
    if not args.repair:
        print("run `berita check --repair` to write the damaged articles again")
        return EXIT_FAILED_ITEMS
    repaired = repair_store(store, found)
    again = check_store(store)
    print(f"repaired: {len(repaired)} articles written again from their stored text")
    if not again.ok:
        for line in again.lines()[1:]:
            print(f"still: {line}")
        print("ingest these articles again from their sources")
        return EXIT_FAILED_ITEMS
    print("the store is sound")
    return 0


def _cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    from berita.answer.components import open_store
    from berita.ingest.config import WatchConfig
    from berita.ingest.watch import watch
    from berita.vectorstore.check import log_check

    store = open_store(settings, serve=True, bulk=True)
    try:
        with _stop_on_signals() as stop:
            own_client = functools.partial(_closing_store, settings)
            checking = threading.Thread(target=log_check, args=(own_client, stop), daemon=True)
            checking.start()  # the store checked beside the first poll, as the bot does
            config = WatchConfig.from_settings(settings)
            watch(store, config, say=lambda line: print(line, flush=True), stop=stop)
            stop.set()
            checking.join(timeout=10)
    except KeyboardInterrupt:
        pass
    print("berita: watch stopped", file=sys.stderr)
    return 0


def _closing_store(settings: Settings) -> contextlib.closing[PassageStore]:
    """A store client of the watcher's own, let go of at the end of a `with`."""
    from berita.answer.components import open_store

    return contextlib.closing(open_store(settings, serve=True, bulk=True))


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """Ctrl-C or SIGTERM interrupts the run (a fetch in progress included) and also sets the
    event, which the pipeline checks after each article: a library that swallows the
    KeyboardInterrupt cannot keep the run going. What is stored is committed either way."""
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, request_stop) for number in _STOP_SIGNALS}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    from berita.answer.components import open_store
    from berita.ingest.watch import feeds_to_watch

    feeds = feeds_to_watch(settings.configured_feeds(), open_store(settings).feed_states())
    if not feeds:
        print("no feeds: set FEEDS or FEEDS_FILE, or /feeds add URL in the bot")
    for state in feeds:
        print(state.describe())
    return 0


def _cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from berita.answer.components import open_answerer
    from berita.answer.conversation import Threads

    answerer = open_answerer(settings)
    threads = Threads(settings.conversation_timeout_min * 60)
    print(
        "Ask about the articles; follow-ups continue the thread, /new starts afresh "
        "(empty line or Ctrl-D to quit)."
    )
    while True:
        try:
            question = input("? ").strip()
        except EOFError:
            return 0
        if not question:
            return 0
        if question == "/new":
            threads.forget("console")
            continue
        answer = answerer.ask_in(threads, "console", question, settings.retrieve_k)
        print(format_answer(answer), end="\n\n")


# -- output -----------------------------------------------------------------------------------


def answer_json(answer: Any) -> dict[str, Any]:
    """The `--json` form of an answer."""
    from berita.vectorstore.passages import passage_body

    return {
        "question": answer.question,
        "answer": answer.answer,
        "abstained": answer.abstained,
        "language": answer.language,
        "passages": [
            {
                "doc_id": p.document.metadata.get("doc_id", ""),
                "chunk": p.document.metadata.get("chunk", 0),
                "title": p.document.metadata.get("title", ""),
                "url": p.document.metadata.get("url", ""),
                "published": p.document.metadata.get("published", ""),
                "score": round(p.score, 4),
                **({} if p.reader is None else {"reader": round(p.reader, 4)}),
                "text": passage_body(p.document),
            }
            for p in answer.passages
        ],
        "citations": answer.citations,
        "follows_up": answer.follows is not None,
        "asked_as": answer.asked_as,
        "evidence": {name: round(value, 4) for name, value in answer.evidence.items()},
        "timings_ms": answer.timings_ms,
    }


def format_answer(answer: Any) -> str:
    """The answer as plain text, followed by its sources (title, date and URL, those known)."""
    lines = [answer.answer]
    cited = answer.cited()
    if cited:
        lines += ["", f"{answer.sources_heading}:"]
        for number, m in enumerate(cited, start=1):
            parts = (m.get("title") or m["doc_id"], m.get("published"), m.get("url"))
            lines.append(f"  [{number}] {' — '.join(part for part in parts if part)}")
    return "\n".join(lines)


def metrics_table(metrics: dict[str, Any]) -> str:
    """A metrics table in Markdown."""
    rows = [(name, value) for name, value in metrics.items() if name != "suite"]
    lines = [f"| {metrics.get('suite', 'suite')} | value |", "|---|---|"]
    for name, value in rows:
        shown = f"{value:.3f}" if isinstance(value, float) and value <= 1 else f"{value:g}"
        lines.append(f"| {name} | {shown} |")
    return "\n".join(lines)


# -- parser -----------------------------------------------------------------------------------


def _cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    from berita.settings import reference

    print(reference(), end="")
    return 0


def _bot(args: argparse.Namespace, settings: Settings) -> int:
    from berita.bot.telegram import run_bot

    return run_bot(settings)


class _Version(argparse.Action):
    """`--version`: the version, and which store the settings point at (nothing is opened)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        try:
            store = get_settings().store_location
        except SettingsError as error:
            store = f"unknown ({error})"
        print(f"berita {__version__}\nstore: {store}")
        parser.exit()


def _positive(value: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return number


def _text_encoding(name: str) -> str:
    """An argparse type: a text encoding's name, as Python's codec for it names it."""
    try:
        codec = codecs.lookup(name).name
        "".encode(codec)  # LookupError for a bytes-to-bytes codec (base64, hex, ...)
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown text encoding {name!r}") from None
    return codec


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="berita", description="Ask questions about news articles; answers cite their sources."
    )
    parser.add_argument(
        "--version", action=_Version, nargs=0, help="show the version and the store in use"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(run=run)
        return sub

    sub = command(
        "ingest",
        _cmd_ingest,
        "ingest articles: .jsonl(.gz)/.txt/.md/.html files, folders, URLs, RSS/Atom feeds",
    )
    sub.add_argument(
        "sources", nargs="+", metavar="SOURCE", help='a file, folder or URL; "-": JSONL on stdin'
    )
    sub.add_argument(
        "--encoding",
        type=_text_encoding,
        default="utf-8",
        help="read files and stdin in this encoding (e.g. cp1252) where a byte-order mark or an "
        "HTML <meta> charset doesn't name theirs (default: utf-8)",
    )

    sub = command("ask", _cmd_ask, "answer a question from the stored articles")
    sub.add_argument("question", nargs="?", metavar="QUESTION")
    sub.add_argument("--json", action="store_true", help="print one JSON object")
    sub.add_argument("--batch", metavar="FILE.jsonl", help='questions as {"id", "question"} lines')
    sub.add_argument("--k", type=_positive, default=None, help="passages to retrieve (RETRIEVE_K)")

    sub = command("eval", _cmd_eval, "score retrieval and answers on an evaluation suite")
    sub.add_argument("suite", metavar="SUITE_DIR")
    sub.add_argument("--k", type=_positive, default=10)
    sub.add_argument("--limit", type=_positive, default=None, help="ask only the first N questions")
    sub.add_argument("--json", action="store_true")

    sub = command("sources", _cmd_sources, "list the stored articles")
    sub.add_argument("--json", action="store_true")

    sub = command("remove", _cmd_remove, "delete articles and their passages")
    sub.add_argument("doc_ids", nargs="+", metavar="DOC_ID")

    command("reindex", _cmd_reindex, "re-embed every passage with EMBEDDING_MODEL")
    sub = command("check", _cmd_check, "check every passage's vector and the BM25 index")
    sub.add_argument(
        "--repair", action="store_true", help="write damaged articles again from what is stored"
    )
    command(
        "prune-cache",
        _cmd_prune_cache,
        "delete cached vectors of removed or changed articles and of other models",
    )
    command("watch", _cmd_watch, "poll the feeds every FEED_INTERVAL_MIN and store new articles")
    command("feeds", _cmd_feeds, "show each watched feed's state")
    command("chat", _cmd_chat, "ask questions in a console loop")
    command("bot", _bot, "run the Telegram bot")
    command("settings", _cmd_settings, "list every setting, its default and meaning (Markdown)")
    sub = command(
        "export-reader",
        _cmd_export_reader,
        "write the reader (READER_PATH) as a folder sentence-transformers' CrossEncoder loads",
    )
    sub.add_argument("out", metavar="OUT_DIR", help="a new folder (~490 MB)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
