"""A plain supervised training loop with a progress bar, and batched prediction.

Introduced in notebook 01 and reused by every notebook that trains a classifier.
Data are small tensors held in memory, so there is no DataLoader: `fit` shuffles indices.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from .stopping import EarlyStopping

__all__ = ["fit", "predict", "accuracy"]


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
    if len(x) == 0:
        raise ValueError("no training samples")


def fit(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int = 64,
    weight_decay: float = 0.0,
    penalty: Callable[[nn.Module], torch.Tensor] | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: torch.device | str = "cpu",
    seed: int = 0,
    progress: bool = True,
    desc: str = "training",
    validation: tuple[torch.Tensor, torch.Tensor] | None = None,
    patience: int = 2,
) -> dict[str, list[float]]:
    """Train `model` with Adam on cross-entropy (+ `penalty(model)` if given), in place.

    Only parameters with `requires_grad` are optimised, so frozen layers stay as they are.
    `augment` transforms each input batch. Returns the mean loss of each epoch. With
    `validation=(x_val, y_val)`, `epochs` is a cap: training stops once validation accuracy
    has not improved for `patience` epochs, the weights of the best epoch are restored, and the
    history also holds "val_accuracy" (per epoch) and "best_epoch" (1-based, one value).
    """
    _check_pair(x, y)
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    stopper = None
    if validation is not None:
        _check_pair(*validation)
        stopper = EarlyStopping(patience)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no trainable parameters")
    optimiser = torch.optim.Adam(trainable, lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    model.to(device).train()
    history: dict[str, list[float]] = {"loss": []}
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        total = 0.0
        for batch in torch.randperm(len(x), generator=generator).split(batch_size):
            xb, yb = x[batch].to(device), y[batch].to(device)
            if augment is not None:
                xb = augment(xb)
            loss = nn.functional.cross_entropy(model(xb), yb)
            if penalty is not None:
                loss = loss + penalty(model)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        history["loss"].append(total / len(x))
        bar.set_postfix(loss=f"{history['loss'][-1]:.3f}")
        if stopper is not None:
            score = accuracy(model, *validation, device=device)
            history.setdefault("val_accuracy", []).append(score)
            stopper.update(score, state=model.state_dict())
            model.train()
            if stopper.all_stopped:
                break
    if stopper is not None:
        model.load_state_dict(stopper.best_state)
        history["best_epoch"] = [int(stopper.best_evaluation[0]) + 1]
    model.eval()
    return history


@torch.no_grad()
def predict(
    model: nn.Module, x: torch.Tensor, batch_size: int = 1024, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """The model's outputs (e.g. logits) for `x`, computed in eval mode, returned on the CPU."""
    if len(x) == 0:
        raise ValueError("no samples to predict")
    model.to(device).eval()
    return torch.cat([model(xb.to(device)).cpu() for xb in x.split(batch_size)])


def accuracy(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device | str = "cpu"
) -> float:
    """Top-1 accuracy of `model` on (x, y)."""
    _check_pair(x, y)
    return (predict(model, x, device=device).argmax(1) == y).float().mean().item()
