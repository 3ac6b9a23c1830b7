"""Reproducibility: one seed for every generator, and the device to run on.

Introduced in notebook 00; every notebook's first code cell calls both.
"""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["set_seed", "get_device"]


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's generators (CPU and CUDA) with `seed`."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (the legacy global generator students call)
    torch.manual_seed(seed)


def get_device(prefer_cuda: bool = True) -> torch.device:
    """CUDA when present (and preferred), else the CPU. The course never requires a GPU."""
    if prefer_cuda and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")
