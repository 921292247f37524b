"""Bot benchmark: answer latency through the test Bot API server (1 user, then 50 at once) and
the bot's memory. Runs the real `berita bot` process, as the tests do.

    .venv/bin/python benchmarks/bot.py [--corpus ../shared/eval/facqa-dev/corpus.jsonl]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.run import table  # noqa: E402
from tests.telegram_api import BotAPIServer  # noqa: E402

QUESTIONS = [
    "which countries left CSTO?",
    "Siapa juru bicara Kremlin?",
    "Who is the president of Azerbaijan?",
    "Berapa lama perang Armenia dengan Azerbaijan pada 2020?",
]


def memory_mib(pid: int) -> tuple[float, float]:
    """Current and peak resident memory of a process, in MiB."""
    fields = dict(
        line.split(":", 1)
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def ask_all(api: BotAPIServer, users: list[int], question_of: dict[int, str]) -> list[float]:
    """Send one question per user at once; seconds until each user's reply arrived."""
    before = {user: len(api.replies_to(user)) for user in users}
    asked = {}
    for user in users:
        asked[user] = time.monotonic()
        api.user_says(question_of[user], user_id=user)
    api.wait_for(lambda s: all(len(s.replies_to(u)) > before[u] for u in users), timeout=300)
    return [api.replies_to(user)[before[user]].at - asked[user] for user in users]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", default=str(REPO / "data/samples/seed.jsonl"))
    parser.add_argument("--rounds", type=int, default=40, help="questions for the 1-user run")
    args = parser.parse_args()
    berita = str(Path(sys.executable).parent / "berita")
    api = BotAPIServer()
    base = api.start()
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "CHROMA_PATH": folder,
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_BASE_URL": f"{base}/bot",
            "RATE_LIMIT_PER_MINUTE": "1000",
        }
        subprocess.run([berita, "ingest", args.corpus], env=env, check=True, capture_output=True)
        bot = subprocess.Popen(
            [berita, "bot"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            api.wait_for(lambda s: "getUpdates" in s.calls, timeout=60)
            idle = memory_mib(bot.pid)
            single = []
            for n in range(args.rounds):
                single += ask_all(api, [1], {1: QUESTIONS[n % len(QUESTIONS)]})
            users = list(range(100, 150))
            burst_started = time.monotonic()
            burst = ask_all(api, users, {u: QUESTIONS[u % len(QUESTIONS)] for u in users})
            burst_wall = time.monotonic() - burst_started
            busy = memory_mib(bot.pid)
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(30)
            api.stop()

    def ms(values: list[float], q: float) -> str:
        ordered = sorted(values)
        return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.0f}"

    corpus = Path(args.corpus)
    where = f"{corpus.parent.name}/{corpus.name}"
    print(f"\n### Bot answer latency through the test Bot API server ({where})\n")
    print(
        table(
            ["users at once", "questions", "p50 ms", "p95 ms", "all answered in s"],
            [
                [1, len(single), f"{statistics.median(single) * 1000:.0f}", ms(single, 0.95), "–"],
                [
                    50,
                    len(burst),
                    f"{statistics.median(burst) * 1000:.0f}",
                    ms(burst, 0.95),
                    f"{burst_wall:.1f}",
                ],
            ],
        )
    )
    print("\n### Bot memory\n")
    print(
        table(
            ["when", "RSS MiB", "peak RSS MiB"],
            [
                ["idle, after start", f"{idle[0]:.0f}", f"{idle[1]:.0f}"],
                ["after the runs above", f"{busy[0]:.0f}", f"{busy[1]:.0f}"],
            ],
        )
    )


if __name__ == "__main__":
    main()
