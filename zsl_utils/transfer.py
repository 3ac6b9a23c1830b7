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
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .data import sample_per_class
from .models import SmallCNN
from .stopping import EarlyStopping

__all__ = [
    "split_at",
    "epochs_for_steps",
    "holdout_split",
    "stackable_parameters",
    "fit_together",
    "l2sp_together",
]


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


def l2sp_together(
    reference_state: Mapping[str, torch.Tensor],
    alpha: float | Sequence[float] | torch.Tensor,
    beta: float | Sequence[float] | torch.Tensor,
) -> Callable[[dict[str, torch.Tensor]], torch.Tensor]:
    """`zsl_utils.losses.l2sp_penalty` for models trained together, as `stacked_penalty`.

    Returns a function of the stacked parameters (name → tensor with the models along the
    first axis) giving each model's α/2·‖w_S − w_S⁰‖² + β/2·‖w_new‖², with the same w_S and
    w_new as `l2sp_penalty` (trainable parameters only). `alpha` and `beta` are one number for
    all models or one per model, so that a grid of strengths trains in one loop. A reference
    of zeros gives plain L2 regularisation towards zero (weight decay added to the loss).
    Much faster than calling `l2sp_penalty` model by model. Introduced in notebook 01.
    """
    strengths = []
    for name, value in (("alpha", alpha), ("beta", beta)):
        value = torch.as_tensor(value, dtype=torch.float32).reshape(-1)
        if value.numel() == 0 or (value < 0).any() or not torch.isfinite(value).all():
            raise ValueError(f"{name} must be non-negative numbers, got {value.tolist()}")
        strengths.append(value)
    alphas, betas = strengths
    reference = {name: w.detach() for name, w in reference_state.items()}

    def penalty(params: dict[str, torch.Tensor]) -> torch.Tensor:
        trainable = [(n, p) for n, p in params.items() if p.requires_grad]
        if not trainable:
            raise ValueError("the models have no trainable parameters")
        if not any(n in reference for n, _ in trainable):
            raise ValueError("no trainable parameter of the models appears in reference_state")
        n_models = trainable[0][1].shape[0]
        for name, value in (("alpha", alphas), ("beta", betas)):
            if len(value) not in (1, n_models):
                raise ValueError(f"{name} has {len(value)} values for {n_models} models")
        to_source = trainable[0][1].new_zeros(n_models)
        new = trainable[0][1].new_zeros(n_models)
        for name, p in trainable:
            ref = reference.get(name)
            if ref is not None and ref.shape == p.shape[1:]:
                to_source = to_source + (p - ref.to(p.device, p.dtype)).pow(2).flatten(1).sum(1)
            else:
                new = new + p.pow(2).flatten(1).sum(1)
        a, b = alphas.to(to_source.device), betas.to(to_source.device)
        return a / 2 * to_source + b / 2 * new

    return penalty


def _stacked(data, n_models: int, what: str) -> torch.Tensor:
    data = torch.stack(list(data)) if not isinstance(data, torch.Tensor) else data
    if len(data) != n_models:
        raise ValueError(f"need one {what} per model: {n_models} models, {len(data)} {what}s")
    return data


def stackable_parameters(models: Sequence[nn.Module]) -> list[str]:
    """The names of the trainable parameters of models that can be trained together: every
    model must have the same parameters, shapes and frozen layers as the first."""
    layout = [(name, p.shape, p.requires_grad) for name, p in models[0].named_parameters()]
    for i, model in enumerate(models[1:], start=1):
        if [(n, p.shape, p.requires_grad) for n, p in model.named_parameters()] != layout:
            raise ValueError(f"model {i} differs from model 0 in its parameters or frozen layers")
    trainable = [name for name, _, grad in layout if grad]
    if not trainable:
        raise ValueError("the models have no trainable parameters")
    return trainable


