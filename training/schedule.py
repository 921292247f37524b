"""The training schedule: a step budget paced to a deadline, the learning rate's warm-up and
decay, and batches of similar length."""

from __future__ import annotations

import random
from collections.abc import Iterator

WARM_UP_STEPS = 10  # left out of the pace: a GPU's first steps are slow (kernels, memory)


class Plan:
    """How far training has gone: by steps of the budget, or by time before the deadline, whichever
    is further (0 at the start, 1 to stop), with room kept for measuring and saving after it.

    The room is re-estimated every 50 steps from the pace of the last 50 (from step WARM_UP_STEPS
    at first: a GPU's first steps are slow while kernels are picked and memory is taken). Progress
    by time, not a step count planned early, is what keeps a slow start from cutting a run
    short."""

    def __init__(self, budget: int, started: float, deadline: float, measure_steps: float) -> None:
        self.budget, self.started, self.deadline = budget, started, deadline
        self.measure_steps = measure_steps  # measuring's cost, in training steps
        self.stop_at = deadline - 90.0  # until the pace is known
        self._mark = (0, started)  # the step and time the pace is timed from

    def progress(self, step: int, now: float) -> float:
        """The fraction done after `step` steps at `now` (time.monotonic())."""
        by_time = (now - self.started) / max(self.stop_at - self.started, 1e-9)
        return max(step / self.budget, by_time)

    def done(self, step: int, now: float) -> None:
        """Step `step` ended at `now`."""
        if step == WARM_UP_STEPS:
            self._mark = (step, now)
        elif step > WARM_UP_STEPS and (step == 2 * WARM_UP_STEPS or step % 50 == 0):
            per_step = (now - self._mark[1]) / (step - self._mark[0])
            self.stop_at = self.deadline - 30.0 - 1.5 * self.measure_steps * per_step
            self._mark = (step, now)


def learning_rate_scale(progress: float) -> float:
    """Linear warm-up over the first 5% of training, then linear decay to 0 at its end."""
    if progress < 0.05:
        return progress / 0.05
    return max(0.0, (1.0 - progress) / 0.95)


def batch_order(lengths: list[int], size: int, seed: int) -> Iterator[list[int]]:
    """The training batches (lists of pair numbers), epoch after epoch, in the seed's order."""
    rng = random.Random(seed)  # noqa: S311 (reproducible batches, not secrets)
    while True:
        yield from reversed(_length_batches(lengths, size, rng))


def _length_batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    """One epoch of batches, in random order, each of pairs of similar length (less padding):
    shuffled, sorted by length within windows of 50 batches, cut into batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = size * 50
    batches = []
    for start in range(0, len(order), window):
        part = sorted(order[start : start + window], key=lengths.__getitem__)
        batches += [part[i : i + size] for i in range(0, len(part), size)]
    rng.shuffle(batches)
    return batches
