"""Early stopping on a validation score, for one model or several trained together.

The fine-tuning, multitask and domain-adaptation notebooks (01-03), the Hangul letter networks of
notebook 04 and the translation notebook (08, on its dev set) stop their training runs with it;
the validation data is carved from the training pool, never from the test data.

`EarlyStopping` is told a validation score per model after each evaluation. It remembers each
model's best score, the evaluation at which it was reached and (if given) a copy of the
model's state at that point, and reports a model as stopped once its score has not improved
for `patience` evaluations in a row. Models trained together (stacked parameters with a
leading seed axis, as `transfer.fit_together` trains them) keep their own best state:

    stopper = EarlyStopping(patience=5, n_models=len(seeds))
    for step in range(max_steps):
        ...train one step...
        if step % eval_every == 0:
            stopper.update(validation_accuracy(params), state=params)
            if stopper.all_stopped:
                break
    params = stopper.best_state
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

__all__ = ["EarlyStopping"]


def _as_scores(scores, n_models: int) -> np.ndarray:
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().double().numpy()
    values = np.atleast_1d(np.asarray(scores, dtype=float))
    if values.shape != (n_models,):
        raise ValueError(f"expected {n_models} validation score(s), got shape {values.shape}")
    if np.isnan(values).any():
        raise ValueError("a validation score is NaN; check the model and the validation data")
    return values


def _copy_rows(best: dict, state: Mapping[str, torch.Tensor], rows: np.ndarray, stacked: bool):
    """Copy `state` into `best`, only the rows (models) in `rows` when the state is stacked."""
    for name, value in state.items():
        value = value.detach()
        if not stacked or name not in best:
            best[name] = value.clone()
        else:
            index = torch.as_tensor(np.flatnonzero(rows), device=value.device)
            best[name][index] = value[index]


class EarlyStopping:
    """Track the best validation score of `n_models` models and stop after `patience` misses.

    `mode="max"` for accuracies, `"min"` for losses. A score counts as an improvement when it
    beats the best by more than `min_delta`. With `n_models > 1` a state passed to `update`
    must be stacked: every tensor has the models along its first axis.
    """

    def __init__(self, patience: int, n_models: int = 1, mode: str = "max", min_delta: float = 0.0):
        if int(patience) != patience or patience < 1:
            raise ValueError(f"patience must be a positive integer, got {patience!r}")
        if int(n_models) != n_models or n_models < 1:
            raise ValueError(f"n_models must be a positive integer, got {n_models!r}")
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be non-negative, got {min_delta!r}")
        self.patience, self.n_models = int(patience), int(n_models)
        self.mode, self.min_delta = mode, min_delta
        self._sign = 1.0 if mode == "max" else -1.0
        self.best_score = np.full(self.n_models, -np.inf * self._sign)
        self.best_evaluation = np.full(self.n_models, -1)
        self.misses = np.zeros(self.n_models, dtype=int)
        self.evaluations = 0
        self._best_state: dict[str, torch.Tensor] = {}

    def update(self, scores, state: Mapping[str, torch.Tensor] | None = None) -> np.ndarray:
        """Record one evaluation; return which models improved (a boolean array)."""
        values = _as_scores(scores, self.n_models)
        improved = self._sign * (values - self.best_score) > self.min_delta
        improved &= ~self.stopped
        self.best_score = np.where(improved, values, self.best_score)
        self.best_evaluation = np.where(improved, self.evaluations, self.best_evaluation)
        self.misses = np.where(improved, 0, self.misses + (~self.stopped))
        if state is not None and improved.any():
            _copy_rows(self._best_state, state, improved, stacked=self.n_models > 1)
        self.evaluations += 1
        return improved

    @property
    def stopped(self) -> np.ndarray:
        """Which models have had `patience` evaluations in a row without improving."""
        return self.misses >= self.patience

    @property
    def all_stopped(self) -> bool:
        return bool(self.stopped.all())

    @property
    def best_state(self) -> dict[str, torch.Tensor]:
        """The state at each model's best evaluation (stacked when several models)."""
        if not self._best_state:
            raise RuntimeError("no state was recorded: pass state=... to update()")
        return {name: value.clone() for name, value in self._best_state.items()}