def fit_together(
    models: Sequence[nn.Module],
    x: torch.Tensor | Sequence[torch.Tensor],
    y: torch.Tensor | Sequence[torch.Tensor],
    *,
    seeds: Sequence[int],
    epochs: int | None = None,
    lr: float = 1e-3,
    batch_size: int = 64,
    penalty: Callable[[nn.Module], torch.Tensor]
    | Sequence[Callable[[nn.Module], torch.Tensor]]
    | None = None,
    stacked_penalty: Callable[[dict[str, torch.Tensor]], torch.Tensor] | None = None,
    validation: tuple | None = None,
    max_steps: int | None = None,
    eval_every: int = 10,
    patience: int = 5,
    device: torch.device | str = "cpu",
) -> dict[str, list]:
    """Train `models[i]` on `(x[i], y[i])` with shuffling seed `seeds[i]`, all in one loop.

    The same training as `zsl_utils.train.fit(models[i], x[i], y[i], seed=seeds[i], ...)` for
    every i (Adam on cross-entropy + `penalty(model)`, only parameters with `requires_grad`,
    the same batches), up to floating-point rounding; the models must share one architecture
    and every training set must have the same size. The models' weights are stacked and one
    `torch.func.vmap` step updates all of them, which is several times faster than separate
    runs when the batches are small. `penalty` gets each model with its own weights; a list
    of penalties, one per model, trains models with different penalties (say a grid of
    strengths times several seeds) in the same loop. `stacked_penalty` does the same job
    faster: it gets the stacked parameters (name → tensor with the models along the first
    axis) and returns one penalty per model, as `l2sp_together` does; give one or the other.
    The models are updated in place and left in eval mode.

    Two ways to stop:

    - `epochs=n`: exactly n epochs. Returns each epoch's mean loss of every model
      (`history["loss"][epoch][i]`).
    - `validation=(x_val, y_val)` (one validation set per model, stacked like x and y) with
      `max_steps` (the cap): early stopping. Every `eval_every` steps each model's accuracy
      on its validation set is recorded by a `zsl_utils.stopping.EarlyStopping`; a model
      whose accuracy has not improved for `patience` evaluations in a row has stopped, and
      training ends when all have stopped or after `max_steps` steps. Every model gets back
      the weights of its best evaluation (the earliest, on ties). Returns the training loss
      averaged since the previous evaluation (`history["loss"][evaluation][i]`), the
      validation accuracies (`"val_accuracy"`), the step of each evaluation (`"step"`),
      each model's best validation accuracy and its step (`"best_val_accuracy"`,
      `"best_step"`) and the number of steps run (`"steps_run"`).

    Introduced in notebook 01.
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
    if penalty is not None and stacked_penalty is not None:
        raise ValueError("give penalty or stacked_penalty, not both")
    if (epochs is None) == (validation is None):
        raise ValueError("give either epochs or validation (with max_steps), not both")
    if epochs is not None and (
        isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1
    ):
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if validation is not None:
        if len(validation) != 2:
            raise ValueError("validation must be a pair (x_val, y_val)")
        x_val = _stacked(validation[0], n_models, "validation set")
        y_val = _stacked(validation[1], n_models, "validation label set")
        if x_val.shape[1] != y_val.shape[1] or x_val.shape[1] == 0:
            raise ValueError(
                f"x_val has {x_val.shape[1]} samples per model but y_val has {y_val.shape[1]}"
            )
        for name, value in (("max_steps", max_steps), ("eval_every", eval_every)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        stopper = EarlyStopping(patience=patience, n_models=n_models)
    trainable = stackable_parameters(models)

    for model in models:
        model.to(device).train()
    stacked, buffers = stack_module_state(models)
    params = {n: p.detach().clone().requires_grad_(n in trainable) for n, p in stacked.items()}
    optimiser = torch.optim.Adam([params[n] for n in trainable], lr=lr)
    template = models[0]

    def one_loss(p, b, xb, yb):
        return nn.functional.cross_entropy(functional_call(template, (p, b), (xb,)), yb)

    def one_accuracy(p, b, xv, yv):
        return (functional_call(template, (p, b), (xv,)).argmax(dim=1) == yv).float().mean()

    losses = vmap(one_loss)
    penalised = None
    if penalty is not None:
        per_model = list(penalty) if isinstance(penalty, Sequence) else [penalty] * n_models
        if len(per_model) != n_models:
            raise ValueError(
                f"need one penalty per model: {n_models} models, {len(per_model)} penalties"
            )
        penalised = [_Penalised(template, one) for one in per_model]
    x, y = x.to(device), y.to(device)
    rows = torch.arange(n_models, device=device)[:, None]
    generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
    n = x.shape[1]

    def batches():
        # each model's batches, epoch after epoch, in the order `fit` draws them
        while True:
            order = torch.stack([torch.randperm(n, generator=g) for g in generators])
            yield from order.to(device).split(batch_size, dim=1)

    def step(batch) -> torch.Tensor:
        loss = losses(params, buffers, x[rows, batch], y[rows, batch])
        if penalised is not None:
            loss = loss + torch.stack(
                [
                    functional_call(one, {f"model.{k}": v[i] for k, v in params.items()}, ())
                    for i, one in enumerate(penalised)
                ]
            )
        if stacked_penalty is not None:
            extra = stacked_penalty(params)
            if extra.shape != (n_models,):
                raise ValueError(
                    f"stacked_penalty returned shape {tuple(extra.shape)}, not one value per model"
                )
            loss = loss + extra
        optimiser.zero_grad()
        loss.sum().backward()  # each model's loss depends on its own weights only
        optimiser.step()
        return loss.detach().cpu()

    history: dict[str, list] = {"loss": []}
    stream = batches()
    if epochs is not None:
        per_epoch = math.ceil(n / batch_size)
        for _ in range(epochs):
            total = torch.zeros(n_models)
            for _ in range(per_epoch):
                batch = next(stream)
                total += step(batch) * batch.shape[1]
            history["loss"].append((total / n).tolist())
    else:
        for_accuracy = vmap(one_accuracy)
        x_val, y_val = x_val.to(device), y_val.to(device)
        history.update(val_accuracy=[], step=[])
        total, done = torch.zeros(n_models), 0
        for steps_run in range(1, max_steps + 1):
            total += step(next(stream))
            done += 1
            if steps_run % eval_every and steps_run < max_steps:
                continue
            with torch.no_grad():
                scores = for_accuracy(params, buffers, x_val, y_val)
            stopper.update(scores, state={k: v.detach() for k, v in params.items()})
            history["loss"].append((total / done).tolist())
            history["val_accuracy"].append(scores.cpu().tolist())
            history["step"].append(steps_run)
            total, done = torch.zeros(n_models), 0
            if stopper.all_stopped:
                break
        best = stopper.best_state
        with torch.no_grad():
            for name in params:
                params[name].copy_(best[name])
        history["best_val_accuracy"] = stopper.best_score.tolist()
        history["best_step"] = [history["step"][e] for e in stopper.best_evaluation]
        history["steps_run"] = steps_run
    with torch.no_grad():
        for i, model in enumerate(models):
            for name, p in model.named_parameters():
                p.copy_(params[name][i])
            model.eval()
    return history
