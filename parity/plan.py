"""The batch plan: the per-epoch sample order every implementation follows (none shuffles)."""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def batch_plan(n_samples: int, n_epochs: int, seed: int) -> Array:
    """One permutation of range(n_samples) per epoch, (n_epochs, n_samples) int64.

    Drawn from its own stream, ``default_rng([seed, 1])``, so it never shares random numbers
    with ``init_params`` (which uses ``default_rng(seed)``).
    """
    if n_samples < 1 or n_epochs < 1:
        raise ValueError(
            f"batch plan needs n_samples >= 1 and n_epochs >= 1, got {n_samples}, {n_epochs}"
        )
    rng = np.random.default_rng([seed, 1])
    return np.stack([rng.permutation(n_samples) for _ in range(n_epochs)]).astype(np.int64)


def steps_per_epoch(n_samples: int, batch_size: int) -> int:
    """Batches in one epoch: the last, smaller batch counts."""
    return -(-n_samples // batch_size)
