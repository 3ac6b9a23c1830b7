"""Reproducibility: one base seed for a whole run, the seeds derived from it, and the device.

Introduced in notebook 00. Every notebook's first code cell calls `setup()`, which seeds every
generator with the base seed, applies the display style (`style`) and prints the seed; every
other seed a notebook uses (data draws, initialisations, class splits, caption draws, bootstrap
resamples) comes from `seeds(n, purpose)`. The base seed is read from the environment variable
`ZSL_SEED` (default 0), so `ZSL_SEED=1 make test-seed` re-runs the whole course on other draws.
"""

from __future__ import annotations

import os
import random
import zlib

import numpy as np
import torch

from .style import use_display_style, use_threads

__all__ = ["SEED_VARIABLE", "base_seed", "seeds", "set_seed", "get_device", "setup"]

SEED_VARIABLE = "ZSL_SEED"


def base_seed() -> int:
    """The run's base seed: the integer in `ZSL_SEED`, or 0 when it is unset or empty."""
    text = os.environ.get(SEED_VARIABLE, "").strip()
    if not text:
        return 0
    if not text.isdecimal():
        raise ValueError(f"{SEED_VARIABLE} must be a non-negative integer, got {text!r}")
    return int(text)


def seeds(n: int, purpose: str = "", base: int | None = None) -> list[int]:
    """`n` distinct seeds for `purpose` (a short label such as "test split"), from the base seed.

    The same base and purpose always give the same seeds; another base or another purpose gives
    others, so two experiments of one notebook never share their draws by accident.
    `base` defaults to `base_seed()`.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(purpose, str):
        raise TypeError(f"purpose must be a string, got {type(purpose).__name__}")
    base = base_seed() if base is None else base
    _check_seed(base)
    entropy = [base, zlib.crc32(purpose.encode())]
    state = np.random.SeedSequence(entropy).generate_state(2 * n + 8, dtype=np.uint32)
    distinct = list(dict.fromkeys(int(s) for s in state))[:n]
    if len(distinct) < n:  # 2n + 8 draws of 32 bits hold n distinct ones in any real use
        raise RuntimeError(f"could not derive {n} distinct seeds")
    return distinct


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's generators (CPU and CUDA) with `seed`."""
    _check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (the legacy global generator students call)
    torch.manual_seed(seed)


def get_device(prefer_cuda: bool = True) -> torch.device:
    """CUDA when present (and preferred), else the CPU. The course never requires a GPU."""
    if prefer_cuda and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def setup(prefer_cuda: bool = True, threads: int | None = None) -> torch.device:
    """The first cell of every notebook: seed every generator with the base seed, apply the
    course's display style (figures, tables), use `threads` CPU threads (when given), print
    what was set and return the device."""
    seed = base_seed()
    set_seed(seed)
    use_display_style()
    if threads is not None:
        use_threads(threads)
    device = get_device(prefer_cuda)
    print(
        f"base seed: {seed} (set {SEED_VARIABLE} to change it) | device: {device}"
        f" | CPU threads: {torch.get_num_threads()}"
    )
    return device


def _check_seed(seed) -> None:
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
