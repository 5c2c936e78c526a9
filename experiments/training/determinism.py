"""Makes a training run reproducible bit for bit on CPU, and leaves the process as it found it.

What makes two runs of one config differ on CPU: weight initialisation and dropout (torch's global
generator), batch order (here a dedicated torch.Generator), and floating-point reductions whose
order depends on the number of intra-op threads. So: seed everything from the config's seed, turn on
torch's deterministic algorithms (an op without a deterministic implementation raises instead of
silently varying), and fix the thread count (the config's `num_threads`, recorded with the run, so
a re-run on a machine with more cores still sums in the same order).

A Celery worker runs many jobs in one process, so the global settings are restored afterwards
(fork_rng restores the global generator) instead of leaking one job's seed into the next.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch


@contextlib.contextmanager
def deterministic(seed: int, num_threads: int = 1) -> Iterator[np.random.Generator]:
    """Inside: torch seeded, deterministic algorithms on, `num_threads` intra-op threads. Yields a
    numpy Generator seeded from the same seed for any numpy-side randomness."""
    previous_threads = torch.get_num_threads()
    previous_deterministic = torch.are_deterministic_algorithms_enabled()
    previous_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(num_threads)
        torch.use_deterministic_algorithms(True)
        try:
            yield np.random.default_rng(seed)
        finally:
            torch.use_deterministic_algorithms(previous_deterministic, warn_only=previous_warn_only)
            torch.set_num_threads(previous_threads)


def torch_generator(seed: int) -> torch.Generator:
    """A generator of its own for batch shuffling, so the order of batches does not depend on how
    many random numbers model construction happened to draw."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
