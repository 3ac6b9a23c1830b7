"""Helpers for transfer experiments with few target labels.

Introduced in notebook 01 (fine-tuning, conservative training, layer transfer):
`split_at` cuts a `SmallCNN` after layer k, so that the outputs of frozen layers can be
computed once instead of at every training step; `epochs_for_steps` turns a budget of
optimisation steps into the number of epochs `zsl_utils.train.fit` needs, so that a 1-shot
and a 100-shot run get about the same number of updates.
"""

from __future__ import annotations

import math

from torch import nn

from .models import SmallCNN

__all__ = ["split_at", "epochs_for_steps"]


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
