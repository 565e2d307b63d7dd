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


def steps_head(order: Array, batch_size: int, k_steps: int) -> Array:
    """The samples of the first k steps of an epoch's order (all of it when shorter), (m,)."""
    k = min(k_steps, steps_per_epoch(order.shape[0], batch_size))
    return order[: k * batch_size]


def log_steps(total_steps: int, points: int) -> list[int]:
    """About ``points`` steps to log, denser early (log-spaced) and spread evenly after."""
    if total_steps <= points:
        return list(range(1, total_steps + 1))
    early = np.geomspace(1, total_steps, points // 2)
    even = np.linspace(1, total_steps, points - points // 2)
    return sorted({round(float(s)) for s in np.concatenate([early, even])})
