"""Helpers for transfer experiments with few target labels.

Introduced in notebook 01 (fine-tuning, conservative training, layer transfer):
`split_at` cuts a `SmallCNN` after layer k, so that the outputs of frozen layers can be
computed once instead of at every training step; `epochs_for_steps` turns a budget of
optimisation steps into the number of epochs `zsl_utils.train.fit` needs, so that a 1-shot
and a 100-shot run get about the same number of updates; `holdout_split` sets a fixed test
set aside and keeps the rest as the pool that few-shot training sets are drawn from.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .data import sample_per_class
from .models import SmallCNN

__all__ = ["split_at", "epochs_for_steps", "holdout_split"]


def split_at(model: SmallCNN, k: int) -> tuple[nn.Sequential, nn.Sequential]:
    """Split `model` after layer k into (bottom, top), with `top(bottom(x)) == model(x)`.

    `bottom` holds layers 1..k (empty, the identity, for k = 0) and `top` the remaining
    layers and the head. Both share their parameters with `model` (no copies), so training
    `top` trains `model`. `bottom` skips the 28×28 input check of `SmallCNN.features`.
    """
    if not isinstance(model, SmallCNN):
        raise TypeError(f"split_at needs a SmallCNN, got {type(model).__name__}")
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= len(model.layers):
        raise ValueError(f"k must be an int between 0 and {len(model.layers)}, got {k!r}")
    bottom = nn.Sequential(*model.layers[:k])
    top = nn.Sequential(*model.layers[k:], model.head)
    return bottom, top


def epochs_for_steps(n_samples: int, batch_size: int, steps: int) -> int:
    """The fewest epochs of `ceil(n_samples / batch_size)` batches that give `steps` updates."""
    for name, value in (("n_samples", n_samples), ("batch_size", batch_size), ("steps", steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    batches_per_epoch = math.ceil(n_samples / batch_size)
    return math.ceil(steps / batches_per_epoch)


def holdout_split(
    x: torch.Tensor, y: torch.Tensor, n_test: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(test_loc, pool_loc): `n_test` random samples of every class for a fixed test set, and
    the rest as a pool to draw training sets from, without any image identical to a test image.

    The animal silhouettes contain exact duplicates, so without the second rule a test image
    could also be drawn for training. Both index arrays are sorted. Introduced in notebook 02;
    with seed 2018 it gives the target test set and pool that notebook 01 builds by hand.
    """
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
    test_loc = sample_per_class(y, n_test, seed)
    test_images = {image.numpy().tobytes() for image in x[test_loc]}
    rest = np.setdiff1d(np.arange(len(y)), test_loc)
    pool_loc = np.array(
        [i for i in rest if x[i].numpy().tobytes() not in test_images], dtype=np.int64
    )
    return test_loc, pool_loc
