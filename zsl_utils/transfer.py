"""Helpers for transfer experiments with few target labels.

Introduced in notebook 01 (fine-tuning, conservative training, layer transfer):
`split_at` cuts a `SmallCNN` after layer k, so that the outputs of frozen layers can be
computed once instead of at every training step; `epochs_for_steps` turns a budget of
optimisation steps into the number of epochs `zsl_utils.train.fit` needs, so that a 1-shot
and a 100-shot run get about the same number of updates; `holdout_split` sets a fixed test
set aside and keeps the rest as the pool that few-shot training sets are drawn from;
`fit_together` trains one model per seed in a single vectorised loop, the same training as
`fit` on each, and several times faster than separate runs when the batches are small.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .data import sample_per_class
from .models import SmallCNN

__all__ = ["split_at", "epochs_for_steps", "holdout_split", "fit_together"]


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
    could also be drawn for training. Both index arrays are sorted. Introduced in notebook 01
    and reused in 02.
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


class _Penalised(nn.Module):
    """`penalty(model)` as a module, so that it can be evaluated on one model's weights."""

    def __init__(self, model: nn.Module, penalty: Callable[[nn.Module], torch.Tensor]):
        super().__init__()
        self.model = model
        self.penalty = penalty

    def forward(self) -> torch.Tensor:
        return self.penalty(self.model)


def fit_together(
    models: Sequence[nn.Module],
    x: torch.Tensor | Sequence[torch.Tensor],
    y: torch.Tensor | Sequence[torch.Tensor],
    *,
    epochs: int,
    seeds: Sequence[int],
    lr: float = 1e-3,
    batch_size: int = 64,
    penalty: Callable[[nn.Module], torch.Tensor] | None = None,
    device: torch.device | str = "cpu",
) -> dict[str, list[list[float]]]:
    """Train `models[i]` on `(x[i], y[i])` with shuffling seed `seeds[i]`, all in one loop.

    The same training as `zsl_utils.train.fit(models[i], x[i], y[i], seed=seeds[i], ...)` for
    every i (Adam on cross-entropy + `penalty(model)`, only parameters with `requires_grad`,
    the same batches), up to floating-point rounding; the models must share one architecture
    and every training set must have the same size. The models' weights are stacked and one
    `torch.func.vmap` step updates all of them, which is several times faster than separate
    runs when the batches are small. `penalty` gets each model with its own weights. The
    models are updated in place and left in eval mode. Returns each epoch's mean loss of
    every model (`history["loss"][epoch][i]`). Introduced in notebook 01.
    """
    models = list(models)
    n_models = len(models)
    if n_models == 0:
        raise ValueError("no models to train")
    x = torch.stack(list(x)) if not isinstance(x, torch.Tensor) else x
    y = torch.stack(list(y)) if not isinstance(y, torch.Tensor) else y
    if len(x) != n_models or len(y) != n_models or len(seeds) != n_models:
        raise ValueError(
            f"need one training set and one seed per model: {n_models} models, "
            f"{len(x)} x, {len(y)} y, {len(seeds)} seeds"
        )
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x has {x.shape[1]} samples per model but y has {y.shape[1]}")
    if x.shape[1] == 0:
        raise ValueError("no training samples")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    layout = [(name, p.shape, p.requires_grad) for name, p in models[0].named_parameters()]
    for i, model in enumerate(models[1:], start=1):
        if [(n, p.shape, p.requires_grad) for n, p in model.named_parameters()] != layout:
            raise ValueError(f"model {i} differs from model 0 in its parameters or frozen layers")
    trainable = [name for name, _, grad in layout if grad]
    if not trainable:
        raise ValueError("the models have no trainable parameters")

    for model in models:
        model.to(device).train()
    stacked, buffers = stack_module_state(models)
    params = {n: p.detach().clone().requires_grad_(n in trainable) for n, p in stacked.items()}
    optimiser = torch.optim.Adam([params[n] for n in trainable], lr=lr)
    template = models[0]

    def one_loss(p, b, xb, yb):
        return nn.functional.cross_entropy(functional_call(template, (p, b), (xb,)), yb)

    losses = vmap(one_loss)
    penalised = _Penalised(template, penalty) if penalty is not None else None
    x, y = x.to(device), y.to(device)
    rows = torch.arange(n_models, device=device)[:, None]
    generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    n = x.shape[1]
    history: dict[str, list[list[float]]] = {"loss": []}
    for _ in range(epochs):
        order = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(device)
        total = torch.zeros(n_models)
        for batch in order.split(batch_size, dim=1):
            loss = losses(params, buffers, x[rows, batch], y[rows, batch])
            if penalised is not None:
                loss = loss + torch.stack(
                    [
                        functional_call(
                            penalised, {f"model.{k}": v[i] for k, v in params.items()}, ()
                        )
                        for i in range(n_models)
                    ]
                )
            optimiser.zero_grad()
            loss.sum().backward()  # each model's loss depends on its own weights only
            optimiser.step()
            total += loss.detach().cpu() * batch.shape[1]
        history["loss"].append((total / n).tolist())
    with torch.no_grad():
        for i, model in enumerate(models):
            for name, p in model.named_parameters():
                p.copy_(params[name][i])
            model.eval()
    return history
